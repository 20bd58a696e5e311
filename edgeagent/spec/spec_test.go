package spec

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/rampart-edge/rampart/edgeagent/internal/testcert"
	"github.com/rampart-edge/rampart/edgeagent/zoneserve"
)

// fakeEdge is a small real edge stand-in: HTTP that redirects to HTTPS,
// HTTPS (TLS 1.2+) with a certificate from its own CA, a legacy listener
// that speaks TLS 1.0, Cache-Status as the edge cache emits it, a fake WAF
// that blocks the built-in payloads under /waf/, and a rate limit of 5
// requests per X-Key under /limited/.
type fakeEdge struct {
	roots                    *x509.CertPool
	httpAddr, httpsAddr      string
	legacyAddr               string
	mu                       sync.Mutex
	hits                     map[string]int
	closers                  []func()
	staleAfter, staleLasting int
}

func startFakeEdge(t *testing.T) *fakeEdge {
	t.Helper()
	ca, err := testcert.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	chain, key, err := ca.Leaf("shop.example.test", "legacy.example.test")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(chain, key)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeEdge{roots: x509.NewCertPool(), hits: map[string]int{}}
	f.roots.AppendCertsFromPEM(ca.CertPEM)
	serve := func(h http.Handler, cfg *tls.Config) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if cfg != nil {
			ln = tls.NewListener(ln, cfg)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		return ln.Addr().String()
	}
	f.httpAddr = serve(http.HandlerFunc(f.plain), nil)
	f.httpsAddr = serve(f, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	f.legacyAddr = serve(f, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS12,
		CipherSuites: legacySuites})
	return f
}

func (f *fakeEdge) plain(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/plain/") {
		w.Write([]byte("plain http served"))
		return
	}
	http.Redirect(w, r, "https://"+r.Host+r.URL.RequestURI(), http.StatusMovedPermanently)
}

func (f *fakeEdge) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hits[key]++
	return f.hits[key]
}

func (f *fakeEdge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Request-Id", "req-0123abcd")
	h.Set("Content-Type", "text/plain")
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/waf/"):
		for _, class := range Payloads {
			for _, pl := range class {
				if (pl.Header != "" && r.Header.Get(pl.Header) == pl.Value) || (pl.Param != "" && r.URL.Query().Get(pl.Param) == pl.Value) {
					http.Error(w, "blocked", http.StatusForbidden)
					return
				}
			}
		}
	case strings.HasPrefix(p, "/limited/"):
		if f.count("limit "+r.Header.Get("X-Key")) > 5 {
			h.Set("Retry-After", "12")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
	case p == "/public":
		h.Set("Cache-Control", "public, max-age=60")
	case p == "/private":
		h.Set("Cache-Control", "private, max-age=60")
	case p == "/nostore":
		h.Set("Cache-Control", "no-store")
	case p == "/smaxage":
		h.Set("Cache-Control", `max-age=0, s-maxage=120, community="x,y"`)
	case p == "/expires":
		now := time.Now().UTC()
		h.Set("Date", now.Format(http.TimeFormat))
		h.Set("Expires", now.Add(time.Hour).Format(http.TimeFormat))
	case strings.HasPrefix(p, "/cached/"):
		// What the edge cache says, behind an origin-side cache member.
		if n := f.count(p); n == 1 {
			h.Set("Cache-Status", `OriginCache; hit; ttl=3, rampart; fwd=miss; stored`)
		} else {
			h.Set("Cache-Status", fmt.Sprintf(`OriginCache; hit, rampart; hit; ttl=%d; key="a,b"`, 60-n))
			h.Set("Age", fmt.Sprint(n))
		}
	case p == "/uncached":
		h.Set("Cache-Status", "rampart; fwd=uri-miss")
	case strings.HasPrefix(p, "/swr/"):
		// Fresh twice, then one stale hit while revalidating, then fresh.
		switch n := f.count(p); {
		case n == 1:
			h.Set("Cache-Status", "rampart; fwd=miss; stored")
		case n == 4:
			h.Set("Cache-Status", "rampart; hit; fwd=stale; ttl=-1")
		default:
			h.Set("Cache-Status", "rampart; hit; ttl=1")
		}
	case p == "/always-fresh":
		h.Set("Cache-Status", "rampart; hit; ttl=30")
	}
	fmt.Fprintf(w, "hello from %s", p)
}

func runYAML(t *testing.T, opts Options, doc string) *Report {
	t.Helper()
	f, err := Parse("test.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), []*File{f}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func (f *fakeEdge) opts() Options {
	return Options{
		Resolve: []string{"*:80:" + f.httpAddr, "*:443:" + f.httpsAddr, "legacy.example.test:443:" + f.legacyAddr},
		RootCAs: f.roots, Timeout: 5 * time.Second,
	}
}

// TestMatchers runs every HTTP matcher once with an expectation the fake
// edge meets and once with one it does not; the failure must say what was
// expected and what happened.
func TestMatchers(t *testing.T) {
	f := startFakeEdge(t)
	cases := []struct {
		name, check string
		pass        bool
		actual      string // in Actual
	}{
		{"redirects to https", "url: https://shop.example.test/a?b=1\n  expect: {redirects_to_https: true}", true, "Location: https://shop.example.test/a?b=1"},
		{"redirects to https (wrong)", "url: https://shop.example.test/plain/x\n  expect: {redirects_to_https: true}", false, "status 200"},
		{"no redirect (wrong)", "url: https://shop.example.test/a\n  expect: {redirects_to_https: false}", false, "status 301"},
		{"supports 1.3", "url: https://shop.example.test/\n  expect: {tls_supports: ['1.2', '1.3']}", true, "TLS 1."},
		{"supports 1.0 (wrong)", "url: https://shop.example.test/\n  expect: {tls_supports: ['1.0']}", false, "handshake failed"},
		{"refuses 1.0 and 1.1", "url: https://shop.example.test/\n  expect: {tls_refuses: ['1.0', '1.1']}", true, "handshake failed"},
		{"refuses 1.2 (wrong)", "url: https://shop.example.test/\n  expect: {tls_refuses: ['1.2']}", false, "completed with TLS 1.2"},
		{"legacy refuses 1.0 (wrong)", "url: https://legacy.example.test/\n  expect: {tls_refuses: ['1.0']}", false, "completed with TLS 1.0"},
		{"legacy supports 1.0", "url: https://legacy.example.test/\n  expect: {tls_supports: ['1.0']}", true, "completed with TLS 1.0"},
		{"status", "url: https://shop.example.test/x\n  expect: {status: 200}", true, "status 200"},
		{"status (wrong)", "url: https://shop.example.test/x\n  expect: {status: 404}", false, "status 200"},
		{"header equals", "url: https://shop.example.test/x\n  expect: {headers: {X-Request-Id: req-0123abcd}}", true, "req-0123abcd"},
		{"header equals (wrong)", "url: https://shop.example.test/x\n  expect: {headers: {X-Request-Id: nope}}", false, "X-Request-Id: req-0123abcd"},
		{"header absent (wrong)", "url: https://shop.example.test/x\n  expect: {headers: {X-Missing: a}}", false, "X-Missing absent"},
		{"header matches", "url: https://shop.example.test/x\n  expect: {header_matches: {X-Request-Id: '^req-[0-9a-f]{8}$'}}", true, "req-0123abcd"},
		{"header matches (wrong)", "url: https://shop.example.test/x\n  expect: {header_matches: {X-Request-Id: '^[0-9]+$'}}", false, "req-0123abcd"},
		{"body contains", "url: https://shop.example.test/x\n  expect: {body_contains: [hello from /x]}", true, "hello"},
		{"body contains (wrong)", "url: https://shop.example.test/x\n  expect: {body_contains: [goodbye]}", false, `"hello from /x"`},
		{"browser cachable", "url: https://shop.example.test/public\n  expect: {browser_cachable: true, shared_cachable: true}", true, "max-age=60"},
		{"browser cachable via Expires", "url: https://shop.example.test/expires\n  expect: {browser_cachable: true}", true, "Expires"},
		{"browser cachable (wrong)", "url: https://shop.example.test/nostore\n  expect: {browser_cachable: true}", false, "no-store"},
		{"private is not shared cachable", "url: https://shop.example.test/private\n  expect: {browser_cachable: true, shared_cachable: false}", true, "private"},
		{"shared cachable (wrong)", "url: https://shop.example.test/private\n  expect: {shared_cachable: true}", false, "Cache-Control: private"},
		{"s-maxage is shared only", "url: https://shop.example.test/smaxage\n  expect: {browser_cachable: false, shared_cachable: true}", true, "s-maxage=120"},
		{"browser cachable s-maxage (wrong)", "url: https://shop.example.test/smaxage\n  expect: {browser_cachable: true}", false, "max-age=0"},
		{"cache hit", "url: https://shop.example.test/cached/a\n  expect: {cache_hit: true}", true, "rampart; hit"},
		{"cache hit (wrong)", "url: https://shop.example.test/uncached\n  expect: {cache_hit: true}", false, "rampart; fwd=uri-miss"},
		{"no cache hit (wrong)", "url: https://shop.example.test/cached/b\n  expect: {cache_hit: false}", false, "rampart; hit"},
		{"origin-side hit is not ours (wrong)", "url: https://shop.example.test/x\n  expect: {cache_hit: true}", false, "no Cache-Status"},
		{"serves stale", "url: https://shop.example.test/swr/a\n  expect: {serves_stale: {ttl: 200ms}}", true, "a stale hit, then"},
		{"serves stale (wrong)", "url: https://shop.example.test/always-fresh\n  expect: {serves_stale: {ttl: 100ms}}", false, "no stale hit"},
		{"waf blocks", "url: https://shop.example.test/waf/search\n  expect: {waf_blocks: [sqli, xss, traversal, rce, php, log4shell, scanner], waf_allows_benign: true}", true, "answered 403"},
		{"waf blocks (wrong)", "url: https://shop.example.test/open/search\n  expect: {waf_blocks: [sqli]}", false, "status 200"},
		{"waf blocks benign (wrong)", "url: https://shop.example.test/waf/search\n  expect: {waf_allows_benign: false}", false, "status 200"},
		{"rate limited", "url: https://shop.example.test/limited/a\n  request: {headers: {X-Key: k1}}\n  expect: {rate_limited_after: 5}", true, "429, Retry-After: 12"},
		{"rate limited later (wrong)", "url: https://shop.example.test/limited/a\n  request: {headers: {X-Key: k2}}\n  expect: {rate_limited_after: 8}", false, "request 6 of 8 got 429"},
		{"rate limited sooner (wrong)", "url: https://shop.example.test/limited/a\n  request: {headers: {X-Key: k3}}\n  expect: {rate_limited_after: 3}", false, "request 4 got status 200"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep := runYAML(t, f.opts(), "checks:\n- "+c.check+"\n")
			if len(rep.Results) == 0 {
				t.Fatal("no results")
			}
			checkResults(t, rep, c.pass, c.actual)
		})
	}
}

// checkResults wants every result to pass (or fail), each to say what it
// expected, and one to report actual.
func checkResults(t *testing.T, rep *Report, pass bool, actual string) {
	t.Helper()
	found := false
	for _, r := range rep.Results {
		if r.Pass != pass || r.Expected == "" || r.Actual == "" {
			t.Errorf("%s: pass=%v, want %v (expected %q, actual %q)", r.Matcher, r.Pass, pass, r.Expected, r.Actual)
		}
		found = found || strings.Contains(r.Actual, actual)
	}
	if !found {
		t.Errorf("no result's actual contains %q: %+v", actual, rep.Results)
	}
}

func TestEdgeDownIsAFailureNotARefusal(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	rep := runYAML(t, Options{Resolve: []string{"*:443:" + addr}, Timeout: 2 * time.Second},
		"checks:\n- url: https://shop.example.test/\n  expect: {tls_refuses: ['1.0'], status: 200}\n")
	for _, r := range rep.Results {
		if r.Pass || !strings.Contains(r.Actual, "connect") && !strings.Contains(r.Actual, "refused") {
			t.Errorf("%s: pass=%v actual %q", r.Matcher, r.Pass, r.Actual)
		}
	}
}

func TestDNSMatchers(t *testing.T) {
	var rrs []dns.RR
	for _, s := range []string{
		"example.test. 3600 IN SOA ns1.example.test. hostmaster.example.test. 2024010101 7200 3600 1209600 300",
		"example.test. 300 IN MX 10 mx1.example.test.",
		"example.test. 300 IN MX 20 mx2.example.test.",
		"www.example.test. 60 IN CNAME web.example.test.",
		"web.example.test. 120 IN A 192.0.2.10",
		"web.example.test. 120 IN A 192.0.2.11",
		`txt.example.test. 300 IN TXT "v=spf1 include:_spf.example.test -all" "second string"`,
	} {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		rrs = append(rrs, rr)
	}
	srv := zoneserve.New(rrs)
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	opts := Options{Nameservers: map[string]string{"auth": srv.Addr()}, Timeout: 2 * time.Second}
	cases := []struct {
		name, check string
		pass        bool
		actual      string
	}{
		{"A rdata through a CNAME", "dns: {name: www.example.test, type: A, nameserver: auth}\n  expect: {rdata: [192.0.2.11, 192.0.2.10], ttl: 120, count: 2, rcode: NOERROR}", true, "192.0.2.10"},
		{"A rdata (wrong)", "dns: {name: www.example.test, type: A, nameserver: auth}\n  expect: {rdata: [192.0.2.10]}", false, "192.0.2.10 | 192.0.2.11"},
		{"ttl (wrong)", "dns: {name: web.example.test, type: A, nameserver: auth}\n  expect: {ttl: 300}", false, "TTL 120, 120"},
		{"count (wrong)", "dns: {name: web.example.test, type: A, nameserver: auth}\n  expect: {count: 3}", false, "2:"},
		{"CNAME rdata", "dns: {name: www.example.test, type: CNAME, nameserver: auth, transport: tcp}\n  expect: {rdata: [WEB.example.test.]}", true, "web.example.test."},
		{"MX", "dns: {name: example.test, type: MX, nameserver: auth}\n  expect: {mx: [{preference: 20, exchange: mx2.example.test}, {preference: 10, exchange: mx1.example.test.}], ttl: 300}", true, "10 mx1.example.test."},
		{"MX preference (wrong)", "dns: {name: example.test, type: MX, nameserver: auth}\n  expect: {mx: [{preference: 10, exchange: mx2.example.test}, {preference: 20, exchange: mx1.example.test}]}", false, "10 mx1.example.test. | 20 mx2.example.test."},
		{"TXT", "dns: {name: txt.example.test, type: TXT, nameserver: auth, transport: udp}\n  expect: {rdata: ['\"v=spf1 include:_spf.example.test -all\" \"second string\"']}", true, "v=spf1"},
		{"TXT (wrong)", "dns: {name: txt.example.test, type: TXT, nameserver: auth}\n  expect: {rdata: ['\"v=spf1 -all\"']}", false, "second string"},
		{"NXDOMAIN", "dns: {name: nope.example.test, type: A, nameserver: auth}\n  expect: {rcode: NXDOMAIN}", true, "NXDOMAIN"},
		{"NXDOMAIN rdata (wrong)", "dns: {name: nope.example.test, type: A, nameserver: auth}\n  expect: {rdata: [192.0.2.1]}", false, "NXDOMAIN, no A records"},
		{"unset alias", "dns: {name: example.test, type: A, nameserver: missing}\n  expect: {rcode: NOERROR}", false, "--nameserver missing=host:port"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep := runYAML(t, opts, "checks:\n- "+c.check+"\n")
			if len(rep.Results) == 0 {
				t.Fatal("no results")
			}
			checkResults(t, rep, c.pass, c.actual)
			if c.pass && strings.Contains(c.check, "transport") == false && len(rep.Results)%2 != 0 {
				t.Errorf("default transport should ask over UDP and TCP: %d results", len(rep.Results))
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	cases := map[string]string{
		"checks:\n- url: https://a.test/\n  expect: {}\n":                                       "line 2",
		"checks:\n- url: https://a.test/\n  expect: {status: 200, colour: red}\n":               "colour",
		"checks:\n- url: https://a.test/\n  expect: {waf_blocks: [sqlx]}\n":                     `unknown payload class "sqlx"`,
		"checks:\n- url: http://a.test/\n  expect: {tls_supports: ['1.3']}\n":                   "need an https url",
		"checks:\n- url: https://a.test/\n  expect: {tls_supports: ['1.4']}\n":                  `"1.4"`,
		"checks:\n- url: https://a.test/\n  expect: {header_matches: {X: '('}}\n":               "header_matches[X]",
		"checks:\n- url: https://a.test/\n  expect: {rdata: [1.2.3.4]}\n":                       "DNS matchers",
		"checks:\n- dns: {name: a.test, type: A, nameserver: x}\n  expect: {rdata: [nope]}\n":   `rdata "nope"`,
		"checks:\n- dns: {name: a.test, type: AX, nameserver: x}\n  expect: {rcode: NOERROR}\n": "not a record type",
		"checks:\n- url: https://a.test/\n  expect: {serves_stale: {ttl: soon}}\n":              "not a duration",
		"checks: []\n": "no checks",
	}
	for doc, want := range cases {
		_, err := Parse("bad.yaml", []byte(doc))
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "bad.yaml") {
			t.Errorf("%q: %v, want an error naming bad.yaml and %q", doc, err, want)
		}
	}
}

func TestCacheStatusParse(t *testing.T) {
	list, err := ParseCacheStatus([]string{`Origin; hit; ttl=10`, `rampart; hit; fwd=stale; ttl=-3; key="a;b,c"; detail=abc/1`})
	if err != nil {
		t.Fatal(err)
	}
	cs, ok := FindCacheStatus(list, "rampart")
	if len(list) != 2 || !ok || !cs.Hit || cs.Fwd != "stale" || cs.TTL != -3 || cs.Params["key"] != "a;b,c" || cs.Params["detail"] != "abc/1" {
		t.Fatalf("%+v", list)
	}
	cs, _ = FindCacheStatus(mustCS(t, `rampart; hit=?0; fwd=miss; stored; fwd-status=200`), "rampart")
	if cs.Hit || !cs.Stored || cs.Fwd != "miss" || cs.FwdStatus != 200 {
		t.Fatalf("%+v", cs)
	}
	for _, bad := range []string{`rampart; Hit`, `rampart;`, `rampart; ttl=x`, `rampart,`, `"unterminated`, `rampart; key="a\q"`} {
		if _, err := ParseCacheStatus([]string{bad}); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func mustCS(t *testing.T, v string) []CacheStatus {
	t.Helper()
	l, err := ParseCacheStatus([]string{v})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestReportOutputs(t *testing.T) {
	rep := &Report{Results: []Result{
		{File: "a.yaml", Check: "home", Matcher: "status", Pass: true, Expected: "status 200", Actual: "status 200"},
		{File: "a.yaml", Check: "home", Matcher: "header X equals", Expected: "X: 1", Actual: "X absent & <gone>"},
	}}
	var sum bytes.Buffer
	rep.WriteSummary(&sum, false)
	if !strings.Contains(sum.String(), "expected: X: 1") || !strings.Contains(sum.String(), "actual:   X absent") ||
		!strings.Contains(sum.String(), "2 matchers, 1 passed, 1 failed") {
		t.Fatal(sum.String())
	}
	var x bytes.Buffer
	if err := rep.WriteJUnit(&x); err != nil {
		t.Fatal(err)
	}
	var parsed junitSuites
	if err := xml.Unmarshal(x.Bytes(), &parsed); err != nil {
		t.Fatalf("%v\n%s", err, x.String())
	}
	s := parsed.Suites[0]
	if parsed.Tests != 2 || parsed.Failures != 1 || s.Tests != 2 || s.Failures != 1 || s.Cases[1].Failure == nil ||
		!strings.Contains(s.Cases[1].Failure.Message, "actual X absent & <gone>") || s.Cases[0].Failure != nil {
		t.Fatalf("%+v\n%s", parsed, x.String())
	}
}

func TestLoadDirAndTargets(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "b.yaml"), []byte("checks:\n- url: https://a.test/\n  expect: {status: 200}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "a.yml"), []byte("name: first\nchecks:\n- url: https://a.test/\n  expect: {status: 200}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a spec"), 0o644)
	files, err := Load(dir)
	if err != nil || len(files) != 2 || files[0].Name != "first" || files[1].Name != "b.yaml" {
		t.Fatalf("%v %v", files, err)
	}
	tg := &Targets{Regions: map[string]Target{"ams3": {HTTP: "127.0.1.2:8080", HTTPS: "127.0.1.2:8443", DNS: "127.0.1.2:5353"}}}
	p := filepath.Join(dir, "targets.yaml")
	if err := tg.Write(p); err != nil {
		t.Fatal(err)
	}
	tg, err = LoadTargets(p)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := tg.Apply(Options{}, "ams3")
	if err != nil {
		t.Fatal(err)
	}
	res, _ := parseResolve(opts.Resolve)
	if got := res.dialAddr("shop.test:443"); got != "127.0.1.2:8443" || res.dialAddr("x:80") != "127.0.1.2:8080" || opts.Nameservers["edge"] != "127.0.1.2:5353" || opts.Label != "ams3" {
		t.Fatalf("%+v %s", opts, got)
	}
	if _, err := tg.Apply(Options{}, "nyc3"); err == nil {
		t.Fatal("unknown region accepted")
	}
	res, err = parseResolve([]string{"a.test:443:127.0.0.2", "*:443:127.0.0.3:8443", "b.test:80:[::1]:81"})
	if err != nil || res.dialAddr("A.test:443") != "127.0.0.2:443" || res.dialAddr("c.test:443") != "127.0.0.3:8443" ||
		res.dialAddr("b.test:80") != "[::1]:81" || res.dialAddr("c.test:80") != "c.test:80" {
		t.Fatalf("%+v %v", res, err)
	}
	if _, err := parseResolve([]string{"nohost"}); err == nil {
		t.Fatal("bad resolve accepted")
	}
}
