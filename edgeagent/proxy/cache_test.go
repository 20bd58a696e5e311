package proxy

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/accesslog"
	"github.com/rampart-edge/rampart/edgeagent/cache"
	"github.com/rampart-edge/rampart/edgeagent/catalog"
	"github.com/rampart-edge/rampart/edgeagent/internal/fakeclock"
	"github.com/rampart-edge/rampart/edgeagent/internal/poll"
)

const cacheHost = "www.example.com"

// entries keeps every access-log entry by request id.
type entries struct {
	mu   sync.Mutex
	byID map[string]accesslog.Entry
}

func (o *entries) Observe(e *accesslog.Entry) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.byID[e.ReqID] = *e
}

// cacheEdge is a proxy.Handler with a cache in front of test origins.
type cacheEdge struct {
	*edge
	store *cache.Store
	clock *fakeclock.Clock
	log   *entries
}

func newCacheEdge(t testing.TB, cfg cache.Config, sites ...api.Site) *cacheEdge {
	t.Helper()
	clock := fakeclock.New(time.Now().Truncate(time.Second))
	if cfg.Now == nil {
		cfg.Now = clock.Now
	}
	store, err := cache.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ce := &cacheEdge{edge: &edge{cat: catalog.New(nil, nil), buf: &syncBuffer{}}, store: store, clock: clock, log: &entries{byID: map[string]accesslog.Entry{}}}
	for _, s := range sites {
		ce.put(t, s)
	}
	ce.edge.log = accesslog.New(ce.buf, "test", "n1")
	ce.h = New(Config{Catalog: ce.cat, Log: ce.edge.log, Observer: ce.log, Cache: store, AllowPrivateOrigins: true,
		DialTimeout: time.Second, ResponseHeaderTimeout: 5 * time.Second})
	ce.srv = serveH1(t, ce.h)
	t.Cleanup(func() { ce.srv.Close(); ce.h.Close(); store.Close() })
	return ce
}

// get sends a request and reads the whole response.
func (ce *cacheEdge) get(t testing.TB, method, path string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	resp := ce.do(t, method, cacheHost, path, nil, hdr)
	return resp, readAll(t, resp.Body)
}

// fetched is one response read in full (body holds the error on failure).
type fetched struct {
	body, status string
	code         int
}

// getAsync sends GET path with hdr in the background; its response
// arrives on the channel.
func (ce *cacheEdge) getAsync(path string, hdr map[string]string) <-chan fetched {
	out := make(chan fetched, 1)
	go func() {
		req, _ := http.NewRequest("GET", ce.srv.URL+path, nil)
		req.Host = cacheHost
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			out <- fetched{body: err.Error()}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		out <- fetched{string(b), resp.Header.Get("Cache-Status"), resp.StatusCode}
	}()
	return out
}

// entry is the access-log entry of a response (waiting for the handler's
// deferred logging).
func (ce *cacheEdge) entry(t *testing.T, resp *http.Response) accesslog.Entry {
	t.Helper()
	id := resp.Header.Get("X-Request-Id")
	var e accesslog.Entry
	waitUntil(t, "access-log entry "+id, func() bool {
		ce.log.mu.Lock()
		defer ce.log.mu.Unlock()
		var ok bool
		e, ok = ce.log.byID[id]
		return ok
	})
	return e
}

// waitUntil polls cond, failing after 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) { t.Helper(); poll.Until(t, what, cond) }

// gate holds origin handlers until the test opens it; openOnCleanup
// opens it when the test ends, so a failing test does not leave handlers
// blocked (and the servers' Close waiting for them).
type gate struct {
	ch   chan struct{}
	once sync.Once
}

func newGate() *gate { return &gate{ch: make(chan struct{})} }

func (g *gate) open() { g.once.Do(func() { close(g.ch) }) }

// openOnCleanup must be called after the servers are started: cleanups
// run last-in first-out.
func openOnCleanup(t *testing.T, gates ...*gate) {
	t.Cleanup(func() {
		for _, g := range gates {
			g.open()
		}
	})
}

// recv receives from ch, failing the test after 10 s.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// testOrigin records every request it gets and stamps Date from the
// cache's clock before calling fn.
type testOrigin struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
}

func newTestOrigin(t testing.TB, clock *fakeclock.Clock, fn http.HandlerFunc) *testOrigin {
	t.Helper()
	o := &testOrigin{}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.reqs = append(o.reqs, r.Clone(r.Context()))
		o.mu.Unlock()
		w.Header().Set("Date", clock.Now().UTC().Format(http.TimeFormat))
		fn(w, r)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *testOrigin) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.reqs)
}

func (o *testOrigin) last() *http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.reqs[len(o.reqs)-1]
}

func cachedSite(originURL string, p api.CachePolicy) api.Site {
	s := site(cacheHost, originURL)
	s.Cache = p
	return s
}

// newCachedOrigin starts an edge with one site in front of fn.
func newCachedOrigin(t testing.TB, p api.CachePolicy, fn http.HandlerFunc) (*cacheEdge, *testOrigin) {
	t.Helper()
	ce := newCacheEdge(t, cache.Config{})
	o := newTestOrigin(t, ce.clock, fn)
	ce.put(t, cachedSite(o.srv.URL, p))
	return ce, o
}

func wantStatus(t *testing.T, resp *http.Response, body string, code int) {
	t.Helper()
	if resp.StatusCode != code {
		t.Fatalf("%s %s: status %d, want %d; Cache-Status %q; body %q", resp.Request.Method, resp.Request.URL.RequestURI(), resp.StatusCode, code, resp.Header.Get("Cache-Status"), body)
	}
}

func TestCacheMissHitStaleAndLog(t *testing.T) {
	ce, o := newCachedOrigin(t, api.CachePolicy{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "hello")
	})
	resp, body := ce.get(t, "GET", "/p", nil)
	wantStatus(t, resp, body, 200)
	if cs := resp.Header.Get("Cache-Status"); cs != "rampart; fwd=miss; fwd-status=200; stored" {
		t.Errorf("miss: Cache-Status %q", cs)
	}
	if e := ce.entry(t, resp); e.Cache != CacheMiss || e.Action != ActionProxy {
		t.Errorf("miss: log cache %q action %q", e.Cache, e.Action)
	}

	ce.clock.Advance(25 * time.Second)
	resp, body = ce.get(t, "GET", "/p", nil)
	wantStatus(t, resp, body, 200)
	if body != "hello" || resp.Header.Get("Cache-Status") != "rampart; hit; ttl=35" || resp.Header.Get("Age") != "25" {
		t.Errorf("hit: body %q Cache-Status %q Age %q", body, resp.Header.Get("Cache-Status"), resp.Header.Get("Age"))
	}
	if e := ce.entry(t, resp); e.Cache != CacheHit || e.Action != ActionCacheHit || e.Status != 200 || e.BytesOut != 5 {
		t.Errorf("hit: log %+v", e)
	}
	if n := o.count(); n != 1 {
		t.Fatalf("origin saw %d requests, want 1", n)
	}

	// Expired, no validator: fetched again and stored again.
	ce.clock.Advance(40 * time.Second)
	resp, _ = ce.get(t, "GET", "/p", nil)
	if cs := resp.Header.Get("Cache-Status"); cs != "rampart; fwd=stale; fwd-status=200; stored" || o.count() != 2 {
		t.Errorf("expired: Cache-Status %q, origin requests %d", cs, o.count())
	}

	// Authorization bypasses the cache.
	resp, _ = ce.get(t, "GET", "/p", map[string]string{"Authorization": "Bearer x"})
	if cs := resp.Header.Get("Cache-Status"); cs != "rampart; fwd=bypass" || o.count() != 3 {
		t.Errorf("bypass: Cache-Status %q, origin requests %d", cs, o.count())
	}
	if e := ce.entry(t, resp); e.Cache != CacheBypass {
		t.Errorf("bypass: log cache %q", e.Cache)
	}

	total, sites := ce.h.CacheCounters()
	if total.Hits != 1 || total.Misses != 2 || total.Bypass != 1 || sites[cacheHost] != total {
		t.Errorf("counters %+v, sites %+v", total, sites)
	}
}

func TestCacheQueryNormalisation(t *testing.T) {
	ce, o := newCachedOrigin(t, api.CachePolicy{
		Rules:     []api.CacheRule{{Path: "/k", TTL: "1m"}},
		KeyParams: nil,
	}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "query="+r.URL.RawQuery)
	})
	_, body := ce.get(t, "GET", "/p?b=2&a=1&utm_source=news&fbclid=x", nil)
	if got := o.last().URL.RawQuery; got != "a=1&b=2" || body != "query=a=1&b=2" {
		t.Errorf("origin got query %q, client body %q", got, body)
	}
	for _, q := range []string{"a=1&b=2", "b=2&a=1", "a=1&gclid=1&b=2&utm_medium=y", "a=%31&b=2"} {
		resp, body := ce.get(t, "GET", "/p?"+q, nil)
		if !strings.HasPrefix(resp.Header.Get("Cache-Status"), "rampart; hit") || body != "query=a=1&b=2" {
			t.Errorf("?%s: Cache-Status %q body %q", q, resp.Header.Get("Cache-Status"), body)
		}
	}
	if n := o.count(); n != 1 {
		t.Errorf("origin saw %d requests, want 1", n)
	}
	if resp, _ := ce.get(t, "GET", "/p?a=1&b=3", nil); !strings.Contains(resp.Header.Get("Cache-Status"), "fwd=miss") {
		t.Errorf("a different value hit: %q", resp.Header.Get("Cache-Status"))
	}

	// With an allow list, other parameters are neither keyed nor sent.
	ce.put(t, cachedSite(o.srv.URL, api.CachePolicy{KeyParams: []string{"id"}}))
	_, body = ce.get(t, "GET", "/k?junk=1&id=7", nil)
	if got := o.last().URL.RawQuery; got != "id=7" || body != "query=id=7" {
		t.Errorf("key params: origin got %q, body %q", got, body)
	}
	n := o.count()
	if resp, body := ce.get(t, "GET", "/k?id=7&junk=2&more=3", nil); !strings.HasPrefix(resp.Header.Get("Cache-Status"), "rampart; hit") || body != "query=id=7" || o.count() != n {
		t.Errorf("key params: Cache-Status %q body %q", resp.Header.Get("Cache-Status"), body)
	}
}

func TestCacheVary(t *testing.T) {
	ce, o := newCachedOrigin(t, api.CachePolicy{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Encoding, Accept-Language")
		enc := "identity"
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			enc = "gzip"
		}
		io.WriteString(w, enc+" "+r.Header.Get("Accept-Language"))
	})
	steps := []struct {
		ae, al string
		body   string
		hit    bool
	}{
		{"gzip, br", "en, de;q=0.5", "gzip en, de;q=0.5", false},
		{"br,GZIP", "DE;q=0.5,en", "gzip en, de;q=0.5", true},
		{"identity", "en, de;q=0.5", "identity en, de;q=0.5", false},
		{"Identity, x-unknown", "en,de;q=0.5", "identity en, de;q=0.5", true},
		{"gzip, br", "en", "gzip en", false},
		{"gzip,br", "en", "gzip en", true},
	}
	misses := 0
	for i, s := range steps {
		hdr := map[string]string{"Accept-Encoding": s.ae, "Accept-Language": s.al}
		resp, body := ce.get(t, "GET", "/v", hdr)
		hit := strings.HasPrefix(resp.Header.Get("Cache-Status"), "rampart; hit")
		if body != s.body || hit != s.hit {
			t.Errorf("step %d (%q, %q): body %q hit %v, want %q %v", i, s.ae, s.al, body, hit, s.body, s.hit)
		}
		if !s.hit {
			misses++
		}
	}
	if o.count() != misses {
		t.Errorf("origin saw %d requests, want %d", o.count(), misses)
	}
}

// poisonHeaders are request headers some frameworks act on that are not
// part of the cache key.
var poisonHeaders = map[string]string{
	"X-Forwarded-Host":       "evil.example",
	"X-Original-URL":         "/evil-original",
	"X-Rewrite-URL":          "/evil-rewrite",
	"X-Host":                 "evil-x-host.example",
	"X-Forwarded-Server":     "evil-server.example",
	"X-Forwarded-Scheme":     "nothttp-evil",
	"X-Forwarded-Proto":      "nothttp-evil",
	"X-Forwarded-Prefix":     "/evil-prefix",
	"X-HTTP-Method-Override": "DELETE-evil",
	"X-Original-Host":        "evil-original-host.example",
	"Forwarded":              "host=evil-forwarded.example",
}

// TestCachePoisoningUnkeyedHeaders: a client's unkeyed headers never reach
// the origin on a cacheable request, so a page built from them cannot be
// stored and served to someone else.
func TestCachePoisoningUnkeyedHeaders(t *testing.T) {
	ce, o := newCachedOrigin(t, api.CachePolicy{}, func(w http.ResponseWriter, r *http.Request) {
		// A vulnerable origin: it trusts every header it is sent.
		w.Header().Set("Cache-Control", "public, max-age=600")
		var b strings.Builder
		for k := range poisonHeaders {
			b.WriteString(k + "=" + strings.Join(r.Header.Values(k), ",") + "\n")
		}
		io.WriteString(w, b.String())
	})
	resp, attacker := ce.get(t, "GET", "/", poisonHeaders)
	wantStatus(t, resp, attacker, 200)
	got := o.last().Header
	for k, v := range poisonHeaders {
		if strings.Contains(strings.Join(got.Values(k), ","), "evil") {
			t.Errorf("the origin got %s: %q (sent %q)", k, got.Values(k), v)
		}
	}
	if got.Get("X-Forwarded-Host") != cacheHost || got.Get("X-Forwarded-Proto") != "http" {
		t.Errorf("origin got X-Forwarded-Host %q X-Forwarded-Proto %q", got.Get("X-Forwarded-Host"), got.Get("X-Forwarded-Proto"))
	}
	if strings.Contains(attacker, "evil") {
		t.Errorf("the attacker's own response is built from its headers:\n%s", attacker)
	}
	resp, victim := ce.get(t, "GET", "/", nil)
	if !strings.HasPrefix(resp.Header.Get("Cache-Status"), "rampart; hit") || victim != attacker || strings.Contains(victim, "evil") {
		t.Errorf("victim: Cache-Status %q body\n%s", resp.Header.Get("Cache-Status"), victim)
	}
}

// TestCachePoisoningHostPort: the port in the Host header is not part of
// the key, so it must not reach the origin either (links built from
// X-Forwarded-Host would point every visitor at the attacker's port).
func TestCachePoisoningHostPort(t *testing.T) {
	ce, o := newCachedOrigin(t, api.CachePolicy{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=600")
		io.WriteString(w, `<script src="//`+r.Header.Get("X-Forwarded-Host")+`/app.js"></script>`)
	})
	for _, host := range []string{cacheHost + ":1337", "WWW.Example.COM."} {
		resp := ce.do(t, "GET", host, "/", nil, nil)
		attacker := readAll(t, resp.Body)
		wantStatus(t, resp, attacker, 200)
		if xfh := o.last().Header.Get("X-Forwarded-Host"); xfh != cacheHost {
			t.Errorf("Host %q: origin got X-Forwarded-Host %q on a cacheable request", host, xfh)
		}
		_, victim := ce.get(t, "GET", "/", nil)
		if victim != `<script src="//www.example.com/app.js"></script>` {
			t.Errorf("after Host %q the victim gets %q", host, victim)
		}
		ce.store.ApplyPurge(api.Purge{Hostname: cacheHost, All: true}, nil, ce.clock.Now().Add(time.Second))
		ce.clock.Advance(2 * time.Second)
	}
}

// TestCachePoisoningJunkQuery: a parameter outside the key cannot change
// what another client receives, and does not reach the origin.
func TestCachePoisoningJunkQuery(t *testing.T) {
	ce, o := newCachedOrigin(t, api.CachePolicy{
		Rules:        []api.CacheRule{{Path: "/search", TTL: "1m"}},
		IgnoreParams: []string{"callback"},
	}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "<a href='?"+r.URL.RawQuery+"'>"+r.URL.Query().Get("callback")+r.URL.Query().Get("utm_content")+"</a>")
	})
	evil := "/search?q=shoes&utm_content=%3Cscript%3Eevil%3C/script%3E&callback=evil_fn&fbclid=evil"
	_, attacker := ce.get(t, "GET", evil, nil)
	if q := o.last().URL.RawQuery; q != "q=shoes" {
		t.Errorf("origin got query %q", q)
	}
	if strings.Contains(attacker, "evil") {
		t.Errorf("attacker body %q", attacker)
	}
	resp, victim := ce.get(t, "GET", "/search?q=shoes", nil)
	if !strings.HasPrefix(resp.Header.Get("Cache-Status"), "rampart; hit") || strings.Contains(victim, "evil") || victim != "<a href='?q=shoes'></a>" {
		t.Errorf("victim: Cache-Status %q body %q", resp.Header.Get("Cache-Status"), victim)
	}

	// The same with a key-parameter allow list.
	ce.put(t, cachedSite(o.srv.URL, api.CachePolicy{KeyParams: []string{"q"}}))
	ce.get(t, "GET", "/list?q=hats&page=evil", nil)
	if q := o.last().URL.RawQuery; q != "q=hats" {
		t.Errorf("allow list: origin got query %q", q)
	}
	if _, victim := ce.get(t, "GET", "/list?q=hats", nil); strings.Contains(victim, "evil") {
		t.Errorf("allow list: victim body %q", victim)
	}
}

// TestCacheAuthenticatedNeverShared: responses to requests with
// Authorization or a session cookie are never stored, however cacheable
// the origin says they are, and never served from the cache.
func TestCacheAuthenticatedNeverShared(t *testing.T) {
	ce, o := newCachedOrigin(t, api.CachePolicy{
		SessionCookies: []string{"sessionid"},
		Rules:          []api.CacheRule{{Path: "/*", Action: api.CacheAggressive, TTL: "1h"}},
	}, func(w http.ResponseWriter, r *http.Request) {
		// A careless origin: private content marked public.
		w.Header().Set("Cache-Control", "public, max-age=3600, s-maxage=3600")
		who := "anonymous"
		if a := r.Header.Get("Authorization"); a != "" {
			who = "private for " + a
		} else if c, err := r.Cookie("sessionid"); err == nil {
			who = "private for session " + c.Value
		}
		io.WriteString(w, who)
	})
	_, body := ce.get(t, "GET", "/account", map[string]string{"Authorization": "Basic YWxpY2U6cHc="})
	if body != "private for Basic YWxpY2U6cHc=" {
		t.Fatalf("alice got %q", body)
	}
	_, body = ce.get(t, "GET", "/account", map[string]string{"Cookie": "theme=dark; sessionid=bob"})
	if body != "private for session bob" {
		t.Fatalf("bob got %q", body)
	}
	resp, body := ce.get(t, "GET", "/account", nil)
	if body != "anonymous" || o.count() != 3 {
		t.Fatalf("anonymous got %q (Cache-Status %q), origin requests %d", body, resp.Header.Get("Cache-Status"), o.count())
	}
	// Now that the anonymous page is stored, the authenticated still go to
	// the origin and get their own.
	_, body = ce.get(t, "GET", "/account", map[string]string{"Authorization": "Bearer carol"})
	if body != "private for Bearer carol" || o.count() != 4 {
		t.Errorf("carol got %q, origin requests %d", body, o.count())
	}
	resp, body = ce.get(t, "GET", "/account", nil)
	if body != "anonymous" || !strings.HasPrefix(resp.Header.Get("Cache-Status"), "rampart; hit") {
		t.Errorf("anonymous got %q (Cache-Status %q)", body, resp.Header.Get("Cache-Status"))
	}
}

// TestCacheErrorPageEchoingInputNotStored: an error page that repeats a
// request header is never stored; one that does not may be.
func TestCacheErrorPageEchoingInputNotStored(t *testing.T) {
	ce, o := newCachedOrigin(t, api.CachePolicy{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadRequest)
		if r.URL.Path == "/echo" {
			io.WriteString(w, "bad value: "+r.Header.Get("X-Api-Version"))
		} else {
			io.WriteString(w, "bad request")
		}
	})
	_, attacker := ce.get(t, "GET", "/echo", map[string]string{"X-Api-Version": "<script>evil()</script>"})
	if !strings.Contains(attacker, "evil") {
		t.Fatalf("the origin does not echo: %q", attacker)
	}
	resp, victim := ce.get(t, "GET", "/echo", nil)
	wantStatus(t, resp, victim, 400)
	if strings.Contains(victim, "evil") || o.count() != 2 {
		t.Errorf("victim got %q (Cache-Status %q), origin requests %d", victim, resp.Header.Get("Cache-Status"), o.count())
	}

	ce.get(t, "GET", "/plain", map[string]string{"X-Api-Version": "<script>evil()</script>"})
	resp, body := ce.get(t, "GET", "/plain", nil)
	wantStatus(t, resp, body, 400)
	if body != "bad request" || !strings.HasPrefix(resp.Header.Get("Cache-Status"), "rampart; hit") || o.count() != 3 {
		t.Errorf("plain 400: body %q Cache-Status %q, origin requests %d", body, resp.Header.Get("Cache-Status"), o.count())
	}
}

func TestCacheNotStored(t *testing.T) {
	ce, o := newCachedOrigin(t, api.CachePolicy{
		Rules: []api.CacheRule{
			{Path: "/aggr/*", Action: api.CacheAggressive, TTL: "1h"},
			{Path: "/ttl", TTL: "1m"},
		},
	}, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/no-store", "/aggr/no-store":
			w.Header().Set("Cache-Control", "max-age=60, no-store")
		case "/private", "/aggr/private":
			w.Header().Set("Cache-Control", "private, max-age=60")
		case "/cookie", "/aggr/cookie":
			w.Header().Set("Cache-Control", "max-age=60")
			w.Header().Set("Set-Cookie", "sid="+strconv.Itoa(int(time.Now().UnixNano())))
		case "/aggr/no-cache":
			w.Header().Set("Cache-Control", "no-cache, max-age=0")
		}
		io.WriteString(w, "body")
	})
	for _, p := range []string{"/no-store", "/private", "/cookie", "/none", "/aggr/no-store", "/aggr/private", "/aggr/cookie"} {
		n := o.count()
		r1, _ := ce.get(t, "GET", p, nil)
		r2, _ := ce.get(t, "GET", p, nil)
		if o.count() != n+2 {
			t.Errorf("%s was stored: %q then %q", p, r1.Header.Get("Cache-Status"), r2.Header.Get("Cache-Status"))
		}
		if e := ce.entry(t, r2); e.Cache != CacheUncacheable {
			t.Errorf("%s: log cache %q", p, e.Cache)
		}
		if sc := r2.Header.Values("Set-Cookie"); p == "/cookie" && len(sc) != 1 {
			t.Errorf("%s: Set-Cookie %q", p, sc)
		}
	}
	for _, p := range []string{"/ttl", "/aggr/no-cache"} {
		n := o.count()
		ce.get(t, "GET", p, nil)
		ce.clock.Advance(30 * time.Second)
		if r, _ := ce.get(t, "GET", p, nil); o.count() != n+1 || !strings.HasPrefix(r.Header.Get("Cache-Status"), "rampart; hit") {
			t.Errorf("%s was not stored: %q", p, r.Header.Get("Cache-Status"))
		}
	}
}

// TestCacheNoCacheRevalidates: no-cache and must-revalidate responses are
// stored but not used without the origin's word.
func TestCacheNoCacheRevalidates(t *testing.T) {
	ce, o := newCachedOrigin(t, api.CachePolicy{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Etag", `"e1"`)
		if r.URL.Path == "/nc" {
			w.Header().Set("Cache-Control", "max-age=600, no-cache")
		} else {
			w.Header().Set("Cache-Control", "max-age=10, must-revalidate, stale-while-revalidate=600")
		}
		if r.Header.Get("If-None-Match") == `"e1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, "body")
	})
	ce.get(t, "GET", "/nc", nil)
	resp, body := ce.get(t, "GET", "/nc", nil)
	if body != "body" || o.count() != 2 || o.last().Header.Get("If-None-Match") != `"e1"` || resp.Header.Get("Cache-Status") != "rampart; fwd=stale; fwd-status=304; stored" {
		t.Errorf("no-cache: body %q Cache-Status %q origin requests %d", body, resp.Header.Get("Cache-Status"), o.count())
	}
	if e := ce.entry(t, resp); e.Cache != CacheRevalidated {
		t.Errorf("no-cache: log cache %q", e.Cache)
	}
	ce.get(t, "GET", "/mr", nil)
	ce.clock.Advance(20 * time.Second)
	resp, body = ce.get(t, "GET", "/mr", nil)
	if body != "body" || o.count() != 4 || !strings.Contains(resp.Header.Get("Cache-Status"), "fwd-status=304") {
		t.Errorf("must-revalidate served stale: body %q Cache-Status %q, origin requests %d", body, resp.Header.Get("Cache-Status"), o.count())
	}
}

// flightWaiters counts goroutines blocked in cache.(*Flight).Wait.
func flightWaiters() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return bytes.Count(buf[:n], []byte("cache.(*Flight).Wait("))
		}
		buf = make([]byte, 2*len(buf))
	}
}

// TestCacheCoalescing: N concurrent misses for one key make one origin
// request; everyone gets its body.
func TestCacheCoalescing(t *testing.T) {
	const n = 8
	arrived := make(chan struct{}, n)
	release := newGate()
	ce, o := newCachedOrigin(t, api.CachePolicy{}, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release.ch
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "shared body")
	})
	openOnCleanup(t, release)
	var results []<-chan fetched
	for range n {
		results = append(results, ce.getAsync("/hot", nil))
	}
	recv(t, arrived, "the origin request")
	// Everyone else is waiting for the one origin request.
	waitUntil(t, strconv.Itoa(n-1)+" requests waiting on the flight", func() bool { return flightWaiters() == n-1 })
	release.open()
	coalesced := 0
	for _, ch := range results {
		r := recv(t, ch, "a response")
		if r.code != 200 || r.body != "shared body" {
			t.Errorf("status %d body %q", r.code, r.body)
		}
		if strings.Contains(r.status, "detail=coalesced") {
			coalesced++
		}
	}
	if c := o.count(); c != 1 {
		t.Errorf("%d origin requests for %d concurrent misses, want 1", c, n)
	}
	if coalesced != n-1 {
		t.Errorf("%d responses coalesced, want %d", coalesced, n-1)
	}
}

// TestCacheCoalescingUncacheable: when the leader's response cannot be
// stored, the waiting requests are released as soon as its head arrives
// (not when its body ends), and later requests do not queue.
func TestCacheCoalescingUncacheable(t *testing.T) {
	const n = 5
	arrived := make(chan struct{}, 2*n)
	sendHead, sendBody, holdNext := newGate(), newGate(), newGate()
	var mu sync.Mutex
	calls := 0
	ce, o := newCachedOrigin(t, api.CachePolicy{}, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		call := calls
		mu.Unlock()
		w.Header().Set("Cache-Control", "private, max-age=60")
		switch {
		case call == 1: // the leader: slow head, slow body
			arrived <- struct{}{}
			<-sendHead.ch
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			<-sendBody.ch
			io.WriteString(w, "leader")
		case call == n+1: // the first request after the pass: held
			arrived <- struct{}{}
			<-holdNext.ch
			io.WriteString(w, "held")
		default:
			io.WriteString(w, "direct")
		}
	})
	openOnCleanup(t, sendHead, sendBody, holdNext)
	leader := ce.getAsync("/private", nil)
	recv(t, arrived, "the leader at the origin")
	var followers []<-chan fetched
	for range n - 1 {
		followers = append(followers, ce.getAsync("/private", nil))
	}
	waitUntil(t, "followers waiting on the flight", func() bool { return flightWaiters() == n-1 })
	sendHead.open()
	// The leader's body is still held; the followers must finish anyway.
	timeout := time.After(10 * time.Second)
	for _, f := range followers {
		select {
		case r := <-f:
			if r.body != "direct" {
				t.Errorf("follower got %q", r.body)
			}
		case <-timeout:
			t.Fatal("followers still wait for an uncacheable response's body")
		}
	}
	sendBody.open()
	if r := recv(t, leader, "the leader"); r.body != "leader" {
		t.Errorf("leader got %q", r.body)
	}

	// The key is known to be uncacheable: a request while another is at the
	// origin goes straight there.
	held := ce.getAsync("/private", nil)
	recv(t, arrived, "the held request at the origin")
	other := ce.getAsync("/private", nil)
	select {
	case r := <-other:
		if r.body != "direct" {
			t.Errorf("second request got %q", r.body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a request for an uncacheable key queued behind another")
	}
	holdNext.open()
	if r := recv(t, held, "the held request"); r.body != "held" {
		t.Errorf("held request got %q", r.body)
	}
	if c := o.count(); c != n+2 {
		t.Errorf("%d origin requests, want %d", c, n+2)
	}
}

// TestCacheCoalescingVary: a waiting request whose headers select another
// variant than the leader stored does not get the leader's response.
func TestCacheCoalescingVary(t *testing.T) {
	arrived := make(chan struct{}, 2)
	release := newGate()
	ce, o := newCachedOrigin(t, api.CachePolicy{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Language")
		if r.Header.Get("Accept-Language") == "de" {
			arrived <- struct{}{}
			<-release.ch
		}
		io.WriteString(w, "lang="+r.Header.Get("Accept-Language"))
	})
	openOnCleanup(t, release)
	de := ce.getAsync("/v", map[string]string{"Accept-Language": "de"})
	recv(t, arrived, "the first request at the origin")
	fr := ce.getAsync("/v", map[string]string{"Accept-Language": "fr"})
	waitUntil(t, "the second request waiting on the flight", func() bool { return flightWaiters() == 1 })
	release.open()
	if r := recv(t, de, "de"); r.body != "lang=de" {
		t.Errorf("de got %q", r.body)
	}
	if r := recv(t, fr, "fr"); r.body != "lang=fr" {
		t.Errorf("fr got %q", r.body)
	}
	if o.count() != 2 {
		t.Errorf("%d origin requests, want 2", o.count())
	}
}

// TestCacheStaleIfError: with the origin gone, a stale object is served
// within its stale-if-error window; without one the client gets a 502.
func TestCacheStaleIfError(t *testing.T) {
	ce := newCacheEdge(t, cache.Config{})
	cc := map[string]string{
		"/sie":    "max-age=60, stale-if-error=600",
		"/rule":   "max-age=60",
		"/plain":  "max-age=60",
		"/mustrv": "max-age=60, must-revalidate, stale-if-error=600",
	}
	o := newTestOrigin(t, ce.clock, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", cc[r.URL.Path])
		io.WriteString(w, "stored "+r.URL.Path)
	})
	ce.put(t, cachedSite(o.srv.URL, api.CachePolicy{Rules: []api.CacheRule{{Path: "/rule", StaleIfError: "10m"}}}))
	for p := range cc {
		ce.get(t, "GET", p, nil)
	}
	o.srv.Close() // the origin is stopped
	ce.clock.Advance(2 * time.Minute)

	for _, p := range []string{"/sie", "/rule"} {
		resp, body := ce.get(t, "GET", p, nil)
		wantStatus(t, resp, body, 200)
		cs := resp.Header.Get("Cache-Status")
		if body != "stored "+p || !strings.Contains(cs, "fwd=stale") || !strings.Contains(cs, "detail=origin-error") {
			t.Errorf("%s: body %q Cache-Status %q", p, body, cs)
		}
		if resp.Header.Get("Age") != "120" {
			t.Errorf("%s: Age %q", p, resp.Header.Get("Age"))
		}
		if e := ce.entry(t, resp); e.Cache != CacheStale || e.Action != ActionCacheStale || e.Err == "" {
			t.Errorf("%s: log cache %q action %q err %q", p, e.Cache, e.Action, e.Err)
		}
	}
	for _, p := range []string{"/plain", "/mustrv"} {
		resp, body := ce.get(t, "GET", p, nil)
		wantStatus(t, resp, body, http.StatusBadGateway)
		if strings.Contains(body, "stored") {
			t.Errorf("%s: stale body served", p)
		}
	}
	// Past the window: 502.
	ce.clock.Advance(10 * time.Minute)
	resp, body := ce.get(t, "GET", "/sie", nil)
	wantStatus(t, resp, body, http.StatusBadGateway)
}

// TestCacheStaleIfErrorOn5xx: an origin answering 500 counts as an error.
func TestCacheStaleIfErrorOn5xx(t *testing.T) {
	var mu sync.Mutex
	broken := false
	ce, _ := newCachedOrigin(t, api.CachePolicy{}, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		b := broken
		mu.Unlock()
		if b {
			w.WriteHeader(500)
			io.WriteString(w, "oops")
			return
		}
		w.Header().Set("Cache-Control", "max-age=60, stale-if-error=600")
		io.WriteString(w, "good")
	})
	ce.get(t, "GET", "/", nil)
	mu.Lock()
	broken = true
	mu.Unlock()
	ce.clock.Advance(2 * time.Minute)
	resp, body := ce.get(t, "GET", "/", nil)
	if resp.StatusCode != 200 || body != "good" || !strings.Contains(resp.Header.Get("Cache-Status"), "fwd-status=500") {
		t.Errorf("status %d body %q Cache-Status %q", resp.StatusCode, body, resp.Header.Get("Cache-Status"))
	}
}

// TestCacheStaleWhileRevalidate: a stale object inside its window is
// served at once and refreshed in the background.
func TestCacheStaleWhileRevalidate(t *testing.T) {
	var mu sync.Mutex
	version := 0
	ce, o := newCachedOrigin(t, api.CachePolicy{}, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		version++
		v := version
		mu.Unlock()
		w.Header().Set("Cache-Control", "max-age=60, stale-while-revalidate=600")
		io.WriteString(w, "v"+strconv.Itoa(v))
	})
	ce.get(t, "GET", "/swr", nil)
	ce.clock.Advance(2 * time.Minute)
	resp, body := ce.get(t, "GET", "/swr", nil)
	if body != "v1" || !strings.Contains(resp.Header.Get("Cache-Status"), "fwd=stale") || resp.Header.Get("Age") != "120" {
		t.Errorf("stale: body %q Cache-Status %q Age %q", body, resp.Header.Get("Cache-Status"), resp.Header.Get("Age"))
	}
	if e := ce.entry(t, resp); e.Cache != CacheStale {
		t.Errorf("stale: log cache %q", e.Cache)
	}
	waitUntil(t, "the background refresh", func() bool {
		obj := ce.store.Lookup("http://"+cacheHost+"/swr", http.Header{})
		return obj != nil && string(obj.Body) == "v2"
	})
	resp, body = ce.get(t, "GET", "/swr", nil)
	if body != "v2" || resp.Header.Get("Cache-Status") != "rampart; hit; ttl=60" {
		t.Errorf("after refresh: body %q Cache-Status %q", body, resp.Header.Get("Cache-Status"))
	}
	if o.count() != 2 {
		t.Errorf("%d origin requests, want 2", o.count())
	}
}

func TestCacheRevalidation(t *testing.T) {
	lastMod := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Format(http.TimeFormat)
	const body = "the full body"
	ce, o := newCachedOrigin(t, api.CachePolicy{}, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.Header().Set("Cache-Control", "max-age=120")
			w.Header().Set("X-Version", "2")
			w.Header().Set("Etag", `"other"`)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Etag", `"v1"`)
		w.Header().Set("Last-Modified", lastMod)
		w.Header().Set("X-Version", "1")
		io.WriteString(w, body)
	})
	ce.get(t, "GET", "/r", map[string]string{"If-None-Match": `"v1"`})
	if h := o.last().Header; h.Get("If-None-Match") != "" {
		t.Errorf("a fill forwarded the client's If-None-Match %q", h.Get("If-None-Match"))
	}
	ce.clock.Advance(2 * time.Minute)
	resp, got := ce.get(t, "GET", "/r", nil)
	wantStatus(t, resp, got, 200)
	if h := o.last().Header; h.Get("If-None-Match") != `"v1"` || h.Get("If-Modified-Since") != lastMod {
		t.Errorf("revalidation sent If-None-Match %q If-Modified-Since %q", h.Get("If-None-Match"), h.Get("If-Modified-Since"))
	}
	if got != body || resp.Header.Get("X-Version") != "2" || resp.Header.Get("Etag") != `"v1"` || resp.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
		t.Errorf("after 304: body %q X-Version %q Etag %q Content-Length %q", got, resp.Header.Get("X-Version"), resp.Header.Get("Etag"), resp.Header.Get("Content-Length"))
	}
	if e := ce.entry(t, resp); e.Cache != CacheRevalidated {
		t.Errorf("log cache %q", e.Cache)
	}
	// The 304's max-age=120 now governs: still fresh 90 s later.
	ce.clock.Advance(90 * time.Second)
	resp, got = ce.get(t, "GET", "/r", nil)
	if got != body || resp.Header.Get("X-Version") != "2" || resp.Header.Get("Cache-Status") != "rampart; hit; ttl=30" || o.count() != 2 {
		t.Errorf("after refresh: body %q Cache-Status %q X-Version %q, origin requests %d", got, resp.Header.Get("Cache-Status"), resp.Header.Get("X-Version"), o.count())
	}

	// Client conditionals answered from the cache.
	tests := []struct {
		hdr  map[string]string
		want int
	}{
		{map[string]string{"If-None-Match": `"v1"`}, 304},
		{map[string]string{"If-None-Match": `"x", W/"v1"`}, 304},
		{map[string]string{"If-None-Match": `"x"`}, 200},
		{map[string]string{"If-None-Match": `*`}, 304},
		{map[string]string{"If-Modified-Since": lastMod}, 304},
		{map[string]string{"If-Modified-Since": time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC).Format(http.TimeFormat)}, 200},
		{map[string]string{"If-None-Match": `"x"`, "If-Modified-Since": lastMod}, 200},
	}
	for _, tt := range tests {
		resp, got := ce.get(t, "GET", "/r", tt.hdr)
		if resp.StatusCode != tt.want {
			t.Errorf("%v: status %d, want %d", tt.hdr, resp.StatusCode, tt.want)
		}
		if tt.want == 304 && (got != "" || resp.Header.Get("Etag") != `"v1"`) {
			t.Errorf("%v: 304 with body %q Etag %q", tt.hdr, got, resp.Header.Get("Etag"))
		}
		if tt.want == 200 && got != body {
			t.Errorf("%v: body %q", tt.hdr, got)
		}
	}
	if o.count() != 2 {
		t.Errorf("%d origin requests, want 2", o.count())
	}
}

func TestCacheRange(t *testing.T) {
	const full = "0123456789abcdef"
	big := strings.Repeat("0123456789", 100)
	ce, o := newCachedOrigin(t, api.CachePolicy{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		if r.URL.Path == "/big" {
			http.ServeContent(w, r, "", time.Time{}, strings.NewReader(big))
			return
		}
		io.WriteString(w, full)
	})
	ce.get(t, "GET", "/f", nil)
	tests := []struct {
		rng, body, contentRange string
		code                    int
	}{
		{"bytes=2-4", "234", "bytes 2-4/16", 206},
		{"bytes=-3", "def", "bytes 13-15/16", 206},
		{"bytes=10-", "abcdef", "bytes 10-15/16", 206},
		{"bytes=14-100", "ef", "bytes 14-15/16", 206},
		{"bytes=100-", "", "bytes */16", 416},
		{"bytes=0-1,4-5", full, "", 200},
		{"pages=1-2", full, "", 200},
	}
	for _, tt := range tests {
		resp, body := ce.get(t, "GET", "/f", map[string]string{"Range": tt.rng})
		if resp.StatusCode != tt.code || resp.Header.Get("Content-Range") != tt.contentRange || (tt.code != 416 && body != tt.body) {
			t.Errorf("%s: status %d Content-Range %q body %q", tt.rng, resp.StatusCode, resp.Header.Get("Content-Range"), body)
		}
		if tt.code == 206 && resp.Header.Get("Content-Length") != strconv.Itoa(len(tt.body)) {
			t.Errorf("%s: Content-Length %q", tt.rng, resp.Header.Get("Content-Length"))
		}
	}
	if o.count() != 1 {
		t.Errorf("%d origin requests, want 1", o.count())
	}

	// No full object: a stored 206 answers ranges inside it.
	resp, body := ce.get(t, "GET", "/big", map[string]string{"Range": "bytes=0-99"})
	if resp.StatusCode != 206 || body != big[:100] || o.last().Header.Get("Range") != "bytes=0-99" {
		t.Fatalf("partial fill: status %d body %q, origin Range %q", resp.StatusCode, body, o.last().Header.Get("Range"))
	}
	n := o.count()
	resp, body = ce.get(t, "GET", "/big", map[string]string{"Range": "bytes=10-19"})
	if resp.StatusCode != 206 || body != big[10:20] || resp.Header.Get("Content-Range") != "bytes 10-19/1000" || o.count() != n {
		t.Errorf("partial hit: status %d body %q Content-Range %q, origin requests %d", resp.StatusCode, body, resp.Header.Get("Content-Range"), o.count()-n)
	}
	resp, body = ce.get(t, "GET", "/big", map[string]string{"Range": "bytes=500-509"})
	if resp.StatusCode != 206 || body != big[500:510] || o.count() != n+1 {
		t.Errorf("outside the partial: status %d body %q, origin requests %d", resp.StatusCode, body, o.count()-n)
	}
	// A plain GET is not answered from a partial object.
	resp, body = ce.get(t, "GET", "/big", nil)
	if resp.StatusCode != 200 || body != big {
		t.Errorf("full GET: status %d, %d bytes", resp.StatusCode, len(body))
	}
}

func TestCacheHEAD(t *testing.T) {
	ce, o := newCachedOrigin(t, api.CachePolicy{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "twelve bytes")
	})
	// A HEAD miss passes through and stores nothing.
	resp, _ := ce.get(t, "HEAD", "/h", nil)
	if resp.StatusCode != 200 || o.last().Method != "HEAD" {
		t.Fatalf("HEAD miss: status %d, origin method %s", resp.StatusCode, o.last().Method)
	}
	if resp, _ := ce.get(t, "GET", "/h", nil); !strings.Contains(resp.Header.Get("Cache-Status"), "fwd=miss") {
		t.Errorf("GET after a HEAD: %q", resp.Header.Get("Cache-Status"))
	}
	resp, body := ce.get(t, "HEAD", "/h", nil)
	if resp.StatusCode != 200 || body != "" || resp.ContentLength != 12 || resp.Header.Get("Content-Type") != "text/plain" || !strings.HasPrefix(resp.Header.Get("Cache-Status"), "rampart; hit") {
		t.Errorf("HEAD hit: status %d body %q Content-Length %d Cache-Status %q", resp.StatusCode, body, resp.ContentLength, resp.Header.Get("Cache-Status"))
	}
	if o.count() != 2 {
		t.Errorf("%d origin requests, want 2", o.count())
	}
}

// TestCacheUnsafeMethodsInvalidate: a successful POST, PUT or DELETE drops
// the stored URL and same-host Location / Content-Location.
func TestCacheUnsafeMethodsInvalidate(t *testing.T) {
	ce, o := newCachedOrigin(t, api.CachePolicy{}, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "GET" {
			w.Header().Set("Cache-Control", "max-age=600")
			io.WriteString(w, "page")
			return
		}
		switch r.URL.Path {
		case "/form":
			w.Header().Set("Location", "/b?x=1")
			w.Header().Set("Content-Location", "http://"+cacheHost+"/c")
			w.WriteHeader(201)
		case "/elsewhere":
			w.Header().Set("Location", "http://other.example.com/d")
			w.WriteHeader(201)
		case "/fails":
			w.WriteHeader(500)
		}
	})
	paths := []string{"/form", "/b?x=1", "/c", "/d", "/fails"}
	fill := func() {
		for _, p := range paths {
			ce.get(t, "GET", p, nil)
		}
	}
	cached := func() map[string]bool {
		m := map[string]bool{}
		for _, p := range paths {
			resp, _ := ce.get(t, "GET", p, nil)
			m[p] = strings.HasPrefix(resp.Header.Get("Cache-Status"), "rampart; hit")
		}
		return m
	}
	tests := []struct {
		method, path string
		gone         []string
	}{
		{"POST", "/form", []string{"/form", "/b?x=1", "/c"}},
		{"PUT", "/form", []string{"/form", "/b?x=1", "/c"}},
		{"DELETE", "/c", []string{"/c"}},
		{"POST", "/elsewhere", nil},
		{"POST", "/fails", nil},
	}
	for _, tt := range tests {
		fill()
		if m := cached(); len(m) != len(paths) || !allTrue(m) {
			t.Fatalf("not all cached before %s %s: %v", tt.method, tt.path, m)
		}
		ce.get(t, tt.method, tt.path, nil)
		m := cached()
		for _, p := range paths {
			wantGone := false
			for _, g := range tt.gone {
				wantGone = wantGone || g == p
			}
			if m[p] == wantGone {
				t.Errorf("%s %s: %s still cached = %v", tt.method, tt.path, p, m[p])
			}
		}
	}
	if o.count() == 0 {
		t.Fatal("no origin requests")
	}
}

func allTrue(m map[string]bool) bool {
	for _, v := range m {
		if !v {
			return false
		}
	}
	return true
}

// TestCachePurgeThroughHandler: a purge empties what the handler serves,
// and a fill that was at the origin when the purge arrived is not stored.
func TestCachePurgeThroughHandler(t *testing.T) {
	var mu sync.Mutex
	version := 0
	arrived, release := make(chan struct{}, 1), newGate()
	hold := false
	ce, o := newCachedOrigin(t, api.CachePolicy{}, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		version++
		v, h := version, hold
		mu.Unlock()
		if h {
			arrived <- struct{}{}
			<-release.ch
		}
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Surrogate-Key", "product-1 all-products")
		io.WriteString(w, "v"+strconv.Itoa(v))
	})
	openOnCleanup(t, release)
	resp, _ := ce.get(t, "GET", "/product/1", nil)
	if resp.Header.Get("Surrogate-Key") != "" {
		t.Errorf("Surrogate-Key reached the client: %q", resp.Header.Get("Surrogate-Key"))
	}
	ce.clock.Advance(time.Second)
	if n := ce.store.ApplyPurge(api.Purge{Hostname: cacheHost, Tags: []string{"product-1"}}, nil, ce.clock.Now()); n != 1 {
		t.Fatalf("purged %d, want 1", n)
	}
	if _, body := ce.get(t, "GET", "/product/1", nil); body != "v2" {
		t.Fatalf("after the purge: %q", body)
	}

	// A fill in flight across a purge.
	ce.store.ApplyPurge(api.Purge{Hostname: cacheHost, All: true}, nil, ce.clock.Now().Add(time.Second))
	ce.clock.Advance(2 * time.Second)
	mu.Lock()
	hold = true
	mu.Unlock()
	done := ce.getAsync("/product/1", nil)
	recv(t, arrived, "the fill at the origin")
	ce.clock.Advance(time.Second)
	ce.store.ApplyPurge(api.Purge{Hostname: cacheHost, URLs: []string{"/product/1"}}, nil, ce.clock.Now())
	mu.Lock()
	hold = false
	mu.Unlock()
	release.open()
	if r := recv(t, done, "the in-flight request"); r.body != "v3" {
		t.Fatalf("in-flight request got %q", r.body)
	}
	if _, body := ce.get(t, "GET", "/product/1", nil); body != "v4" {
		t.Errorf("a fill that started before the purge was stored: got %q", body)
	}
	if o.count() != 4 {
		t.Errorf("%d origin requests, want 4", o.count())
	}
}

// TestCacheOnlyIfCached: only-if-cached answers 504 on a miss.
func TestCacheOnlyIfCached(t *testing.T) {
	ce, o := newCachedOrigin(t, api.CachePolicy{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "x")
	})
	resp, _ := ce.get(t, "GET", "/o", map[string]string{"Cache-Control": "only-if-cached"})
	if resp.StatusCode != http.StatusGatewayTimeout || o.count() != 0 {
		t.Errorf("status %d, origin requests %d", resp.StatusCode, o.count())
	}
	ce.get(t, "GET", "/o", nil)
	if resp, _ := ce.get(t, "GET", "/o", map[string]string{"Cache-Control": "only-if-cached"}); resp.StatusCode != 200 || o.count() != 1 {
		t.Errorf("status %d, origin requests %d", resp.StatusCode, o.count())
	}
	// A client's no-cache goes to the origin.
	if resp, _ := ce.get(t, "GET", "/o", map[string]string{"Cache-Control": "no-cache"}); o.count() != 2 || !strings.Contains(resp.Header.Get("Cache-Status"), "fwd=request") {
		t.Errorf("no-cache: Cache-Status %q, origin requests %d", resp.Header.Get("Cache-Status"), o.count())
	}
}

// TestCacheDeceptionDotSegments: a path rule cannot be escaped with dot
// segments. An origin that resolves "/static/../account" serves the
// account page; the aggressive "/static/*" rule must not store it, or the
// next visitor of that URL gets the victim's page (web cache deception).
func TestCacheDeceptionDotSegments(t *testing.T) {
	ce, o := newCachedOrigin(t, api.CachePolicy{
		Rules: []api.CacheRule{{Path: "/static/*", Action: api.CacheAggressive, TTL: "1h"}},
	}, func(w http.ResponseWriter, r *http.Request) {
		// No cache headers: many applications send none.
		p := path.Clean(r.URL.Path)
		if p == "/account" {
			c, err := r.Cookie("sid")
			if err != nil {
				io.WriteString(w, "please log in")
				return
			}
			io.WriteString(w, "account page of "+c.Value)
			return
		}
		io.WriteString(w, "file "+p)
	})
	for _, p := range []string{"/static/../account", "/static/%2e%2e/account", "/static/./../account"} {
		_, body := ce.get(t, "GET", p, map[string]string{"Cookie": "sid=victim"})
		if body != "account page of victim" {
			t.Fatalf("%s: the origin does not resolve dot segments: %q", p, body)
		}
		resp, body := ce.get(t, "GET", p, nil)
		if strings.Contains(body, "victim") {
			t.Errorf("%s: the victim's page was stored (Cache-Status %q)", p, resp.Header.Get("Cache-Status"))
		}
	}
	// The rule still works for real static files.
	ce.get(t, "GET", "/static/app.js", nil)
	n := o.count()
	if _, body := ce.get(t, "GET", "/static/app.js", nil); body != "file /static/app.js" || o.count() != n {
		t.Errorf("static file not cached: %q", body)
	}
}

// TestRefreshed: a 304 updates the stored header fields except those that
// describe the stored body (RFC 9111 §3.2).
func TestRefreshed(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	obj := &cache.Object{Status: 200, Body: []byte("thirteen byte"), Header: http.Header{
		"Etag": {`"v1"`}, "Content-Length": {"13"}, "Content-Type": {"text/plain"}, "Content-Encoding": {"gzip"},
		"X-Version": {"1"}, "Cache-Control": {"max-age=60"}, "Age": {"100"},
	}, RequestTime: t0, ResponseTime: t0, StoredAt: t0}
	resp := http.Header{
		"Etag": {`"v2"`}, "Content-Length": {"999"}, "Content-Encoding": {"br"}, "X-Version": {"2"},
		"Cache-Control": {"max-age=120"}, "Set-Cookie": {"sid=1"}, "Connection": {"close"}, "X-Request-Id": {"origin-id"},
	}
	later := t0.Add(time.Hour)
	n := refreshed(obj, resp, later, later.Add(time.Second))
	want := http.Header{
		"Etag": {`"v1"`}, "Content-Length": {"13"}, "Content-Type": {"text/plain"}, "Content-Encoding": {"gzip"},
		"X-Version": {"2"}, "Cache-Control": {"max-age=120"},
	}
	if len(n.Header) != len(want) {
		t.Errorf("header %v, want %v", n.Header, want)
	}
	for k, v := range want {
		if got := n.Header.Get(k); got != v[0] {
			t.Errorf("%s = %q, want %q", k, got, v[0])
		}
	}
	if !n.RequestTime.Equal(later) || !n.ResponseTime.Equal(later.Add(time.Second)) || !n.StoredAt.Equal(later) {
		t.Errorf("times not updated: %v %v %v", n.RequestTime, n.ResponseTime, n.StoredAt)
	}
	if obj.Header.Get("X-Version") != "1" || obj.Header.Get("Age") != "100" {
		t.Error("the stored object was modified in place")
	}
}

// TestCacheLargeObjectStreamsThrough: a body over MaxObjectBytes reaches
// the client whole and is not stored, with or without a Content-Length.
func TestCacheLargeObjectStreamsThrough(t *testing.T) {
	ce := newCacheEdge(t, cache.Config{MaxObjectBytes: 1 << 10})
	big := strings.Repeat("x", 4<<10)
	o := newTestOrigin(t, ce.clock, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		if r.URL.Path == "/chunked" {
			for i := 0; i < len(big); i += 512 {
				io.WriteString(w, big[i:i+512])
				w.(http.Flusher).Flush()
			}
			return
		}
		if r.URL.Path == "/small" {
			io.WriteString(w, "small")
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(big)))
		io.WriteString(w, big)
	})
	ce.put(t, cachedSite(o.srv.URL, api.CachePolicy{}))
	for _, p := range []string{"/sized", "/chunked"} {
		for i := range 2 {
			resp, body := ce.get(t, "GET", p, nil)
			if resp.StatusCode != 200 || body != big {
				t.Fatalf("%s #%d: status %d, %d bytes", p, i, resp.StatusCode, len(body))
			}
		}
	}
	if o.count() != 4 {
		t.Errorf("%d origin requests, want 4 (nothing stored)", o.count())
	}
	ce.get(t, "GET", "/small", nil)
	if resp, _ := ce.get(t, "GET", "/small", nil); !strings.HasPrefix(resp.Header.Get("Cache-Status"), "rampart; hit") {
		t.Errorf("a small object was not stored: %q", resp.Header.Get("Cache-Status"))
	}
}

// TestCacheVaryOnEdgeHeaders: a response varying on a header the edge
// sets per client is one client's and not stored; one varying on a header
// the edge sets from the key (X-Forwarded-Host) or strips is stored once,
// whatever the client sent in it.
func TestCacheVaryOnEdgeHeaders(t *testing.T) {
	ce, o := newCachedOrigin(t, api.CachePolicy{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		switch r.URL.Path {
		case "/per-client":
			w.Header().Set("Vary", "X-Forwarded-For")
			io.WriteString(w, "for "+r.Header.Get("X-Forwarded-For"))
		case "/host":
			w.Header().Set("Vary", "X-Forwarded-Host, X-Original-URL")
			io.WriteString(w, "host "+r.Header.Get("X-Forwarded-Host")+r.Header.Get("X-Original-URL"))
		}
	})
	ce.get(t, "GET", "/per-client", nil)
	if resp, _ := ce.get(t, "GET", "/per-client", nil); o.count() != 2 {
		t.Errorf("a response varying on X-Forwarded-For was stored: %q", resp.Header.Get("Cache-Status"))
	}
	ce.get(t, "GET", "/host", map[string]string{"X-Forwarded-Host": "evil.example", "X-Original-URL": "/evil"})
	resp, body := ce.get(t, "GET", "/host", nil)
	if body != "host "+cacheHost || !strings.HasPrefix(resp.Header.Get("Cache-Status"), "rampart; hit") || o.count() != 3 {
		t.Errorf("Vary: X-Forwarded-Host: body %q Cache-Status %q, origin requests %d", body, resp.Header.Get("Cache-Status"), o.count())
	}
}

// inspectingWAF stands for a site whose WAF inspects responses: any body
// containing "secret" is refused.
type inspectingWAF struct{}

func (inspectingWAF) Request(w http.ResponseWriter, r *http.Request, site *catalog.Site, e *accesslog.Entry) (ResponseCheck, bool) {
	return bodyCheck{}, true
}

type bodyCheck struct{}

func (bodyCheck) Response(resp *http.Response, e *accesslog.Entry) bool {
	b, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(strings.NewReader(string(b)))
	return !strings.Contains(string(b), "secret")
}

func (bodyCheck) Done() {}

// TestCacheStaleWhileRevalidateWithResponseInspection: when the WAF
// inspects responses, a stale object is revalidated in the foreground, so
// the new response is inspected before it is served or stored — never
// fetched in the background past the inspection.
func TestCacheStaleWhileRevalidateWithResponseInspection(t *testing.T) {
	var mu sync.Mutex
	body := "v1"
	ce, o := newCachedOrigin(t, api.CachePolicy{}, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Cache-Control", "max-age=60, stale-while-revalidate=600")
		io.WriteString(w, body)
	})
	ce.h.cfg.WAF = inspectingWAF{}
	if _, b := ce.get(t, "GET", "/swr", nil); b != "v1" {
		t.Fatalf("first: %q", b)
	}
	mu.Lock()
	body = "the secret"
	mu.Unlock()
	ce.clock.Advance(2 * time.Minute)
	resp, b := ce.get(t, "GET", "/swr", nil)
	wantStatus(t, resp, b, http.StatusBadGateway)
	if o.count() != 2 {
		t.Fatalf("%d origin requests, want 2 (a foreground revalidation)", o.count())
	}
	if obj := ce.store.Lookup("http://"+cacheHost+"/swr", http.Header{}); obj != nil && strings.Contains(string(obj.Body), "secret") {
		t.Fatal("an uninspected response was stored")
	}
}
