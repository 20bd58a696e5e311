package certs_test

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/controlsvc/buckets"
	"github.com/rampart-edge/rampart/controlsvc/certs"
	"github.com/rampart-edge/rampart/controlsvc/certs/labca"
	"github.com/rampart-edge/rampart/controlsvc/internal/natstest"
	"github.com/rampart-edge/rampart/controlsvc/sites"
)

const deadline = 15 * time.Second

// clock is a movable clock shared by the manager and the lab CA.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// syncBuffer collects log output written from the manager's goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type env struct {
	sites    *sites.Store
	sitesKV  jetstream.KeyValue
	certsKV  jetstream.KeyValue
	state    jetstream.KeyValue
	ca       *labca.CA
	edgeKey  *ecdh.PrivateKey
	clock    *clock
	logs     *syncBuffer
	interval time.Duration
}

func newEnv(t *testing.T) *env {
	t.Helper()
	js, sitesKV, certsKV := natstest.Buckets(t)
	e := &env{sites: sites.New(sitesKV), sitesKV: sitesKV, certsKV: certsKV, clock: &clock{}, logs: &syncBuffer{}, interval: time.Hour}
	var err error
	if e.state, err = js.KeyValue(context.Background(), buckets.State); err != nil {
		t.Fatal(err)
	}
	if e.ca, err = labca.New(labca.Config{Dir: t.TempDir(), Now: e.clock.Now}); err != nil {
		t.Fatal(err)
	}
	if e.edgeKey, err = ecdh.X25519().GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if strings.Contains(e.logs.String(), "PRIVATE KEY") {
			t.Error("a private key was logged")
		}
	})
	return e
}

// start runs a manager with issuer until the test ends.
func (e *env) start(t *testing.T, issuer certs.Issuer) {
	t.Helper()
	m, err := certs.New(certs.Config{
		Sites:         e.sitesKV,
		Certs:         e.certsKV,
		Issuer:        issuer,
		SealKey:       e.edgeKey.PublicKey(),
		CheckInterval: e.interval,
		RetryMin:      5 * time.Millisecond,
		RetryMax:      20 * time.Millisecond,
		Logger:        slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:           e.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func (e *env) createSite(t *testing.T, host string) {
	t.Helper()
	if _, err := e.sites.Create(context.Background(), api.Site{Hostname: host, Origins: []api.Origin{{URL: "https://origin.example"}}}); err != nil {
		t.Fatal(err)
	}
}

// waitCert watches the certificate of host until ok accepts its latest
// entry (nil when there is none, or a delete marker), and returns it.
func waitCert(t *testing.T, kv jetstream.KeyValue, host string, what string, ok func(jetstream.KeyValueEntry) bool) jetstream.KeyValueEntry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	w, err := kv.Watch(ctx, host)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var last jetstream.KeyValueEntry
	for {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: no certificate entry for %s passed within %v (last: %v)", what, host, deadline, describe(last))
		case e := <-w.Updates():
			if e != nil {
				last = e
			}
			if ok(last) {
				return last
			}
		}
	}
}

func describe(e jetstream.KeyValueEntry) string {
	if e == nil {
		return "none"
	}
	return e.Operation().String()
}

func present(e jetstream.KeyValueEntry) bool {
	return e != nil && e.Operation() == jetstream.KeyValuePut
}

func record(t *testing.T, e jetstream.KeyValueEntry) api.CertRecord {
	t.Helper()
	rec, err := api.ParseCertRecord(e.Value())
	if err != nil {
		t.Fatalf("stored record: %v", err)
	}
	return rec
}

// checkRecord opens the sealed key with the edge key and checks that it
// belongs to a chain that verifies for host against the lab CA.
func (e *env) checkRecord(t *testing.T, rec api.CertRecord, host string) *x509.Certificate {
	t.Helper()
	if rec.V != api.Version || rec.Hostname != host || rec.Issuer != labca.Name {
		t.Errorf("record v=%d hostname=%q issuer=%q", rec.V, rec.Hostname, rec.Issuer)
	}
	keyPEM, err := api.Open(e.edgeKey, rec.KeySealed)
	if err != nil {
		t.Fatalf("open sealed key: %v", err)
	}
	if _, err := tls.X509KeyPair([]byte(rec.ChainPEM), keyPEM); err != nil {
		t.Fatalf("sealed key does not match the chain: %v", err)
	}
	b, _ := pem.Decode([]byte(rec.ChainPEM))
	leaf, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(e.ca.CertPEM())
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host, CurrentTime: e.clock.Now()}); err != nil {
		t.Fatalf("chain does not verify for %s: %v", host, err)
	}
	if !rec.NotBefore.Equal(leaf.NotBefore) || !rec.NotAfter.Equal(leaf.NotAfter) {
		t.Errorf("record validity %v-%v, certificate %v-%v", rec.NotBefore, rec.NotAfter, leaf.NotBefore, leaf.NotAfter)
	}
	return leaf
}

func TestIssueRenewDelete(t *testing.T) {
	e := newEnv(t)
	e.interval = 10 * time.Millisecond
	e.start(t, e.ca)
	const host = "xn--bcher-kva.example"

	e.createSite(t, "Bücher.example")
	first := waitCert(t, e.certsKV, host, "issue", present)
	rec := record(t, first)
	e.checkRecord(t, rec, host)

	st, err := certs.ReadStatus(context.Background(), e.certsKV, host)
	if err != nil || st.Issuer != labca.Name || !st.NotAfter.Equal(rec.NotAfter) {
		t.Fatalf("Status = %+v, %v", st, err)
	}

	// 25 of 30 days later less than a third of the lifetime is left.
	e.clock.Advance(25 * 24 * time.Hour)
	renewed := waitCert(t, e.certsKV, host, "renew", func(en jetstream.KeyValueEntry) bool {
		return present(en) && en.Revision() > first.Revision()
	})
	rec2 := record(t, renewed)
	e.checkRecord(t, rec2, host)
	if !rec2.NotAfter.After(rec.NotAfter) {
		t.Fatalf("renewed NotAfter %v not after %v", rec2.NotAfter, rec.NotAfter)
	}

	if err := e.sites.Delete(context.Background(), host); err != nil {
		t.Fatal(err)
	}
	waitCert(t, e.certsKV, host, "delete", func(en jetstream.KeyValueEntry) bool { return !present(en) })
	if _, err := certs.ReadStatus(context.Background(), e.certsKV, host); !errors.Is(err, certs.ErrNotFound) {
		t.Fatalf("Status after delete: %v, want ErrNotFound", err)
	}
}

// put stores a record for key made from an issued certificate.
func (e *env) put(t *testing.T, key, certHost string, issuer certs.Issuer) uint64 {
	t.Helper()
	chain, keyPEM, err := issuer.Issue(context.Background(), certHost)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := api.SealFor(e.edgeKey.PublicKey(), keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(chain)
	leaf, _ := x509.ParseCertificate(b.Bytes)
	data, _ := json.Marshal(api.CertRecord{V: api.Version, Hostname: key, ChainPEM: string(chain), KeySealed: sealed,
		Issuer: leaf.Issuer.CommonName, NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter})
	rev, err := e.certsKV.Put(context.Background(), key, data)
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

func TestReconcilesOnStart(t *testing.T) {
	e := newEnv(t)
	short, err := labca.New(labca.Config{Dir: t.TempDir(), Validity: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"keep.example", "wrong.example", "expiring.example"} {
		e.createSite(t, h)
	}
	keepRev := e.put(t, "keep.example", "keep.example", e.ca)
	e.put(t, "wrong.example", "other.example", e.ca)
	expiringRev := e.put(t, "expiring.example", "expiring.example", short)
	e.put(t, "orphan.example", "orphan.example", e.ca) // its site was deleted while no manager ran

	e.start(t, e.ca)

	e.checkRecord(t, record(t, waitCert(t, e.certsKV, "wrong.example", "replace wrong hostname", func(en jetstream.KeyValueEntry) bool {
		return present(en) && coversHost(en, "wrong.example")
	})), "wrong.example")
	en := waitCert(t, e.certsKV, "expiring.example", "replace expiring", func(en jetstream.KeyValueEntry) bool {
		return present(en) && en.Revision() > expiringRev
	})
	e.checkRecord(t, record(t, en), "expiring.example")
	waitCert(t, e.certsKV, "orphan.example", "delete orphan", func(en jetstream.KeyValueEntry) bool { return !present(en) })

	// A site created now is handled after the start-up pass, so once its
	// certificate is there the valid one has been looked at and kept.
	e.createSite(t, "later.example")
	waitCert(t, e.certsKV, "later.example", "issue", present)
	keep, err := e.certsKV.Get(context.Background(), "keep.example")
	if err != nil || keep.Revision() != keepRev {
		t.Fatalf("valid certificate was replaced (revision %d -> %v, %v)", keepRev, keep, err)
	}
}

func coversHost(en jetstream.KeyValueEntry, host string) bool {
	rec, err := api.ParseCertRecord(en.Value())
	if err != nil {
		return false
	}
	b, _ := pem.Decode([]byte(rec.ChainPEM))
	leaf, err := x509.ParseCertificate(b.Bytes)
	return err == nil && leaf.VerifyHostname(host) == nil
}

// flaky fails its first n issues.
type flaky struct {
	certs.Issuer
	n     int
	calls atomic.Int32
}

func (f *flaky) Issue(ctx context.Context, host string) ([]byte, []byte, error) {
	if int(f.calls.Add(1)) <= f.n {
		return nil, nil, errors.New("issuer unavailable")
	}
	return f.Issuer.Issue(ctx, host)
}

func TestRetriesFailures(t *testing.T) {
	e := newEnv(t)
	issuer := &flaky{Issuer: e.ca, n: 3}
	e.start(t, issuer)
	e.createSite(t, "retry.example")
	e.checkRecord(t, record(t, waitCert(t, e.certsKV, "retry.example", "issue after failures", present)), "retry.example")
	if got := issuer.calls.Load(); got != 4 {
		t.Errorf("issuer called %d times, want 4", got)
	}
	if n := strings.Count(e.logs.String(), "certificate reconcile failed"); n != 3 {
		t.Errorf("%d failures logged, want 3:\n%s", n, e.logs)
	}
}

// mismatched returns a key that does not belong to the certificate, and
// closes third on its third call.
type mismatched struct {
	ca    *labca.CA
	calls atomic.Int32
	third chan struct{}
}

func (m *mismatched) Issue(ctx context.Context, host string) ([]byte, []byte, error) {
	if m.calls.Add(1) == 3 {
		close(m.third)
	}
	chain, _, err := m.ca.Issue(ctx, host)
	if err != nil {
		return nil, nil, err
	}
	_, key, err := m.ca.Issue(ctx, host)
	return chain, key, err
}

func TestRefusesMismatchedPair(t *testing.T) {
	e := newEnv(t)
	issuer := &mismatched{ca: e.ca, third: make(chan struct{})}
	e.start(t, issuer)
	e.createSite(t, "pair.example")
	// By the third call two attempts have failed, stored nothing and been logged.
	select {
	case <-issuer.third:
	case <-time.After(deadline):
		t.Fatal("no retry after a mismatched pair")
	}
	if _, err := e.certsKV.Get(context.Background(), "pair.example"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("a mismatched pair was stored: %v", err)
	}
	if n := strings.Count(e.logs.String(), "do not form a pair"); n < 2 {
		t.Fatalf("mismatch logged %d times, want 2: %s", n, e.logs)
	}
}
