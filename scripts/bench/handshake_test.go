package main

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// startTLSServer serves the bench cert over TLS, HTTP/2 included.
func startTLSServer(t *testing.T, cert *testCert) *httptest.Server {
	t.Helper()
	pair, err := tls.X509KeyPair(cert.ChainPEM, cert.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 1024))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // failed handshakes are the point of some tests
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestHandshakes(t *testing.T) {
	cert, err := newTestCert(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := startTLSServer(t, cert)
	addr := srv.Listener.Addr().String()
	ctx := context.Background()

	st, err := probeTLS(ctx, addr, benchHost, cert)
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != tls.VersionTLS13 || st.DidResume {
		t.Errorf("probe: version %x resumed %v, want a full TLS 1.3 handshake", st.Version, st.DidResume)
	}
	if _, err := probeTLS(ctx, addr, "other.example", cert); err == nil {
		t.Error("probe with a name the cert does not cover: no error")
	}

	start := time.Now()
	r := runHandshakes(ctx, addr, benchHost, 4, 300*time.Millisecond)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("a 300ms run took %v", took)
	}
	if r.Handshakes == 0 || r.Errors != 0 || r.FirstErr != nil {
		t.Fatalf("handshakes %d errors %d (%v), want some and none", r.Handshakes, r.Errors, r.FirstErr)
	}
	if r.Rate() <= 0 || r.P50 <= 0 || r.P99 < r.P50 {
		t.Errorf("rate %v p50 %v p99 %v", r.Rate(), r.P50, r.P99)
	}
}

func TestHandshakesCountErrors(t *testing.T) {
	// A listener that accepts and closes: every handshake fails.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	r := runHandshakes(context.Background(), ln.Addr().String(), benchHost, 2, 200*time.Millisecond)
	if r.Handshakes != 0 || r.Errors == 0 || r.FirstErr == nil {
		t.Errorf("handshakes %d errors %d (%v), want none and some", r.Handshakes, r.Errors, r.FirstErr)
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i))
	}
	for p, want := range map[float64]time.Duration{0.5: 50, 0.99: 99, 1: 100, 0: 1} {
		if got := percentile(ds, p); got != want {
			t.Errorf("percentile(%v) = %v, want %v", p, got, want)
		}
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("percentile of nothing = %v", got)
	}
}
