package cache

import (
	"net/http"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func httpDate(t time.Time) string { return t.UTC().Format(http.TimeFormat) }

func TestFreshness(t *testing.T) {
	aggressive := Policy{Aggressive: true, TTL: time.Hour}
	tests := []struct {
		name   string
		status int // 0 means 200
		header http.Header
		policy Policy
		// RequestTime is t0-delay, ResponseTime t0; Freshness is taken at
		// t0+after.
		delay, after time.Duration
		lifetime     time.Duration
		age          time.Duration
		fresh        bool
		noCache      bool
		mustReval    bool
	}{
		{name: "max-age", header: http.Header{"Cache-Control": {"max-age=60"}}, after: 30 * time.Second, lifetime: time.Minute, age: 30 * time.Second, fresh: true},
		{name: "max-age expired", header: http.Header{"Cache-Control": {"max-age=60"}}, after: 61 * time.Second, lifetime: time.Minute, age: 61 * time.Second},
		{name: "s-maxage beats max-age and implies must-revalidate", header: http.Header{"Cache-Control": {"max-age=10, s-maxage=100"}}, after: 50 * time.Second, lifetime: 100 * time.Second, age: 50 * time.Second, fresh: true, mustReval: true},
		{name: "max-age beats Expires", header: http.Header{"Cache-Control": {"max-age=10"}, "Date": {httpDate(t0)}, "Expires": {httpDate(t0.Add(time.Hour))}}, after: 20 * time.Second, lifetime: 10 * time.Second, age: 20 * time.Second},
		{name: "Expires minus Date", header: http.Header{"Date": {httpDate(t0.Add(-10 * time.Second))}, "Expires": {httpDate(t0.Add(40 * time.Second))}}, lifetime: 50 * time.Second, age: 10 * time.Second, fresh: true},
		{name: "invalid Expires is expired", header: http.Header{"Expires": {"0"}}, lifetime: 0},
		{name: "CDN-Cache-Control replaces Cache-Control", header: http.Header{"Cdn-Cache-Control": {"max-age=300"}, "Cache-Control": {"s-maxage=5, no-cache, must-revalidate"}}, after: time.Minute, lifetime: 5 * time.Minute, age: time.Minute, fresh: true},
		{name: "CDN-Cache-Control beats Surrogate-Control", header: http.Header{"Cdn-Cache-Control": {"max-age=300"}, "Surrogate-Control": {"max-age=5"}}, lifetime: 5 * time.Minute, fresh: true},
		{name: "Surrogate-Control replaces Cache-Control", header: http.Header{"Surrogate-Control": {"max-age=77"}, "Cache-Control": {"max-age=5, no-cache"}}, lifetime: 77 * time.Second, fresh: true},
		{name: "Surrogate-Control targeted at this cache wins", header: http.Header{"Surrogate-Control": {"max-age=10, max-age=200;rampart"}}, lifetime: 200 * time.Second, fresh: true},
		{name: "Surrogate-Control targeted elsewhere is ignored", header: http.Header{"Surrogate-Control": {"max-age=50;othercdn"}, "Cache-Control": {"max-age=5"}}, lifetime: 5 * time.Second, fresh: true},
		{name: "targeted field ignores Expires", header: http.Header{"Cdn-Cache-Control": {"public"}, "Expires": {httpDate(t0.Add(time.Hour))}}, lifetime: 0},
		{name: "targeted field ignores s-maxage", header: http.Header{"Cdn-Cache-Control": {"s-maxage=100, max-age=20"}}, lifetime: 20 * time.Second, fresh: true},
		{name: "Age counts", header: http.Header{"Cache-Control": {"max-age=60"}, "Age": {"30"}}, after: 10 * time.Second, lifetime: time.Minute, age: 40 * time.Second, fresh: true},
		{name: "Age list: first member", header: http.Header{"Cache-Control": {"max-age=60"}, "Age": {"30, 50"}}, lifetime: time.Minute, age: 30 * time.Second, fresh: true},
		{name: "invalid Age is stale", header: http.Header{"Cache-Control": {"max-age=60"}, "Age": {"abc"}}, lifetime: time.Minute, age: maxDelta},
		{name: "negative Age is stale", header: http.Header{"Cache-Control": {"max-age=60"}, "Age": {"-5"}}, lifetime: time.Minute, age: maxDelta},
		{name: "Age on two lines is stale", header: http.Header{"Cache-Control": {"max-age=60"}, "Age": {"1", "2"}}, lifetime: time.Minute, age: maxDelta},
		{name: "apparent age from Date", header: http.Header{"Cache-Control": {"max-age=60"}, "Date": {httpDate(t0.Add(-20 * time.Second))}}, lifetime: time.Minute, age: 20 * time.Second, fresh: true},
		{name: "response delay is added to Age", header: http.Header{"Cache-Control": {"max-age=60"}, "Age": {"10"}}, delay: 5 * time.Second, lifetime: time.Minute, age: 15 * time.Second, fresh: true},
		{name: "no freshness: stale", header: http.Header{"Last-Modified": {httpDate(t0.Add(-5 * 24 * time.Hour))}, "Date": {httpDate(t0)}}, lifetime: 0},
		{name: "heuristic: 10% of the age", header: http.Header{"Last-Modified": {httpDate(t0.Add(-5 * 24 * time.Hour))}, "Date": {httpDate(t0)}}, policy: Policy{Heuristic: true}, lifetime: 12 * time.Hour, fresh: true},
		{name: "heuristic: at most a day", header: http.Header{"Last-Modified": {httpDate(t0.Add(-100 * 24 * time.Hour))}, "Date": {httpDate(t0)}}, policy: Policy{Heuristic: true}, lifetime: 24 * time.Hour, fresh: true},
		{name: "heuristic: not for 302", status: 302, header: http.Header{"Last-Modified": {httpDate(t0.Add(-5 * 24 * time.Hour))}, "Date": {httpDate(t0)}}, policy: Policy{Heuristic: true}, lifetime: 0},
		{name: "heuristic: not over explicit freshness", header: http.Header{"Cache-Control": {"max-age=5"}, "Last-Modified": {httpDate(t0.Add(-5 * 24 * time.Hour))}, "Date": {httpDate(t0)}}, policy: Policy{Heuristic: true}, lifetime: 5 * time.Second, fresh: true},
		{name: "rule default TTL", header: http.Header{}, policy: Policy{TTL: 5 * time.Minute}, lifetime: 5 * time.Minute, fresh: true},
		{name: "origin freshness beats the default TTL", header: http.Header{"Cache-Control": {"max-age=10"}}, policy: Policy{TTL: 5 * time.Minute}, lifetime: 10 * time.Second, fresh: true},
		{name: "aggressive TTL beats the origin", header: http.Header{"Cache-Control": {"max-age=10, no-cache, must-revalidate"}}, policy: aggressive, after: time.Minute, lifetime: time.Hour, age: time.Minute, fresh: true},
		{name: "aggressive does not apply to a 500", status: 500, header: http.Header{"Cache-Control": {"max-age=10"}}, policy: aggressive, lifetime: 10 * time.Second, fresh: true},
		{name: "no-cache", header: http.Header{"Cache-Control": {"max-age=600, no-cache"}}, lifetime: 10 * time.Minute, noCache: true},
		{name: "must-revalidate", header: http.Header{"Cache-Control": {"max-age=600, must-revalidate"}}, lifetime: 10 * time.Minute, fresh: true, mustReval: true},
		{name: "proxy-revalidate", header: http.Header{"Cache-Control": {"max-age=600, proxy-revalidate"}}, lifetime: 10 * time.Minute, fresh: true, mustReval: true},
		{name: "duplicate directive keeps the first", header: http.Header{"Cache-Control": {"max-age=10", "max-age=1000"}}, lifetime: 10 * time.Second, fresh: true},
		{name: "malformed max-age is stale", header: http.Header{"Cache-Control": {"max-age=1a"}}, lifetime: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status := tt.status
			if status == 0 {
				status = 200
			}
			o := &Object{Status: status, Header: tt.header, RequestTime: t0.Add(-tt.delay), ResponseTime: t0, Policy: tt.policy}
			f := o.Freshness(t0.Add(tt.after))
			if f.Lifetime != tt.lifetime {
				t.Errorf("lifetime %v, want %v", f.Lifetime, tt.lifetime)
			}
			if f.Age != tt.age {
				t.Errorf("age %v, want %v", f.Age, tt.age)
			}
			if f.Fresh() != tt.fresh {
				t.Errorf("fresh %v, want %v", f.Fresh(), tt.fresh)
			}
			if f.NoCache != tt.noCache || f.MustRevalidate != tt.mustReval {
				t.Errorf("NoCache %v MustRevalidate %v, want %v %v", f.NoCache, f.MustRevalidate, tt.noCache, tt.mustReval)
			}
		})
	}
}

func TestFreshnessStaleWindows(t *testing.T) {
	tests := []struct {
		name     string
		cc       string
		policy   Policy
		swr, sie time.Duration
	}{
		{"none", "max-age=1", Policy{}, -1, -1},
		{"from the response", "max-age=1, stale-while-revalidate=30, stale-if-error=600", Policy{}, 30 * time.Second, 10 * time.Minute},
		{"from the rule", "max-age=1", Policy{SWR: time.Minute, SIE: time.Hour}, time.Minute, time.Hour},
		{"the response beats the rule", "max-age=1, stale-while-revalidate=5, stale-if-error=0", Policy{SWR: time.Minute, SIE: time.Hour}, 5 * time.Second, 0},
	}
	for _, tt := range tests {
		o := &Object{Status: 200, Header: http.Header{"Cache-Control": {tt.cc}}, RequestTime: t0, ResponseTime: t0, Policy: tt.policy}
		f := o.Freshness(t0.Add(10 * time.Second))
		if f.SWR != tt.swr || f.SIE != tt.sie {
			t.Errorf("%s: SWR %v SIE %v, want %v %v", tt.name, f.SWR, f.SIE, tt.swr, tt.sie)
		}
		if f.Staleness() != 9*time.Second || f.TTL() != 0 {
			t.Errorf("%s: staleness %v TTL %v", tt.name, f.Staleness(), f.TTL())
		}
	}
}

func TestStorable(t *testing.T) {
	aggressive := Policy{Aggressive: true, TTL: time.Hour}
	tests := []struct {
		name   string
		status int
		header http.Header
		reqCC  string
		policy Policy
		ok     bool
	}{
		{"max-age", 200, http.Header{"Cache-Control": {"max-age=60"}}, "", Policy{}, true},
		{"s-maxage", 200, http.Header{"Cache-Control": {"s-maxage=60"}}, "", Policy{}, true},
		{"Expires", 200, http.Header{"Expires": {httpDate(t0)}}, "", Policy{}, true},
		{"public", 200, http.Header{"Cache-Control": {"public"}}, "", Policy{}, true},
		{"no-cache is stored (and revalidated)", 200, http.Header{"Cache-Control": {"no-cache"}}, "", Policy{}, true},
		{"no freshness", 200, http.Header{"Content-Type": {"text/html"}}, "", Policy{}, false},
		{"no freshness with a rule TTL", 200, http.Header{}, "", Policy{TTL: time.Minute}, true},
		{"no freshness with a validator", 200, http.Header{"Etag": {`"x"`}}, "", Policy{}, true},
		{"no freshness, aggressive", 200, http.Header{}, "", aggressive, true},
		{"no-store", 200, http.Header{"Cache-Control": {"max-age=60, no-store"}}, "", Policy{}, false},
		{"private", 200, http.Header{"Cache-Control": {"private, max-age=60"}}, "", Policy{}, false},
		{"private=field", 200, http.Header{"Cache-Control": {`private="Set-Cookie", max-age=60`}}, "", Policy{}, false},
		{"private, aggressive", 200, http.Header{"Cache-Control": {"private"}}, "", aggressive, false},
		{"no-store, aggressive", 200, http.Header{"Cache-Control": {"no-store"}}, "", aggressive, false},
		{"Set-Cookie", 200, http.Header{"Cache-Control": {"public, max-age=60"}, "Set-Cookie": {"sid=1"}}, "", Policy{}, false},
		{"Set-Cookie, aggressive", 200, http.Header{"Set-Cookie": {"sid=1"}}, "", aggressive, false},
		{"request no-store", 200, http.Header{"Cache-Control": {"max-age=60"}}, "no-store", Policy{}, false},
		{"Vary *", 200, http.Header{"Cache-Control": {"max-age=60"}, "Vary": {"Accept, *"}}, "", Policy{}, false},
		{"Vary *, aggressive", 200, http.Header{"Vary": {"*"}}, "", aggressive, false},
		{"206", 206, http.Header{"Cache-Control": {"max-age=60"}}, "", Policy{}, false},
		{"304", 304, http.Header{"Cache-Control": {"max-age=60"}}, "", Policy{}, false},
		{"1xx", 103, http.Header{"Cache-Control": {"max-age=60"}}, "", Policy{}, false},
		{"CDN-Cache-Control overrides a Cache-Control no-store", 200, http.Header{"Cdn-Cache-Control": {"max-age=60"}, "Cache-Control": {"no-store"}}, "", Policy{}, true},
		{"CDN-Cache-Control no-store", 200, http.Header{"Cdn-Cache-Control": {"no-store"}, "Cache-Control": {"max-age=60"}}, "", Policy{}, false},
		{"Surrogate-Control no-store", 200, http.Header{"Surrogate-Control": {"no-store"}, "Cache-Control": {"max-age=60"}}, "", Policy{}, false},
		{"400 with max-age", 400, http.Header{"Cache-Control": {"max-age=60"}}, "", Policy{}, true},
		{"500 with Expires", 500, http.Header{"Expires": {httpDate(t0.Add(time.Hour))}}, "", Policy{}, true},
		{"400 with CDN-Cache-Control", 400, http.Header{"Cdn-Cache-Control": {"max-age=60"}}, "", Policy{}, true},
		{"400 with a targeted field and only Expires", 400, http.Header{"Cdn-Cache-Control": {"public"}, "Expires": {httpDate(t0.Add(time.Hour))}}, "", Policy{}, false},
		{"400 without freshness", 400, http.Header{}, "", Policy{TTL: time.Hour}, false},
		{"500, aggressive", 500, http.Header{}, "", aggressive, false},
		{"400 with Set-Cookie", 400, http.Header{"Cache-Control": {"max-age=60"}, "Set-Cookie": {"a=1"}}, "", Policy{}, false},
		{"400 with max-age=0", 400, http.Header{"Cache-Control": {"max-age=0"}}, "", Policy{}, false},
		{"must-understand, unknown status", 299, http.Header{"Cache-Control": {"must-understand, max-age=60"}}, "", Policy{}, false},
		{"404 with a rule TTL", 404, http.Header{}, "", Policy{TTL: time.Minute}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req []string
			if tt.reqCC != "" {
				req = []string{tt.reqCC}
			}
			ok, why := Storable(tt.status, tt.header, ParseDirectives(req), tt.policy)
			if ok != tt.ok {
				t.Fatalf("Storable = %v (%s), want %v", ok, why, tt.ok)
			}
			if !ok && why == "" {
				t.Error("refused without a reason")
			}
		})
	}
}

func TestParseDirectives(t *testing.T) {
	d := ParseDirectives([]string{`Max-Age=10, no-cache="Set-Cookie, X-A", private`, `s-maxage="20", max-stale, min-fresh=5, stale-if-error=99999999999`})
	if !d.Present() || d.MaxAge != 10*time.Second || d.SMaxAge != 20*time.Second || !d.NoCache || !d.Private || !d.MaxStaleAny || d.MinFresh != 5*time.Second {
		t.Errorf("%+v", d)
	}
	if d.StaleIfError != maxDelta {
		t.Errorf("an overflowing delta is %v, want 2^31 s", d.StaleIfError)
	}
	if d := ParseDirectives(nil); d.Present() || d.MaxAge != -1 || d.SMaxAge != -1 || d.StaleIfError != -1 {
		t.Errorf("absent field: %+v", d)
	}
}

func TestReflects(t *testing.T) {
	req := http.Header{
		"Host":       {"www.example.com"},
		"X-Evil":     {"<script>alert(1)</script>"},
		"X-Short":    {"abc"},
		"User-Agent": {"curl/8.0"},
		"Cookie":     {"a=1; tracking=zzz-secret-zzz"},
	}
	tests := []struct {
		body string
		want bool
	}{
		{"bad request", false},
		{"bad header <script>alert(1)</script>", true},
		{"abc is short, so is curl", false},
		{"ua curl/8.0", true},
		{"cookie zzz-secret-zzz", true},
		{"host www.example.com is not an echo", false},
	}
	for _, tt := range tests {
		if got := Reflects(req, []byte(tt.body)); got != tt.want {
			t.Errorf("Reflects(%q) = %v, want %v", tt.body, got, tt.want)
		}
	}
}

func TestTags(t *testing.T) {
	got := Tags([]string{"a  b", "c"}, []string{"d, a,,e"})
	want := []string{"a", "b", "c", "d", "e"}
	if len(got) != len(want) {
		t.Fatalf("%q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%q, want %q", got, want)
		}
	}
}
