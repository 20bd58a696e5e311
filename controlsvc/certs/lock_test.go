package certs_test

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-edge/rampart/controlsvc/buckets"
	"github.com/rampart-edge/rampart/controlsvc/certs"
	"github.com/rampart-edge/rampart/controlsvc/internal/natstest"
)

// counting counts the certificates it issues.
type counting struct {
	certs.Issuer
	n atomic.Int32
}

func (c *counting) Issue(ctx context.Context, host string) ([]byte, []byte, error) {
	c.n.Add(1)
	return c.Issuer.Issue(ctx, host)
}

func TestKVLockExcludes(t *testing.T) {
	js, _, _ := natstest.Buckets(t)
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	state, err := js.KeyValue(ctx, buckets.State)
	if err != nil {
		t.Fatal(err)
	}
	a, b := certs.NewKVLock(state, time.Minute), certs.NewKVLock(state, time.Minute)
	if err := a.Lock(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { got <- b.Lock(ctx, "x") }()
	// b waits while a holds the lock: its Lock has not returned by the
	// time a second lock on another name has been taken and released.
	if err := a.Lock(ctx, "y"); err != nil {
		t.Fatal(err)
	}
	a.Unlock(ctx, "y")
	select {
	case err := <-got:
		t.Fatalf("second Lock returned while the first was held: %v", err)
	default:
	}
	if err := a.Unlock(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("Lock after Unlock: %v", err)
	}

	// A holder that dies leaves a lock that expires by itself.
	short := certs.NewKVLock(state, time.Second)
	if err := short.Lock(ctx, "z"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := b.Lock(ctx, "z"); err != nil {
		t.Fatalf("Lock after expiry: %v", err)
	}
	t.Logf("expired lock taken over after %v", time.Since(start))
}

func TestTwoManagersIssueOnce(t *testing.T) {
	e := newEnv(t)
	issuer := &counting{Issuer: e.ca}
	for range 2 {
		m, err := certs.New(certs.Config{Sites: e.sitesKV, Certs: e.certsKV, Issuer: issuer, SealKey: e.edgeKey.PublicKey(),
			Locker: certs.NewKVLock(e.state, time.Minute),
			Logger: slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		if err != nil {
			t.Fatal(err)
		}
		runCtx, stop := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- m.Run(runCtx) }()
		t.Cleanup(func() { stop(); <-done })
	}
	hosts := []string{"a.example", "b.example", "c.example"}
	for _, h := range hosts {
		e.createSite(t, h)
	}
	// Each site is issued by one manager; the other, once it has the
	// lock, finds the certificate current.
	deadlineAt := time.Now().Add(deadline)
	for _, h := range hosts {
		waitCert(t, e.certsKV, h, "issue", present)
		for !strings.Contains(e.logs.String(), `"msg":"certificate is current","site":"`+h+`"`) {
			if time.Now().After(deadlineAt) {
				t.Fatalf("the second manager never found %s current:\n%s", h, e.logs)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if n := issuer.n.Load(); n != 3 {
		t.Fatalf("%d certificates issued for 3 sites by two managers", n)
	}
}

// laggingSites is the sites bucket seen through a watch that is behind: it
// holds its initial-values marker until release is closed and every update
// after it until later is closed.
type laggingSites struct {
	jetstream.KeyValue
	atMarker, release, later chan struct{}
}

type laggingWatcher struct {
	jetstream.KeyWatcher
	out chan jetstream.KeyValueEntry
}

func (w *laggingWatcher) Updates() <-chan jetstream.KeyValueEntry { return w.out }

func (s *laggingSites) WatchAll(ctx context.Context, opts ...jetstream.WatchOpt) (jetstream.KeyWatcher, error) {
	w, err := s.KeyValue.WatchAll(ctx, opts...)
	if err != nil {
		return nil, err
	}
	lw := &laggingWatcher{KeyWatcher: w, out: make(chan jetstream.KeyValueEntry)}
	go func() {
		defer close(lw.out)
		marked := false
		for e := range w.Updates() {
			switch {
			case e == nil:
				close(s.atMarker)
				<-s.release
				marked = true
			case marked:
				<-s.later
			}
			select {
			case lw.out <- e:
			case <-ctx.Done():
				return
			}
		}
	}()
	return lw, nil
}

// A manager whose watch of the sites is behind finds, at start-up, the
// certificate another replica issued for a site it has not seen yet: it
// keeps it rather than deleting it as an orphan.
func TestBehindWatchKeepsCertificate(t *testing.T) {
	e := newEnv(t)
	lag := &laggingSites{KeyValue: e.sitesKV, atMarker: make(chan struct{}), release: make(chan struct{}), later: make(chan struct{})}
	e.sitesKV = lag
	e.start(t, e.ca)
	<-lag.atMarker
	e.createSite(t, "a.example")
	rev := e.put(t, "a.example", "a.example", e.ca) // issued by the other replica
	close(lag.release)
	deadlineAt := time.Now().Add(deadline)
	for !strings.Contains(e.logs.String(), `"site":"a.example"`) {
		if time.Now().After(deadlineAt) {
			t.Fatalf("the manager never looked at a.example:\n%s", e.logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if strings.Contains(e.logs.String(), "certificate deleted") {
		t.Fatalf("a live site's certificate was deleted as an orphan:\n%s", e.logs)
	}
	close(lag.later)
	for !strings.Contains(e.logs.String(), `"msg":"certificate is current","site":"a.example"`) {
		if time.Now().After(deadlineAt) {
			t.Fatalf("the manager never checked a.example once its site arrived:\n%s", e.logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if cur, err := e.certsKV.Get(context.Background(), "a.example"); err != nil || cur.Revision() != rev {
		t.Fatalf("certificate replaced or lost (revision %d -> %v, %v):\n%s", rev, cur, err, e.logs)
	}
}
