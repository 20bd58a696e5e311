package certs_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/certs"
)

// pointer fails the onboarding check until pointed is set.
type pointer struct{ pointed atomic.Bool }

func (p *pointer) Check(_ context.Context, host string) error {
	if p.pointed.Load() {
		return nil
	}
	return errors.New(host + ` does not point at the edge: add "` + host + `. CNAME ` + host + `.edge.test."`)
}

func TestOnboardingGatesIssuanceAndShowsStatus(t *testing.T) {
	e := newEnv(t)
	issuer := &counting{Issuer: e.ca}
	check := &pointer{}
	m, err := certs.New(certs.Config{Sites: e.sitesKV, Certs: e.certsKV, Issuer: issuer, SealKey: e.edgeKey.PublicKey(),
		Onboarding: check, Status: e.state, RetryMin: 20 * time.Millisecond, RetryMax: 50 * time.Millisecond,
		Logger: slog.New(slog.NewJSONHandler(e.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	const host = "shop.example"
	e.createSite(t, host)
	var st *certs.Issuance
	deadlineAt := time.Now().Add(deadline)
	for st == nil || st.Failures < 2 {
		if time.Now().After(deadlineAt) {
			t.Fatalf("no failing status after two attempts: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
		if st, err = certs.ReadIssuance(context.Background(), e.state, host); err != nil {
			t.Fatal(err)
		}
	}
	if st.State != certs.IssuanceFailing || !strings.Contains(st.Error, `"shop.example. CNAME shop.example.edge.test."`) || st.NextAttempt.IsZero() {
		t.Fatalf("status %+v does not say which record is missing", st)
	}
	if n := issuer.n.Load(); n != 0 {
		t.Fatalf("%d certificates ordered for a hostname that does not point at the edge", n)
	}

	check.pointed.Store(true)
	e.checkRecord(t, record(t, waitCert(t, e.certsKV, host, "issue once pointed", present)), host)
	// The status follows the certificate.
	for {
		if st, err = certs.ReadIssuance(context.Background(), e.state, host); err == nil && st != nil && st.State == certs.IssuanceOK && st.Error == "" {
			break
		}
		if time.Now().After(deadlineAt) {
			t.Fatalf("status after issuing: %+v %v", st, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
