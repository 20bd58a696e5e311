package ratelimit

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
)

func TestTakeBurstThenRefill(t *testing.T) {
	l := New(Config{})
	now := l.epoch.Add(time.Hour)
	interval := int64(time.Second) // 1 per second, burst 3
	for i := range 3 {
		ok, rem, _ := l.take(1, interval, 3, now)
		if !ok || rem != 2-i {
			t.Fatalf("request %d: ok %v remaining %d", i, ok, rem)
		}
	}
	ok, _, wait := l.take(1, interval, 3, now)
	if ok || wait != time.Second {
		t.Fatalf("4th: ok %v wait %v", ok, wait)
	}
	if ok, _, _ := l.take(2, interval, 3, now); !ok {
		t.Fatal("another key shares the bucket")
	}
	if ok, _, _ := l.take(1, interval, 3, now.Add(time.Second)); !ok {
		t.Fatal("no token after one interval")
	}
	if ok, _, _ := l.take(1, interval, 3, now.Add(time.Second)); ok {
		t.Fatal("two tokens after one interval")
	}
}

func TestKeyMemoryIsBounded(t *testing.T) {
	l := New(Config{MaxKeys: 64 * 4})
	now := time.Now()
	for k := range uint64(100_000) {
		l.take(k, int64(time.Second), 1, now)
	}
	if n := l.Len(); n > 64*4 {
		t.Fatalf("%d keys remembered, bound is %d", n, 64*4)
	}
	// A hot key survives a flood of one-off keys: CLOCK spares keys used
	// since the hand last passed.
	hot := uint64(1 << 40)
	l.take(hot, int64(time.Hour), 1, now)
	for k := range uint64(1000) {
		l.take(hot, int64(time.Hour), 1, now) // refused, but marks it used
		l.take(1<<41+k*64, int64(time.Second), 1, now)
	}
	if ok, _, _ := l.take(hot, int64(time.Hour), 1, now); ok {
		t.Fatal("the hot key was evicted and its limit forgotten")
	}
}

func policy(t *testing.T, p api.RateLimitPolicy) *Policy {
	t.Helper()
	s := api.Site{V: api.Version, Hostname: "shop.example.com", Origins: []api.Origin{{URL: "http://o.example.com"}}, RateLimit: p}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	return Compile(s.Hostname, p)
}

func req(method, target string, hdr ...string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	return r
}

func TestPolicyMatchingAndKeys(t *testing.T) {
	p := policy(t, api.RateLimitPolicy{
		Rules: []api.RateLimitRule{
			{Name: "login", Methods: []string{"POST"}, Path: "/login", Rate: 2, Period: "1m"},
			{Name: "api", Path: "/api/*", Key: api.RateLimitKeyHeader, KeyName: "x-api-key", Rate: 1, Period: "1h"},
			{Name: "cart", Path: "/cart", Key: api.RateLimitKeyCookie, KeyName: "sid", Rate: 1, Period: "1h"},
		},
		ExemptCIDRs: []string{"192.0.2.0/24"},
		ExemptPaths: []string{"/api/health"},
	})
	l := New(Config{})
	now := time.Now()
	a := netip.MustParseAddr("203.0.113.1")
	b := netip.MustParseAddr("203.0.113.2")
	check := func(r *http.Request, c netip.Addr) bool { return !p.Check(l, r, c, now).Limited }

	// login: POST only, path cleaned, per IP.
	for i := range 2 {
		if !check(req("POST", "/login"), a) {
			t.Fatalf("login %d refused", i)
		}
	}
	if check(req("POST", "//./login"), a) {
		t.Fatal("third login (spelled //./login) allowed")
	}
	if !check(req("GET", "/login"), a) || !check(req("POST", "/login"), b) {
		t.Fatal("GET, or another client, was limited")
	}
	if !check(req("POST", "/login"), netip.MustParseAddr("192.0.2.9")) || !check(req("POST", "/login"), netip.MustParseAddr("192.0.2.9")) ||
		!check(req("POST", "/login"), netip.MustParseAddr("192.0.2.9")) {
		t.Fatal("exempt client limited")
	}
	// IPv6 clients are counted per /64.
	v6a, v6b := netip.MustParseAddr("2001:db8:1:2::1"), netip.MustParseAddr("2001:db8:1:2:ffff::9")
	if !check(req("POST", "/login"), v6a) || !check(req("POST", "/login"), v6b) || check(req("POST", "/login"), v6a) {
		t.Fatal("two addresses of one /64 must share a bucket")
	}
	if !check(req("POST", "/login"), netip.MustParseAddr("2001:db8:1:3::1")) {
		t.Fatal("another /64 must have its own bucket")
	}
	// api: keyed by header; a missing header falls back to the IP.
	if !check(req("GET", "/api/x", "X-Api-Key", "k1"), a) || check(req("GET", "/api/y", "X-Api-Key", "k1"), b) {
		t.Fatal("header key: the same key from two IPs must share a bucket")
	}
	if !check(req("GET", "/api/x", "X-Api-Key", "k2"), a) {
		t.Fatal("header key: another key must have its own bucket")
	}
	if !check(req("GET", "/api/x"), a) || check(req("GET", "/api/x"), a) {
		t.Fatal("no header: keyed by IP")
	}
	for range 3 {
		if !check(req("GET", "/api/health", "X-Api-Key", "k1"), a) {
			t.Fatal("exempt path limited")
		}
	}
	// cart: keyed by cookie.
	if !check(req("GET", "/cart", "Cookie", "a=1; sid=s1"), a) || check(req("GET", "/cart", "Cookie", "sid=s1"), b) ||
		!check(req("GET", "/cart", "Cookie", "sid=s2"), a) {
		t.Fatal("cookie key")
	}
}

func TestDecisionHeaders(t *testing.T) {
	p := policy(t, api.RateLimitPolicy{Rules: []api.RateLimitRule{{Name: "login", Rate: 5, Period: "1m"}}})
	l := New(Config{})
	now := time.Now()
	a := netip.MustParseAddr("203.0.113.1")
	var d Decision
	for range 6 {
		d = p.Check(l, req("GET", "/"), a, now)
	}
	if !d.Limited || d.Rule != "login" || d.Wait != 12*time.Second {
		t.Fatalf("decision %+v", d)
	}
	h := http.Header{}
	d.SetHeaders(h)
	if h.Get("Retry-After") != "12" || h.Get("RateLimit-Policy") != `"login";q=5;w=60` || h.Get("RateLimit") != `"login";r=0;t=12` {
		t.Fatalf("headers %v", h)
	}
}

func TestCheckDoesNotAllocate(t *testing.T) {
	p := policy(t, api.RateLimitPolicy{Rules: []api.RateLimitRule{
		{Name: "all", Rate: 1_000_000},
		{Name: "key", Key: api.RateLimitKeyCookie, KeyName: "sid", Rate: 1_000_000},
	}})
	l := New(Config{})
	r := req("GET", "/a/b", "Cookie", "x=1; sid=abc")
	a := netip.MustParseAddr("203.0.113.1")
	l.take(0, 1, 1, time.Now()) // warm the map
	p.Check(l, r, a, time.Now())
	if n := testing.AllocsPerRun(1000, func() { p.Check(l, r, a, time.Now()) }); n != 0 {
		t.Fatalf("%v allocations per check", n)
	}
}

func BenchmarkCheck(b *testing.B) {
	s := api.RateLimitPolicy{Rules: []api.RateLimitRule{
		{Name: "login", Methods: []string{"POST"}, Path: "/login", Rate: 5, Period: "1m"},
		{Name: "all", Rate: 1_000_000, Burst: 1_000_000},
	}}
	p := Compile("bench.example.com", s)
	l := New(Config{})
	r := req("GET", "/index.html")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := uint32(0)
		for pb.Next() {
			i++
			// 4096 distinct clients.
			a := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8 & 0xf), byte(i)})
			p.Check(l, r, a, time.Now())
		}
	})
}
