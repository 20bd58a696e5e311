package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Origin paths. The cache workloads use the cacheable ones; everything else
// uses the no-store ones, so that an edge with a cache still proxies them.
const (
	pathCached1K    = "/1k"
	pathCached100K  = "/100k"
	pathNoStore1K   = "/nostore/1k"
	pathNoStore100K = "/nostore/100k"
	pathAPI         = "/api"
)

// origin is the Go HTTP server behind every proxy, in the harness's process.
type origin struct {
	ln    net.Listener
	srv   *http.Server
	hits  atomic.Int64 // requests served, so cache runs can show the origin stayed quiet
	conns atomic.Int64 // connections accepted, so proxy runs can show upstream keepalive works
	done  chan error
}

// newOrigin listens on a loopback port; Start serves.
func newOrigin() (*origin, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("origin: %w", err)
	}
	o := &origin{ln: ln, done: make(chan error, 1)}
	o.srv = &http.Server{
		Handler: o.handler(),
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				o.conns.Add(1)
			}
		},
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	return o, nil
}

// addr is host:port of the origin.
func (o *origin) addr() string { return o.ln.Addr().String() }

// port is the origin's TCP port.
func (o *origin) port() int { return o.ln.Addr().(*net.TCPAddr).Port }

// Start serves until Close.
func (o *origin) Start() {
	go func() { o.done <- o.srv.Serve(o.ln) }()
}

// Close stops serving.
func (o *origin) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := o.srv.Shutdown(ctx)
	if serveErr := <-o.done; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}

func (o *origin) handler() http.Handler {
	body1K := bytes.Repeat([]byte("rampart!"), 1024/8)
	body100K := bytes.Repeat([]byte("rampart!"), 100*1024/8)
	static := func(body []byte, cacheControl string) http.HandlerFunc {
		size := strconv.Itoa(len(body))
		return func(w http.ResponseWriter, r *http.Request) {
			o.hits.Add(1)
			h := w.Header()
			h["Content-Type"] = []string{"text/plain; charset=utf-8"}
			h["Content-Length"] = []string{size}
			h["Cache-Control"] = []string{cacheControl}
			_, _ = w.Write(body)
		}
	}
	const cacheable = "public, max-age=3600"
	mux := http.NewServeMux()
	mux.Handle("GET "+pathCached1K, static(body1K, cacheable))
	mux.Handle("GET "+pathCached100K, static(body100K, cacheable))
	mux.Handle("GET "+pathNoStore1K, static(body1K, "no-store"))
	mux.Handle("GET "+pathNoStore100K, static(body100K, "no-store"))
	mux.HandleFunc("POST "+pathAPI, func(w http.ResponseWriter, r *http.Request) {
		o.hits.Add(1)
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		h["Cache-Control"] = []string{"no-store"}
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
		_, _ = w.Write(body)
	})
	return mux
}
