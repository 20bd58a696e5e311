package accounts

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/controlsvc/buckets"
	"github.com/rampart-edge/rampart/controlsvc/internal/natstest"
)

func newStore(t *testing.T) (*Store, jetstream.KeyValue) {
	t.Helper()
	js, _, _ := natstest.Buckets(t)
	kv, err := js.KeyValue(context.Background(), buckets.State)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(kv, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s.cost = bcrypt.MinCost
	return s, kv
}

func TestUsers(t *testing.T) {
	ctx := context.Background()
	s, kv := newStore(t)
	if has, err := s.HasUsers(ctx); err != nil || has {
		t.Fatalf("HasUsers = %v, %v", has, err)
	}

	// Bad input names every field at fault and stores nothing.
	_, err := s.CreateUser(ctx, "Bad Name", "short")
	fes := api.AsFieldErrors(err)
	if len(fes) != 2 || fes[0].Field != "name" || fes[1].Field != "password" {
		t.Fatalf("errors = %v", err)
	}
	if _, err := s.CreateUser(ctx, "ops", string(bytes.Repeat([]byte("x"), MaxPasswordLength+1))); api.AsFieldErrors(err) == nil {
		t.Fatal("a password over bcrypt's 72 bytes was accepted")
	}
	if us, _ := s.Users(ctx); len(us) != 0 {
		t.Fatalf("users after bad input: %+v", us)
	}

	const pw = "correct horse battery"
	u, err := s.CreateUser(ctx, "ops", pw)
	if err != nil || u.Name != "ops" || u.Hash != "" {
		t.Fatalf("create = %+v, %v", u, err)
	}
	if _, err := s.CreateUser(ctx, "ops", pw); !errors.Is(err, ErrUserExists) {
		t.Fatalf("duplicate: %v", err)
	}
	// Stored as a bcrypt hash, never the password.
	e, err := kv.Get(ctx, "user.ops")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(e.Value(), []byte(pw)) || !bytes.Contains(e.Value(), []byte(`"hash":"$2a$`)) {
		t.Fatalf("stored user: %s", e.Value())
	}
	for _, c := range []struct {
		name, pw string
		ok       bool
	}{{"ops", pw, true}, {"ops", pw + "x", false}, {"nobody", pw, false}, {"../x", pw, false}} {
		err := s.CheckPassword(ctx, c.name, c.pw)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrBadCredentials)) {
			t.Errorf("CheckPassword(%q, %q) = %v", c.name, c.pw, err)
		}
	}
	us, err := s.Users(ctx)
	if err != nil || len(us) != 1 || us[0].Hash != "" {
		t.Fatalf("users = %+v, %v", us, err)
	}
	if err := s.DeleteUser(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckPassword(ctx, "ops", pw); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("deleted user signs in: %v", err)
	}
}

func TestSessions(t *testing.T) {
	ctx := context.Background()
	s, kv := newStore(t)
	now := time.Now()
	s.now = func() time.Time { return now }

	sess, err := s.NewSession(ctx, "ops")
	if err != nil {
		t.Fatal(err)
	}
	if len(sess.ID) < 40 || len(sess.CSRF) < 40 || sess.ID == sess.CSRF {
		t.Fatalf("session = %+v", sess)
	}
	// The bucket holds a hash of the id, not the cookie value.
	if _, err := kv.Get(ctx, "session."+sess.ID); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("session stored under its id: %v", err)
	}
	got, err := s.Session(ctx, sess.ID)
	if err != nil || got.User != "ops" || !got.CSRFMatches(sess.CSRF) || got.CSRFMatches("") || got.CSRFMatches(sess.ID) {
		t.Fatalf("session = %+v, %v", got, err)
	}
	if _, err := s.Session(ctx, "forged"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("forged id: %v", err)
	}

	// Expiry.
	now = now.Add(time.Hour)
	if _, err := s.Session(ctx, sess.ID); !errors.Is(err, ErrNoSession) {
		t.Fatalf("expired session: %v", err)
	}
	now = now.Add(-time.Hour)

	// Sign-out.
	if err := s.EndSession(ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, sess.ID); !errors.Is(err, ErrNoSession) {
		t.Fatalf("ended session: %v", err)
	}
	if err := s.EndSession(ctx, "unknown"); err != nil {
		t.Fatalf("ending an unknown session: %v", err)
	}
}

func TestLimiter(t *testing.T) {
	now := time.Unix(0, 0)
	l := NewLimiter(3, time.Minute)
	l.now = func() time.Time { return now }
	for range 3 {
		if ok, _ := l.Allow("ip"); !ok {
			t.Fatal("refused before the limit")
		}
		l.Fail("ip")
	}
	ok, wait := l.Allow("ip")
	if ok || wait != time.Minute {
		t.Fatalf("after 3 failures: %v, %v", ok, wait)
	}
	if ok, _ := l.Allow("other"); !ok {
		t.Fatal("another key is refused")
	}
	now = now.Add(time.Minute)
	if ok, _ := l.Allow("ip"); !ok {
		t.Fatal("still refused after the window")
	}
	l.Fail("ip")
	l.Reset("ip")
	if len(l.failures) != 0 {
		t.Fatalf("failures kept: %v", l.failures)
	}
	l.MaxKeys = 2
	l.Fail("a")
	l.Fail("b")
	l.Fail("c")
	if len(l.failures) > 2 {
		t.Fatalf("%d keys tracked over the cap", len(l.failures))
	}
}
