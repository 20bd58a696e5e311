package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"
)

// maxHandshakes bounds one handshake run by count as well as by time.
const maxHandshakes = 2_000_000

// handshakeTimeout bounds one connect and one handshake. It is generous, like
// wrk's timeout here, because on two shared cores a queued connection can wait
// a second or more for a turn; an error should mean a server failed.
const handshakeTimeout = 10 * time.Second

// handshakeResult is one run of full TLS handshakes.
type handshakeResult struct {
	Handshakes int64
	Errors     int64
	FirstErr   error
	Elapsed    time.Duration
	P50, P99   time.Duration // connect + handshake
}

// Rate is handshakes per second.
func (r handshakeResult) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Handshakes) / r.Elapsed.Seconds()
}

// handshakeConfig is the client side of every handshake: no session cache
// (so no resumption), X25519 only (so every server does the same key
// exchange, and none pays for a post-quantum share it would ignore), and no
// chain verification (the probe verifies once; the load measures the server).
func handshakeConfig(serverName string) *tls.Config {
	return &tls.Config{
		ServerName:         serverName,
		InsecureSkipVerify: true,
		CurvePreferences:   []tls.CurveID{tls.X25519},
		ClientSessionCache: nil,
		MinVersion:         tls.VersionTLS12,
	}
}

// runHandshakes makes new TLS connections to addr from conns goroutines for
// d (or until maxHandshakes), closing each right after its handshake.
func runHandshakes(ctx context.Context, addr, serverName string, conns int, d time.Duration) handshakeResult {
	start := time.Now()
	deadline := start.Add(d)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	cfg := handshakeConfig(serverName)
	type worker struct {
		ok, errs  int64
		firstErr  error
		latencies []time.Duration
	}
	workers := make([]worker, conns)
	perWorker := int64(maxHandshakes / conns)
	var wg sync.WaitGroup
	for i := range workers {
		w := &workers[i]
		wg.Go(func() {
			dialer := &net.Dialer{Timeout: handshakeTimeout}
			// The clock, not ctx.Err, ends the loop: a dial cut off by the
			// deadline can return before ctx's timer has fired.
			for w.ok+w.errs < perWorker && time.Now().Before(deadline) && ctx.Err() == nil {
				t0 := time.Now()
				err := handshakeOnce(ctx, dialer, addr, cfg)
				switch {
				case err == nil:
					w.ok++
					w.latencies = append(w.latencies, time.Since(t0))
				case !time.Now().Before(deadline) || ctx.Err() != nil:
					// Cut off by the end of the run, not a server error.
				default:
					w.errs++
					if w.firstErr == nil {
						w.firstErr = err
					}
				}
			}
		})
	}
	wg.Wait()
	r := handshakeResult{Elapsed: time.Since(start)}
	var all []time.Duration
	for _, w := range workers {
		r.Handshakes += w.ok
		r.Errors += w.errs
		if r.FirstErr == nil {
			r.FirstErr = w.firstErr
		}
		all = append(all, w.latencies...)
	}
	slices.Sort(all)
	r.P50 = percentile(all, 0.50)
	r.P99 = percentile(all, 0.99)
	return r
}

// handshakeOnce connects, completes a full handshake and closes with a reset,
// so a run leaves no TIME_WAIT sockets behind to exhaust loopback ports.
func handshakeOnce(ctx context.Context, dialer *net.Dialer, addr string, cfg *tls.Config) error {
	raw, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	defer raw.Close()
	conn := tls.Client(raw, cfg)
	hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	return conn.HandshakeContext(hctx)
}

// probeTLS makes one verified handshake to addr, so the load that follows
// (which skips verification) is known to reach a server with the right cert.
func probeTLS(ctx context.Context, addr, serverName string, cert *testCert) (*tls.ConnectionState, error) {
	dialer := &tls.Dialer{
		NetDialer: &net.Dialer{Timeout: 2 * time.Second},
		Config:    &tls.Config{ServerName: serverName, RootCAs: cert.Roots, CurvePreferences: []tls.CurveID{tls.X25519}},
	}
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
	}
	defer conn.Close()
	tc, ok := conn.(*tls.Conn)
	if !ok {
		return nil, errors.New("not a TLS connection")
	}
	st := tc.ConnectionState()
	if st.PeerCertificates[0].PublicKeyAlgorithm.String() != "ECDSA" {
		return nil, fmt.Errorf("TLS: server presented a %v key, want ECDSA", st.PeerCertificates[0].PublicKeyAlgorithm)
	}
	return &st, nil
}

// percentile of sorted durations, nearest rank; 0 for none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
