package proxy

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/accesslog"
	"github.com/rampart-edge/rampart/edgeagent/catalog"
	"github.com/rampart-edge/rampart/edgeagent/h1"
)

// syncBuffer is a bytes.Buffer safe for the logger and the test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("access log line is not JSON: %v: %s", err, l)
		}
		out = append(out, m)
	}
	return out
}

type edge struct {
	h   *Handler
	cat *catalog.Catalog
	log *accesslog.Logger
	buf *syncBuffer
	srv *httptest.Server
}

func newEdge(t *testing.T, sites ...api.Site) *edge {
	t.Helper()
	e := &edge{cat: catalog.New(nil, nil), buf: &syncBuffer{}}
	for _, s := range sites {
		e.put(t, s)
	}
	e.log = accesslog.New(e.buf, "test", "n1")
	e.h = New(Config{Catalog: e.cat, Log: e.log, AllowPrivateOrigins: true, DialTimeout: time.Second, ResponseHeaderTimeout: 2 * time.Second})
	e.srv = serveH1(t, e.h)
	t.Cleanup(func() { e.srv.Close(); e.h.Close() })
	return e
}

// serveH1 serves h as the edge does (edgeagent/h1), behind an
// httptest.Server for its URL and client; setting the server's
// Config.Handler replaces h.
func serveH1(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	s := &h1.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv.Config.Handler.ServeHTTP(w, r)
	})}
	go s.Serve(srv.Listener)
	srv.URL = "http://" + srv.Listener.Addr().String()
	t.Cleanup(func() { s.Close() })
	return srv
}

func (e *edge) put(t testing.TB, s api.Site) {
	t.Helper()
	if s.V == 0 {
		s.V = api.Version
	}
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.cat.Apply(catalog.Change{Kind: catalog.KindSite, Key: s.Hostname, Value: raw}); err != nil {
		t.Fatal(err)
	}
}

func (e *edge) do(t testing.TB, method, host, path string, body io.Reader, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readAll(t testing.TB, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func site(host string, origins ...string) api.Site {
	s := api.Site{Hostname: host, HTTPS: api.HTTPSPolicy{HTTP: api.HTTPAllow}}
	for _, o := range origins {
		s.Origins = append(s.Origins, api.Origin{URL: o})
	}
	return s
}

func TestProxyForwardsWithForwardingHeaders(t *testing.T) {
	var got *http.Request
	var gotBody string
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(r.Context())
		gotBody = readAll(t, r.Body)
		w.Header().Set("X-Origin", "yes")
		w.Header().Set("Keep-Alive", "timeout=5") // hop-by-hop: must not reach the client
		w.WriteHeader(201)
		io.WriteString(w, "hello from origin")
	}))
	defer origin.Close()
	e := newEdge(t, site("www.example.com", origin.URL))

	resp := e.do(t, "POST", "www.example.com", "/a/b?q=1", strings.NewReader("payload"), map[string]string{
		"X-Forwarded-For": "6.6.6.6",  // spoofed
		"X-Real-IP":       "6.6.6.6",  // spoofed
		"X-Request-ID":    "attacker", // replaced
		"Connection":      "X-Secret",
		"X-Secret":        "hop", // named in Connection: hop-by-hop
		"X-Custom":        "kept",
	})
	if resp.StatusCode != 201 || readAll(t, resp.Body) != "hello from origin" {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if resp.Header.Get("X-Origin") != "yes" || resp.Header.Get("Keep-Alive") != "" {
		t.Errorf("response headers: %v", resp.Header)
	}
	if got.Host != "www.example.com" || got.URL.RequestURI() != "/a/b?q=1" || got.Method != "POST" || gotBody != "payload" {
		t.Errorf("origin saw host=%q uri=%q method=%q body=%q", got.Host, got.URL.RequestURI(), got.Method, gotBody)
	}
	if xff := got.Header.Values("X-Forwarded-For"); len(xff) != 1 || xff[0] != "127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q, want only the TCP peer", xff)
	}
	if got.Header.Get("X-Real-Ip") != "127.0.0.1" || got.Header.Get("True-Client-Ip") != "127.0.0.1" || got.Header.Get("X-Secret") != "" || got.Header.Get("X-Custom") != "kept" {
		t.Errorf("origin headers: %v", got.Header)
	}
	if got.Header.Get("X-Forwarded-Proto") != "http" {
		t.Errorf("X-Forwarded-Proto = %q", got.Header.Get("X-Forwarded-Proto"))
	}
	id := got.Header.Get("X-Request-Id")
	if len(id) != 32 || id != resp.Header.Get("X-Request-Id") {
		t.Errorf("request id to origin %q, to client %q", id, resp.Header.Get("X-Request-Id"))
	}
	e.log.Flush()
	lines := e.buf.lines(t)
	if len(lines) != 1 {
		t.Fatalf("want 1 access log line, got %d", len(lines))
	}
	l := lines[0]
	if l["req_id"] != id || l["site"] != "www.example.com" || l["status"] != 201.0 || l["upstream_status"] != 201.0 ||
		l["action"] != ActionProxy || l["client_ip"] != "127.0.0.1" || l["path"] != "/a/b" || l["method"] != "POST" {
		t.Errorf("access log line: %v", l)
	}
}

func TestUnknownHostIs421(t *testing.T) {
	e := newEdge(t)
	resp := e.do(t, "GET", "nobody.example", "/", nil, nil)
	body := readAll(t, resp.Body)
	if resp.StatusCode != http.StatusMisdirectedRequest || !strings.Contains(body, resp.Header.Get("X-Request-Id")) {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
}

func TestDeadOriginIs502WithRequestID(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	e := newEdge(t, site("www.example.com", dead))
	resp := e.do(t, "GET", "www.example.com", "/", nil, nil)
	body := readAll(t, resp.Body)
	id := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != http.StatusBadGateway || id == "" || !strings.Contains(body, "request id: "+id) {
		t.Fatalf("status %d id %q body %q", resp.StatusCode, id, body)
	}
	e.log.Flush()
	if l := e.buf.lines(t)[0]; l["req_id"] != id || l["action"] != ActionOriginError || l["error"] == nil {
		t.Errorf("access log: %v", l)
	}
}

func TestFailoverToNextOrigin(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	backup := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "backup") }))
	defer backup.Close()
	e := newEdge(t, site("www.example.com", dead, backup.URL))
	resp := e.do(t, "GET", "www.example.com", "/", nil, nil)
	if b := readAll(t, resp.Body); resp.StatusCode != 200 || b != "backup" {
		t.Fatalf("status %d body %q", resp.StatusCode, b)
	}
}

func TestSlowOriginIs504(t *testing.T) {
	release := make(chan struct{})
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer origin.Close()
	defer close(release)
	e := newEdge(t, site("www.example.com", origin.URL))
	e.h.cfg.ResponseHeaderTimeout = 200 * time.Millisecond
	e.h.pools.cfg.ResponseHeaderTimeout = 200 * time.Millisecond
	resp := e.do(t, "GET", "www.example.com", "/", nil, nil)
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestHTTPRedirectsToHTTPS(t *testing.T) {
	s := site("www.example.com", "http://127.0.0.1:1")
	s.HTTPS.HTTP = "" // default: redirect
	e := newEdge(t, s)
	for method, want := range map[string]int{"GET": 301, "HEAD": 301, "POST": 308} {
		resp := e.do(t, method, "www.example.com", "/p?x=1", nil, nil)
		if resp.StatusCode != want || resp.Header.Get("Location") != "https://www.example.com/p?x=1" {
			t.Errorf("%s: status %d location %q", method, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}

func TestRedirectRules(t *testing.T) {
	s := site("www.example.com", "http://127.0.0.1:1")
	s.Redirects = []api.Redirect{
		{Path: "/old", To: "/new", Status: 302},
		{Path: "/docs/*", To: "https://docs.example.com/", KeepSuffix: true},
		{Path: "/old/*", To: "/", KeepSuffix: true},
		{Path: "/api*", To: "https://api.example.com", KeepSuffix: true},
	}
	e := newEdge(t, s)
	cases := []struct {
		path, loc string
		status    int
	}{
		{"/old", "/new", 302},
		{"/docs/a/b?x=1", "https://docs.example.com/a/b?x=1", 301},
		// The suffix never changes the target host (open redirects).
		{"/old//evil.example", "/evil.example", 301},
		{"/old/%2Fevil.example", "/%2Fevil.example", 301},
		{"/old/\\evil.example", "/%5Cevil.example", 301}, // escaped: a path, not a host
		{"/api@evil.example", "https://api.example.com/@evil.example", 301},
		{"/api/v1", "https://api.example.com/v1", 301},
	}
	for _, c := range cases {
		resp := e.do(t, "GET", "www.example.com", c.path, nil, nil)
		if resp.StatusCode != c.status || resp.Header.Get("Location") != c.loc {
			t.Errorf("%s: status %d location %q", c.path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}

func TestStaleIdleConnectionIsRetried(t *testing.T) {
	// The origin closes every connection after answering, without saying
	// so: the pooled connection is dead when the next request takes it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}()
		}
	}()
	e := newEdge(t, site("www.example.com", "http://"+ln.Addr().String()))
	for i := 0; i < 5; i++ {
		resp := e.do(t, "GET", "www.example.com", "/", nil, nil)
		if b := readAll(t, resp.Body); resp.StatusCode != 200 || b != "ok" {
			t.Fatalf("request %d: status %d body %q", i, resp.StatusCode, b)
		}
	}
}

func TestPrivateOriginRefusedUnlessAllowed(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "internal") }))
	defer origin.Close()
	e := newEdge(t, site("www.example.com", origin.URL))
	e.h = New(Config{Catalog: e.cat, AllowPrivateOrigins: false})
	e.srv.Config.Handler = e.h
	resp := e.do(t, "GET", "www.example.com", "/", nil, nil)
	if b := readAll(t, resp.Body); resp.StatusCode != http.StatusBadGateway || strings.Contains(b, "internal") {
		t.Fatalf("status %d body %q", resp.StatusCode, b)
	}
}

func TestHSTSAndDomainFrontingOverTLS(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Header.Get("X-Forwarded-Proto")) }))
	defer origin.Close()
	a := site("a.example.com", origin.URL)
	a.HTTPS.HSTSMaxAge = 600
	b := site("b.example.com", origin.URL)
	e := newEdge(t, a, b)
	ts := httptest.NewUnstartedServer(e.h)
	ts.StartTLS() // httptest's certificate is for example.com names
	defer ts.Close()
	client := ts.Client()
	tr := client.Transport.(*http.Transport)
	tr.TLSClientConfig.ServerName = "a.example.com"
	tr.TLSClientConfig.InsecureSkipVerify = true

	req, _ := http.NewRequest("GET", ts.URL+"/", nil)
	req.Host = "a.example.com"
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || body != "https" || resp.Header.Get("Strict-Transport-Security") != "max-age=600" {
		t.Fatalf("status %d body %q hsts %q", resp.StatusCode, body, resp.Header.Get("Strict-Transport-Security"))
	}
	e.log.Flush()
	if l := e.buf.lines(t)[0]; l["tls"] != "TLS 1.3" || l["tls_cipher"] != "TLS_AES_128_GCM_SHA256" {
		t.Errorf("access log tls %v cipher %v", l["tls"], l["tls_cipher"])
	}
	// Same connection (SNI a.example.com), other Host: refused.
	req, _ = http.NewRequest("GET", ts.URL+"/", nil)
	req.Host = "b.example.com"
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("fronted request: status %d", resp.StatusCode)
	}
	_ = tls.VersionTLS12
}

func TestUpgradeIsSpliced(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "want upgrade", 400)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		line, _ := brw.ReadString('\n')
		io.WriteString(c, "echo:"+line)
	}))
	defer origin.Close()
	e := newEdge(t, site("ws.example.com", origin.URL))
	c, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: ws.example.com\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	io.WriteString(c, "ping\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := br.ReadString('\n')
	if err != nil || line != "echo:ping\n" {
		t.Fatalf("got %q %v", line, err)
	}
}
