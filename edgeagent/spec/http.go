package spec

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

type runner struct {
	opts Options
	res  *resolver
	http *http.Client
}

// response is what the runner keeps of an HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

const maxBody = 1 << 20

// do sends the check's request to u (the check's URL when empty), with
// extra query parameters and headers.
func (r *runner) do(ctx context.Context, c *Check, u string, query url.Values, hdr map[string]string) (*response, error) {
	if u == "" {
		u = c.URL
	}
	if len(query) > 0 {
		pu, err := url.Parse(u)
		if err != nil {
			return nil, err
		}
		q := pu.Query()
		for k, vs := range query {
			q[k] = vs
		}
		pu.RawQuery = q.Encode()
		u = pu.String()
	}
	method := c.Request.Method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if c.Request.Body != "" {
		body = strings.NewReader(c.Request.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "edgectl-spec/1")
	for k, v := range c.Request.Headers {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("reading the body: %w", err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

func (r *runner) runHTTP(ctx context.Context, c *Check) []Result {
	e := c.Expect
	var out []Result
	add := func(res Result) { out = append(out, res) }

	if e.Status != nil || len(e.Headers) > 0 || len(e.HeaderMatches) > 0 || len(e.BodyContains) > 0 ||
		e.BrowserCachable != nil || e.SharedCachable != nil {
		start := time.Now()
		resp, err := r.do(ctx, c, "", nil, nil)
		took := time.Since(start)
		for _, res := range baseMatchers(e, resp, err) {
			res.Duration = took
			add(res)
		}
	}
	if e.RedirectsToHTTPS != nil {
		add(timed(func() Result { return r.redirectsToHTTPS(ctx, c, *e.RedirectsToHTTPS) }))
	}
	for _, v := range e.TLSSupports {
		add(timed(func() Result { return r.tlsVersion(ctx, c, v, true) }))
	}
	for _, v := range e.TLSRefuses {
		add(timed(func() Result { return r.tlsVersion(ctx, c, v, false) }))
	}
	if e.CacheHit != nil {
		add(timed(func() Result { return r.cacheHit(ctx, c, *e.CacheHit) }))
	}
	if e.ServesStale != nil {
		add(timed(func() Result { return r.servesStale(ctx, c, time.Duration(e.ServesStale.TTL)) }))
	}
	blockStatus := e.WAFBlockStatus
	if blockStatus == 0 {
		blockStatus = http.StatusForbidden
	}
	for _, class := range e.WAFBlocks {
		add(timed(func() Result { return r.wafBlocks(ctx, c, class, blockStatus) }))
	}
	if e.WAFAllowsBenign != nil {
		add(timed(func() Result { return r.wafAllowsBenign(ctx, c, *e.WAFAllowsBenign, blockStatus) }))
	}
	if e.RateLimitedAfter != nil {
		add(timed(func() Result { return r.rateLimited(ctx, c, *e.RateLimitedAfter) }))
	}
	return out
}

// baseMatchers check one response: status, headers, body and cachability.
func baseMatchers(e Expect, resp *response, err error) []Result {
	var out []Result
	check := func(matcher, expected string, got func() (bool, string)) {
		res := Result{Matcher: matcher, Expected: expected}
		if err != nil {
			res.Actual = "request failed: " + err.Error()
		} else {
			res.Pass, res.Actual = got()
		}
		out = append(out, res)
	}
	if e.Status != nil {
		check("status", fmt.Sprintf("status %d", *e.Status), func() (bool, string) {
			return resp.status == *e.Status, fmt.Sprintf("status %d", resp.status)
		})
	}
	for _, name := range sortedKeys(e.Headers) {
		want := e.Headers[name]
		check("header "+name+" equals", fmt.Sprintf("%s: %s", name, want), func() (bool, string) {
			vs := resp.header.Values(name)
			if len(vs) == 0 {
				return false, name + " absent"
			}
			for _, v := range vs {
				if v == want {
					return true, name + ": " + v
				}
			}
			return strings.Join(vs, ", ") == want, name + ": " + strings.Join(vs, ", ")
		})
	}
	for _, name := range sortedKeys(e.HeaderMatches) {
		re := regexp.MustCompile(e.HeaderMatches[name]) // compiled in Validate
		check("header "+name+" matches", fmt.Sprintf("%s matching /%s/", name, re), func() (bool, string) {
			vs := resp.header.Values(name)
			if len(vs) == 0 {
				return false, name + " absent"
			}
			return re.MatchString(strings.Join(vs, ", ")), name + ": " + strings.Join(vs, ", ")
		})
	}
	for _, s := range e.BodyContains {
		check("body contains", fmt.Sprintf("body containing %q", s), func() (bool, string) {
			return strings.Contains(string(resp.body), s), fmt.Sprintf("body (%d bytes) %q", len(resp.body), excerpt(resp.body))
		})
	}
	cachable := func(matcher string, want, shared bool) {
		who := "browser"
		if shared {
			who = "shared cache"
		}
		exp := "cachable by a " + who + " (RFC 9111: storable, freshness lifetime > 0)"
		if !want {
			exp = "not cachable by a " + who
		}
		check(matcher, exp, func() (bool, string) {
			c := ReadCachability(resp.status, resp.header, shared)
			act := fmt.Sprintf("not cachable: %s", c.Why)
			if c.Cachable() {
				act = fmt.Sprintf("cachable for %v: %s", c.Lifetime, c.Why)
			}
			return c.Cachable() == want, act
		})
	}
	if e.BrowserCachable != nil {
		cachable("browser cachable", *e.BrowserCachable, false)
	}
	if e.SharedCachable != nil {
		cachable("shared cachable", *e.SharedCachable, true)
	}
	return out
}

func excerpt(b []byte) string {
	const n = 160
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// redirectsToHTTPS asks the http:// form of the URL and expects a redirect
// to https on the same host.
func (r *runner) redirectsToHTTPS(ctx context.Context, c *Check, want bool) Result {
	u, _ := url.Parse(c.URL)
	plain := *u
	if plain.Scheme == "https" {
		// The http:// form of an https URL is on port 80.
		plain.Scheme, plain.Host = "http", u.Hostname()
		if strings.Contains(plain.Host, ":") {
			plain.Host = "[" + plain.Host + "]"
		}
	}
	exp := "a redirect (301/302/303/307/308) from " + plain.String() + " to https://" + u.Hostname() + "…"
	if !want {
		exp = "no redirect to https from " + plain.String()
	}
	res := Result{Matcher: "redirects HTTP to HTTPS", Expected: exp}
	resp, err := r.do(ctx, c, plain.String(), nil, nil)
	if err != nil {
		res.Actual = "request failed: " + err.Error()
		return res
	}
	loc := resp.header.Get("Location")
	redirect := resp.status == 301 || resp.status == 302 || resp.status == 303 || resp.status == 307 || resp.status == 308
	toHTTPS := false
	if lu, err := plain.Parse(loc); err == nil && loc != "" {
		toHTTPS = lu.Scheme == "https" && strings.EqualFold(lu.Hostname(), u.Hostname())
	}
	res.Actual = fmt.Sprintf("status %d", resp.status)
	if loc != "" {
		res.Actual += ", Location: " + loc
	}
	res.Pass = (redirect && toHTTPS) == want
	return res
}

var tlsVersions = map[string]uint16{"1.0": tls.VersionTLS10, "1.1": tls.VersionTLS11, "1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13}

// tlsVersion makes a handshake offering only version v. Supported means it
// completes with v and a certificate that verifies for the host; refused
// means the server ends the handshake (a connection that cannot be made at
// all is a failure either way, never a refusal).
func (r *runner) tlsVersion(ctx context.Context, c *Check, v string, supports bool) Result {
	u, _ := url.Parse(c.URL)
	port := u.Port()
	if port == "" {
		port = "443"
	}
	res := Result{Matcher: "tls supports " + v, Expected: "a TLS " + v + " handshake with a certificate valid for " + u.Hostname()}
	if !supports {
		res.Matcher, res.Expected = "tls refuses "+v, "the server refusing a TLS "+v+" handshake"
	}
	dctx, cancel := context.WithTimeout(ctx, r.opts.timeout())
	defer cancel()
	raw, err := r.res.dial(dctx, "tcp", net.JoinHostPort(u.Hostname(), port), r.opts.timeout())
	if err != nil {
		res.Actual = "could not connect: " + err.Error()
		return res
	}
	defer raw.Close()
	ver := tlsVersions[v]
	cfg := &tls.Config{ServerName: u.Hostname(), MinVersion: ver, MaxVersion: ver, RootCAs: r.opts.RootCAs}
	if !supports {
		// Only the protocol version matters for a refusal.
		cfg.InsecureSkipVerify = true
	}
	if ver < tls.VersionTLS12 {
		cfg.CipherSuites = legacySuites
	}
	conn := tls.Client(raw, cfg)
	err = conn.HandshakeContext(dctx)
	if err != nil {
		res.Actual = "handshake failed: " + err.Error()
		res.Pass = !supports
		return res
	}
	got := conn.ConnectionState().Version
	res.Actual = "handshake completed with " + tls.VersionName(got)
	res.Pass = supports && got == ver
	return res
}

// legacySuites are offered for TLS 1.0/1.1 probes (Go leaves the CBC-SHA1
// suites out of its defaults).
var legacySuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_256_CBC_SHA,
}

// cacheStatusOf returns this edge's Cache-Status member of a response.
func cacheStatusOf(resp *response) (CacheStatus, bool, error) {
	list, err := ParseCacheStatus(resp.header.Values("Cache-Status"))
	if err != nil {
		return CacheStatus{}, false, err
	}
	cs, ok := FindCacheStatus(list, CacheName)
	return cs, ok, nil
}

// cacheHit asks twice and reads the second answer's Cache-Status.
func (r *runner) cacheHit(ctx context.Context, c *Check, want bool) Result {
	res := Result{Matcher: "cache hit on a repeat request", Expected: "the second response served from the cache (Cache-Status: " + CacheName + "; hit)"}
	if !want {
		res.Expected = "the second response not served from the cache (no hit in Cache-Status: " + CacheName + ")"
	}
	if _, err := r.do(ctx, c, "", nil, nil); err != nil {
		res.Actual = "first request failed: " + err.Error()
		return res
	}
	resp, err := r.do(ctx, c, "", nil, nil)
	if err != nil {
		res.Actual = "second request failed: " + err.Error()
		return res
	}
	cs, ok, err := cacheStatusOf(resp)
	res.Actual = fmt.Sprintf("second response: status %d, %s", resp.status, describeCache(resp.header))
	if err != nil {
		res.Actual += " (" + err.Error() + ")"
		return res
	}
	res.Pass = (ok && cs.Hit) == want
	return res
}

// servesStale primes the object, then asks again (every ttl/4, bounded)
// until a response is a stale hit (Cache-Status: rampart; hit; fwd=stale),
// and then until the revalidated object is served fresh.
func (r *runner) servesStale(ctx context.Context, c *Check, ttl time.Duration) Result {
	res := Result{Matcher: "serves stale while revalidating",
		Expected: fmt.Sprintf("after the %v TTL, a stale hit (Cache-Status: %s; hit; fwd=stale) and then the revalidated object", ttl, CacheName)}
	first, err := r.do(ctx, c, "", nil, nil)
	if err != nil {
		res.Actual = "first request failed: " + err.Error()
		return res
	}
	interval := min(max(ttl/4, 50*time.Millisecond), time.Second)
	deadline := time.Now().Add(3*ttl + 2*time.Second)
	var seen []string
	last := first
	stale := false
	for i := 0; i < 1000 && time.Now().Before(deadline); i++ {
		select {
		case <-ctx.Done():
			res.Actual = ctx.Err().Error()
			return res
		case <-time.After(interval):
		}
		resp, err := r.do(ctx, c, "", nil, nil)
		if err != nil {
			res.Actual = "request failed: " + err.Error()
			return res
		}
		last = resp
		cs, ok, _ := cacheStatusOf(resp)
		if len(seen) < 8 || len(seen)%8 == 0 {
			seen = append(seen, strings.Join(resp.header.Values("Cache-Status"), ", "))
		}
		if !stale {
			stale = ok && cs.Hit && cs.Fwd == "stale"
			continue
		}
		if ok && cs.Fwd != "stale" && resp.status < 500 {
			res.Pass = true
			res.Actual = "a stale hit, then " + describeCache(resp.header)
			return res
		}
	}
	if stale {
		res.Actual = "a stale hit, but the object was still stale afterwards; last response: " + describeCache(last.header)
	} else {
		res.Actual = fmt.Sprintf("no stale hit by the deadline; first response: %s; later Cache-Status values: %q", describeCache(first.header), seen)
	}
	return res
}

func (r *runner) send(ctx context.Context, c *Check, p Payload) (*response, error) {
	if p.Header != "" {
		return r.do(ctx, c, "", nil, map[string]string{p.Header: p.Value})
	}
	return r.do(ctx, c, "", url.Values{p.Param: {p.Value}}, nil)
}

func (p Payload) String() string {
	if p.Header != "" {
		return fmt.Sprintf("%s: %q", p.Header, p.Value)
	}
	return fmt.Sprintf("?%s=%q", p.Param, p.Value)
}

// wafBlocks sends every payload of the class and expects each blocked.
func (r *runner) wafBlocks(ctx context.Context, c *Check, class string, blockStatus int) Result {
	res := Result{Matcher: "waf blocks " + class,
		Expected: fmt.Sprintf("status %d for each of the %d %s payloads", blockStatus, len(Payloads[class]), class)}
	var passed []string
	for _, p := range Payloads[class] {
		resp, err := r.send(ctx, c, p)
		switch {
		case err != nil:
			passed = append(passed, fmt.Sprintf("%s → request failed: %v", p, err))
		case resp.status != blockStatus:
			passed = append(passed, fmt.Sprintf("%s → status %d", p, resp.status))
		}
	}
	if len(passed) == 0 {
		res.Pass = true
		res.Actual = fmt.Sprintf("all %d answered %d", len(Payloads[class]), blockStatus)
	} else {
		res.Actual = "not blocked: " + strings.Join(passed, "; ")
	}
	return res
}

// wafAllowsBenign sends an ordinary request: it must not be blocked.
func (r *runner) wafAllowsBenign(ctx context.Context, c *Check, want bool, blockStatus int) Result {
	res := Result{Matcher: "waf lets a benign request through", Expected: fmt.Sprintf("%s let through (status below 400)", BenignPayload)}
	if !want {
		res.Expected = fmt.Sprintf("%s blocked (status %d)", BenignPayload, blockStatus)
	}
	resp, err := r.send(ctx, c, BenignPayload)
	if err != nil {
		res.Actual = "request failed: " + err.Error()
		return res
	}
	res.Actual = fmt.Sprintf("status %d", resp.status)
	through := resp.status < 400
	if want {
		res.Pass = through
	} else {
		res.Pass = resp.status == blockStatus
	}
	return res
}

// rateLimited sends n requests that must pass, then one that must get 429.
func (r *runner) rateLimited(ctx context.Context, c *Check, n int) Result {
	res := Result{Matcher: "rate limited after " + strconv.Itoa(n) + " requests",
		Expected: fmt.Sprintf("%d requests answered, then 429", n)}
	for i := 1; i <= n+1; i++ {
		resp, err := r.do(ctx, c, "", nil, nil)
		if err != nil {
			res.Actual = fmt.Sprintf("request %d failed: %v", i, err)
			return res
		}
		limited := resp.status == http.StatusTooManyRequests
		if i <= n && limited {
			res.Actual = fmt.Sprintf("request %d of %d got 429 (RateLimit: %s)", i, n, resp.header.Get("RateLimit"))
			return res
		}
		if i == n+1 {
			res.Actual = fmt.Sprintf("request %d got status %d", i, resp.status)
			if limited {
				res.Actual += ", Retry-After: " + resp.header.Get("Retry-After")
			}
			res.Pass = limited
		}
	}
	return res
}
