package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-edge/rampart/scripts/internal/tool"
	"github.com/rampart-edge/rampart/waf"
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

// Origin kinds (-origin).
const (
	originNginx = "nginx"
	originGo    = "go"
)

// origin is the HTTP server behind every proxy: the same bodies and headers
// whichever kind it is.
type origin interface {
	addr() string // host:port
	port() int
	// counts is how many requests have reached the origin and how many
	// connections it has accepted, since it started: cache runs show with
	// them that the origin stayed quiet, proxy runs that upstream
	// keepalive works.
	counts() (requests, conns int64, err error)
	Close() error
}

// goOrigin is a Go net/http origin in the harness's process (-origin go).
type goOrigin struct {
	ln    net.Listener
	srv   *http.Server
	hits  atomic.Int64 // requests that reached a handler
	conns atomic.Int64 // connections accepted
	done  chan error
}

// newGoOrigin listens on a loopback port; Start serves.
func newGoOrigin() (*goOrigin, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("origin: %w", err)
	}
	o := &goOrigin{ln: ln, done: make(chan error, 1)}
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

func (o *goOrigin) addr() string { return o.ln.Addr().String() }

func (o *goOrigin) port() int { return o.ln.Addr().(*net.TCPAddr).Port }

func (o *goOrigin) counts() (requests, conns int64, err error) {
	return o.hits.Load(), o.conns.Load(), nil
}

// Start serves until Close.
func (o *goOrigin) Start() {
	go func() { o.done <- o.srv.Serve(o.ln) }()
}

// Close stops serving.
func (o *goOrigin) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := o.srv.Shutdown(ctx)
	if serveErr := <-o.done; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}

// originBody is one of the origin's GET answers.
type originBody struct {
	path, cacheControl string
	body               []byte
}

// originBodies are the origin's GET answers (text/plain).
func originBodies() []originBody {
	body1K := bytes.Repeat([]byte("rampart!"), 1024/8)
	body100K := bytes.Repeat([]byte("rampart!"), 100*1024/8)
	const cacheable = "public, max-age=3600"
	return []originBody{
		{pathCached1K, cacheable, body1K},
		{pathCached100K, cacheable, body100K},
		{pathNoStore1K, "no-store", body1K},
		{pathNoStore100K, "no-store", body100K},
	}
}

func (o *goOrigin) handler() http.Handler {
	static := func(body []byte, cacheControl string) http.HandlerFunc {
		size := strconv.Itoa(len(body))
		return func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h["Content-Type"] = []string{"text/plain; charset=utf-8"}
			h["Content-Length"] = []string{size}
			h["Cache-Control"] = []string{cacheControl}
			_, _ = w.Write(body)
		}
	}
	mux := http.NewServeMux()
	for _, b := range originBodies() {
		mux.Handle("GET "+b.path, static(b.body, b.cacheControl))
	}
	mux.HandleFunc("POST "+pathAPI, func(w http.ResponseWriter, r *http.Request) {
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
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.hits.Add(1)
		mux.ServeHTTP(w, r)
	})
}

// nginxOrigin is nginx serving the same answers from files (-origin nginx,
// peers/origin.conf.tmpl): it costs the CPUs it shares with the proxy under
// test about half what the Go origin does a request, which leaves a fast
// proxy more of them.
type nginxOrigin struct {
	srv        *server
	httpPort   int
	statusPort int
	client     *http.Client
	mu         sync.Mutex
	polls      int64 // status requests made: nginx counts each, and its connection
}

// startNginxOrigin writes the bodies under dir/www and starts nginx on two
// loopback ports: the origin's and its counters'.
func startNginxOrigin(ctx context.Context, dir string, pkgs packages) (*nginxOrigin, error) {
	www := filepath.Join(dir, "www")
	files := map[string][]byte{pathAPI: waf.OrdersJSON()}
	for _, b := range originBodies() {
		files[b.path] = b.body
	}
	for p, body := range files {
		name := filepath.Join(www, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return nil, fmt.Errorf("origin: %w", err)
		}
		if err := os.WriteFile(name, body, 0o644); err != nil {
			return nil, fmt.Errorf("origin: %w", err)
		}
	}
	cfg := peerConfig{Dir: dir}
	var err error
	if cfg.HTTPPort, err = tool.FreePort(); err == nil {
		cfg.StatusPort, err = tool.FreePort()
	}
	if err != nil {
		return nil, fmt.Errorf("origin: %w", err)
	}
	srv := startPeer(ctx, originSpec(), cfg, pkgs)
	if srv.Err != nil {
		return nil, fmt.Errorf("origin: nginx: %w", srv.Err)
	}
	return &nginxOrigin{
		srv: srv, httpPort: cfg.HTTPPort, statusPort: cfg.StatusPort,
		// A new connection per poll, so that each poll adds exactly one
		// connection and one request to nginx's counters.
		client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
	}, nil
}

// originSpec is how the nginx origin runs.
func originSpec() peerSpec {
	return peerSpec{
		ID: srvOrigin, Label: originLabel, Packages: []string{"nginx"},
		Files:    []peerFile{{"origin.conf.tmpl", "nginx.conf"}},
		Argv:     []string{"nginx", "-p", "{{.Dir}}", "-e", "{{.Dir}}/error.log", "-c", "{{.Dir}}/nginx.conf"},
		ReadyFor: 10 * time.Second,
	}
}

func (o *nginxOrigin) addr() string { return fmt.Sprintf("127.0.0.1:%d", o.httpPort) }

func (o *nginxOrigin) port() int { return o.httpPort }

// counts reads nginx's stub_status, less its own polls.
func (o *nginxOrigin) counts() (requests, conns int64, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.polls++
	resp, err := o.client.Get(fmt.Sprintf("http://127.0.0.1:%d/status", o.statusPort))
	if err != nil {
		return 0, 0, fmt.Errorf("origin counters: %w", err)
	}
	defer resp.Body.Close()
	text, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return 0, 0, fmt.Errorf("origin counters: %w", err)
	}
	accepts, requests, err := parseStubStatus(string(text))
	if err != nil {
		return 0, 0, fmt.Errorf("origin counters: %w", err)
	}
	return requests - o.polls, accepts - o.polls, nil
}

// parseStubStatus reads the accepted connections and the requests from
// nginx's stub_status page:
//
//	Active connections: 1
//	server accepts handled requests
//	 2 2 3
//	Reading: 0 Writing: 1 Waiting: 0
func parseStubStatus(text string) (accepts, requests int64, err error) {
	_, rest, ok := strings.Cut(text, "server accepts handled requests\n")
	if !ok {
		return 0, 0, fmt.Errorf("not a stub_status page: %.80q", text)
	}
	line, _, _ := strings.Cut(rest, "\n")
	f := strings.Fields(line)
	if len(f) != 3 {
		return 0, 0, fmt.Errorf("stub_status counters: want 3 numbers, got %q", line)
	}
	if accepts, err = strconv.ParseInt(f[0], 10, 64); err == nil {
		requests, err = strconv.ParseInt(f[2], 10, 64)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("stub_status counters %q: %w", line, err)
	}
	return accepts, requests, nil
}

// Close stops nginx.
func (o *nginxOrigin) Close() error {
	o.srv.stop()
	return nil
}
