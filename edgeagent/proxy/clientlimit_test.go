package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/ratelimit"
	"github.com/rampart-edge/rampart/edgeagent/realip"
)

// headerOrigin records the client headers of every request it gets.
type headerOrigin struct {
	mu   sync.Mutex
	seen []http.Header
	srv  *httptest.Server
}

func newHeaderOrigin(t *testing.T) *headerOrigin {
	o := &headerOrigin{}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.seen = append(o.seen, r.Header.Clone())
		o.mu.Unlock()
		io.WriteString(w, "ok")
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *headerOrigin) last() http.Header {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.seen[len(o.seen)-1]
}

func limitedSite(origin string) api.Site {
	s := site("shop.example.com", origin)
	s.RateLimit = api.RateLimitPolicy{
		Rules:       []api.RateLimitRule{{Name: "login", Path: "/login", Rate: 3, Period: "1m"}},
		ExemptPaths: []string{"/healthz"},
	}
	return s
}

func TestRateLimitNPlusOneIs429(t *testing.T) {
	o := newHeaderOrigin(t)
	e := newEdge(t, limitedSite(o.srv.URL))
	for i := range 3 {
		if resp := e.do(t, "GET", "shop.example.com", "/login", nil, nil); resp.StatusCode != 200 {
			t.Fatalf("request %d: status %d", i+1, resp.StatusCode)
		}
	}
	resp := e.do(t, "GET", "shop.example.com", "/login", nil, nil)
	body := readAll(t, resp.Body)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("4th request: status %d", resp.StatusCode)
	}
	// 3 per minute: the next token comes in 20 s.
	want := map[string]string{
		"Retry-After":      "20",
		"RateLimit-Policy": `"login";q=3;w=60`,
		"RateLimit":        `"login";r=0;t=20`,
		"Cache-Control":    "no-store",
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if id := resp.Header.Get("X-Request-Id"); id == "" || !strings.Contains(body, id) {
		t.Errorf("body %q lacks the request id %q", body, id)
	}
	// The exempt path never counts.
	for i := range 10 {
		if resp := e.do(t, "GET", "shop.example.com", "/healthz", nil, nil); resp.StatusCode != 200 {
			t.Fatalf("exempt path, request %d: status %d", i+1, resp.StatusCode)
		}
	}
	// Paths the rule does not name are not limited either.
	if resp := e.do(t, "GET", "shop.example.com", "/other", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("other path: status %d", resp.StatusCode)
	}
	e.log.Flush()
	lines := e.buf.lines(t)
	l := lines[3]
	if l["action"] != ActionRateLimited || l["status"] != 429.0 || l["rate_limit_rule"] != "login" || l["client_ip"] != "127.0.0.1" {
		t.Errorf("access log line: %v", l)
	}
	if n := o.count(); n != 3+10+1 {
		t.Errorf("origin saw %d requests, want 14", n)
	}
}

func TestSpoofedForwardedForFromUntrustedPeer(t *testing.T) {
	o := newHeaderOrigin(t)
	e := newEdge(t, limitedSite(o.srv.URL))
	e.h.cfg.ClientIP, _ = realip.New([]string{"192.0.2.0/24"}) // 127.0.0.1 is not trusted
	for i := range 3 {
		resp := e.do(t, "GET", "shop.example.com", "/login", nil, map[string]string{
			"X-Forwarded-For": "203.0.113." + strconv.Itoa(i), "X-Real-IP": "6.6.6.6", "True-Client-IP": "6.6.6.6"})
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: status %d", i, resp.StatusCode)
		}
		h := o.last()
		if xff := h.Values("X-Forwarded-For"); len(xff) != 1 || xff[0] != "127.0.0.1" {
			t.Errorf("X-Forwarded-For to origin = %q, want only the peer", xff)
		}
		if h.Get("X-Real-Ip") != "127.0.0.1" || len(h.Values("True-Client-Ip")) != 1 || h.Get("True-Client-Ip") != "127.0.0.1" {
			t.Errorf("client headers to origin: %v", h)
		}
	}
	// A fresh X-Forwarded-For does not buy a fresh bucket.
	resp := e.do(t, "GET", "shop.example.com", "/login", nil, map[string]string{"X-Forwarded-For": "198.51.100.77"})
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("spoofed X-Forwarded-For escaped the limit: status %d", resp.StatusCode)
	}
	e.log.Flush()
	for _, l := range e.buf.lines(t) {
		if l["client_ip"] != "127.0.0.1" {
			t.Errorf("access log client_ip %v", l["client_ip"])
		}
	}
}

func TestTrustedProxyForwardedFor(t *testing.T) {
	o := newHeaderOrigin(t)
	e := newEdge(t, limitedSite(o.srv.URL))
	e.h.cfg.ClientIP, _ = realip.New([]string{"127.0.0.0/8"})
	get := func(xff string) int {
		resp := e.do(t, "GET", "shop.example.com", "/login", nil, map[string]string{"X-Forwarded-For": xff, "True-Client-IP": "6.6.6.6"})
		return resp.StatusCode
	}
	if s := get("6.6.6.6, 203.0.113.7"); s != 200 {
		t.Fatalf("status %d", s)
	}
	h := o.last()
	if got := h.Get("X-Forwarded-For"); got != "203.0.113.7, 127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q", got)
	}
	if h.Get("X-Real-Ip") != "203.0.113.7" || len(h.Values("True-Client-Ip")) != 1 || h.Get("True-Client-Ip") != "203.0.113.7" {
		t.Errorf("client headers: %v", h)
	}
	// Behind a trusted proxy, each real client has its own bucket.
	get("203.0.113.7")
	get("203.0.113.7")
	if s := get("203.0.113.7"); s != 429 {
		t.Fatalf("client 203.0.113.7, 4th request: status %d", s)
	}
	if s := get("203.0.113.8"); s != 200 {
		t.Fatalf("another client behind the same proxy: status %d", s)
	}
	e.log.Flush()
	if l := e.buf.lines(t)[0]; l["client_ip"] != "203.0.113.7" {
		t.Errorf("access log client_ip %v", l["client_ip"])
	}
}

// TestRateLimitIsPerNode shows the documented behaviour: every node counts
// on its own, so a second node still admits a client the first refuses.
func TestRateLimitIsPerNode(t *testing.T) {
	o := newHeaderOrigin(t)
	node1 := newEdge(t, limitedSite(o.srv.URL))
	node2 := newEdge(t, limitedSite(o.srv.URL))
	for range 3 {
		node1.do(t, "GET", "shop.example.com", "/login", nil, nil)
	}
	if resp := node1.do(t, "GET", "shop.example.com", "/login", nil, nil); resp.StatusCode != 429 {
		t.Fatalf("node1: status %d", resp.StatusCode)
	}
	if resp := node2.do(t, "GET", "shop.example.com", "/login", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("node2: status %d", resp.StatusCode)
	}
	// Two handlers sharing one Limiter share the count (one node, two listeners).
	shared := ratelimit.New(ratelimit.Config{})
	node1.h.cfg.Limiter, node2.h.cfg.Limiter = shared, shared
	for range 3 {
		node1.do(t, "GET", "shop.example.com", "/login", nil, nil)
	}
	if resp := node2.do(t, "GET", "shop.example.com", "/login", nil, nil); resp.StatusCode != 429 {
		t.Fatalf("shared limiter: status %d", resp.StatusCode)
	}
}

func (o *headerOrigin) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.seen)
}

func TestAccessLogQueryIsRedacted(t *testing.T) {
	o := newHeaderOrigin(t)
	e := newEdge(t, site("shop.example.com", o.srv.URL))
	e.do(t, "GET", "shop.example.com", "/p?a=1&token=secret1&Password=secret2", nil, nil)
	e.log.Flush()
	l := e.buf.lines(t)[0]
	if l["query"] != "a=1&token=REDACTED&Password=REDACTED" {
		t.Fatalf("query logged as %v", l["query"])
	}
}
