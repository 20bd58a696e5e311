package certs_test

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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
