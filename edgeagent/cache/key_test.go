package cache

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
)

func TestDecideKey(t *testing.T) {
	const host = "www.example.com"
	tests := []struct {
		name   string
		policy api.CachePolicy
		target string
		want   string // base key
	}{
		{"no query", api.CachePolicy{}, "/a/b", "http://www.example.com/a/b"},
		{"empty path", api.CachePolicy{}, "", "http://www.example.com/"},
		{"sorted by name", api.CachePolicy{}, "/p?b=2&a=1&c=3", "http://www.example.com/p?a=1&b=2&c=3"},
		{"repeated names keep their order", api.CachePolicy{}, "/p?b=2&a=9&a=1", "http://www.example.com/p?a=9&a=1&b=2"},
		{"empty pairs dropped", api.CachePolicy{}, "/p?&a=1&&", "http://www.example.com/p?a=1"},
		{"default ignored params", api.CachePolicy{}, "/p?utm_source=x&id=1&utm_medium=y&fbclid=z&gclid=w", "http://www.example.com/p?id=1"},
		{"only ignored params", api.CachePolicy{}, "/p?utm_campaign=x", "http://www.example.com/p"},
		{"ignored name percent-encoded", api.CachePolicy{}, "/p?%75tm_source=x&id=1", "http://www.example.com/p?id=1"},
		{"configured ignore prefix", api.CachePolicy{IgnoreParams: []string{"sess*", "ref"}}, "/p?session=1&sessid=2&ref=3&id=4", "http://www.example.com/p?id=4"},
		{"key params allow list", api.CachePolicy{KeyParams: []string{"id", "v*"}}, "/p?junk=1&id=2&version=3&utm_source=4", "http://www.example.com/p?id=2&version=3"},
		{"key params: none listed", api.CachePolicy{KeyParams: []string{"id"}}, "/p?junk=1", "http://www.example.com/p"},
		{"query hex upper-cased", api.CachePolicy{}, "/p?q=a%2fb", "http://www.example.com/p?q=a%2Fb"},
		{"query unreserved decoded", api.CachePolicy{}, "/p?q=%41%7e", "http://www.example.com/p?q=A~"},
		{"path hex upper-cased", api.CachePolicy{}, "/a%2fb", "http://www.example.com/a%2Fb"},
		{"path unreserved decoded", api.CachePolicy{}, "/%7Euser/%61", "http://www.example.com/~user/a"},
		{"dots inside a segment", api.CachePolicy{}, "/.well-known/a..b/c.", "http://www.example.com/.well-known/a..b/c."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://"+host+tt.target, nil)
			d := Compile(tt.policy).Decide(r, "http", host)
			if !d.Use {
				t.Fatalf("not cacheable: %s", d.Why)
			}
			if d.Base != tt.want {
				t.Errorf("base = %q, want %q", d.Base, tt.want)
			}
			if q := d.Base[len("http://"+host+d.Path):]; q != "" && q != "?"+d.Query {
				t.Errorf("query %q does not match base %q", d.Query, d.Base)
			}
		})
	}
}

func TestDecideSchemeAndHostInKey(t *testing.T) {
	sp := Compile(api.CachePolicy{})
	r := httptest.NewRequest("GET", "http://www.example.com/p", nil)
	a := sp.Decide(r, "http", "www.example.com")
	b := sp.Decide(r, "https", "www.example.com")
	c := sp.Decide(r, "http", "other.example.com")
	if a.Base == b.Base || a.Base == c.Base {
		t.Fatalf("keys collide: %q %q %q", a.Base, b.Base, c.Base)
	}
}

func TestDecideBypass(t *testing.T) {
	pol := api.CachePolicy{
		SessionCookies: []string{"sessionid", "wp_logged_in*"},
		Rules: []api.CacheRule{
			{Path: "/admin/*", Action: api.CacheBypass},
			{Path: "/static/*", Action: api.CacheAggressive, TTL: "1h", StaleIfError: "10m"},
			{Path: "/feed", TTL: "5m", StaleWhileRevalidate: "30s", Heuristic: true},
		},
	}
	sp := Compile(pol)
	tests := []struct {
		name   string
		path   string
		header map[string]string
		use    bool
		why    string
	}{
		{"plain", "/", nil, true, ""},
		{"authorization", "/", map[string]string{"Authorization": "Bearer x"}, false, "authorization"},
		{"empty authorization", "/", map[string]string{"Authorization": ""}, false, "authorization"},
		{"session cookie", "/", map[string]string{"Cookie": "a=1; sessionid=abc"}, false, "session cookie"},
		{"session cookie prefix", "/", map[string]string{"Cookie": "wp_logged_in_123=x"}, false, "session cookie"},
		{"other cookie", "/", map[string]string{"Cookie": "theme=dark; sessionidx=1"}, true, ""},
		{"bypass rule", "/admin/users", nil, false, "rule"},
		{"prefix rule does not match a sibling", "/administrator", nil, true, ""},
		{"dot-dot segment", "/static/../admin/x", nil, false, "dot segment"},
		{"dot segment", "/static/./x", nil, false, "dot segment"},
		{"trailing dot-dot", "/static/..", nil, false, "dot segment"},
		{"encoded dot-dot", "/static/%2e%2E/x", nil, false, "dot segment"},
		{"dot-dot before an encoded slash", "/static/..%2fx", nil, false, "dot segment"},
		{"dot-dot before an encoded backslash", "/static/..%5Cx", nil, false, "dot segment"},
		{"dot-dot with path parameters", "/static/..;a=b/x", nil, false, "dot segment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://www.example.com"+tt.path, nil)
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			d := sp.Decide(r, "https", "www.example.com")
			if d.Use != tt.use || d.Why != tt.why {
				t.Fatalf("Use=%v Why=%q, want %v %q", d.Use, d.Why, tt.use, tt.why)
			}
		})
	}

	// The first matching rule's policy is resolved.
	r := httptest.NewRequest("GET", "http://www.example.com/static/app.js", nil)
	if d := sp.Decide(r, "https", "www.example.com"); !d.Aggressive || d.TTL != time.Hour || d.SIE != 10*time.Minute {
		t.Errorf("static: %+v", d.Policy)
	}
	r = httptest.NewRequest("GET", "http://www.example.com/feed", nil)
	if d := sp.Decide(r, "https", "www.example.com"); d.Aggressive || d.TTL != 5*time.Minute || d.SWR != 30*time.Second || !d.Heuristic {
		t.Errorf("feed: %+v", d.Policy)
	}
	r = httptest.NewRequest("GET", "http://www.example.com/feed/x", nil)
	if d := sp.Decide(r, "https", "www.example.com"); d.Policy != (Policy{}) {
		t.Errorf("an exact rule matched a longer path: %+v", d.Policy)
	}

	if d := Compile(api.CachePolicy{Off: true}).Decide(r, "https", "www.example.com"); d.Use {
		t.Error("Off: cache used")
	}
	var nilPolicy *SitePolicy
	if d := nilPolicy.Decide(r, "https", "www.example.com"); d.Use {
		t.Error("nil policy: cache used")
	}
}

// TestVaryNormalisation stores one variant and looks it up with request
// headers that must (or must not) select it.
func TestVaryNormalisation(t *testing.T) {
	tests := []struct {
		vary   string
		stored string
		same   []string
		other  []string
	}{
		{
			vary:   "Accept-Encoding",
			stored: "gzip, deflate, br",
			same:   []string{"br,gzip,deflate", "BR, GZIP, Deflate", "gzip;q=1.0, br, deflate, identity, x-unknown", "x-gzip, br, deflate", "gzip, br, deflate, compress;q=0"},
			other:  []string{"gzip", "gzip, deflate", "gzip, deflate, br;q=0", "*", ""},
		},
		{
			vary:   "Accept-Language",
			stored: "en, de;q=0.5",
			same:   []string{"de;q=0.5, en", "EN, De; q=0.5", "en;q=1, de;q=0.50"},
			other:  []string{"en", "de;q=0.5, en, fr", "en, de;q=0.6", ""},
		},
		{
			vary:   "X-Device",
			stored: "mobile, tablet",
			same:   []string{"mobile,tablet", "mobile ,  tablet"},
			other:  []string{"tablet, mobile", "mobile", ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.vary, func(t *testing.T) {
			s := newTestStore(t, Config{})
			now := time.Now()
			o := testObject("https://www.example.com/v", "/v", now, http.Header{"Vary": {tt.vary}, "Cache-Control": {"max-age=60"}})
			reqH := func(v string) http.Header {
				h := http.Header{}
				if v != "" {
					h.Set(tt.vary, v)
				}
				return h
			}
			if !s.PutFor(o, reqH(tt.stored)) {
				t.Fatal("not stored")
			}
			for _, v := range append([]string{tt.stored}, tt.same...) {
				if s.Lookup(o.Base, reqH(v)) != o {
					t.Errorf("%s: %q does not select the variant stored for %q", tt.vary, v, tt.stored)
				}
			}
			for _, v := range tt.other {
				if got := s.Lookup(o.Base, reqH(v)); got != nil {
					t.Errorf("%s: %q selects the variant stored for %q", tt.vary, v, tt.stored)
				}
			}
		})
	}
}

// TestVaryAbsentDiffersFromEmpty: a request without the header and one
// with it empty are different variants.
func TestVaryAbsentDiffersFromEmpty(t *testing.T) {
	s := newTestStore(t, Config{})
	o := testObject("https://www.example.com/v", "/v", time.Now(), http.Header{"Vary": {"X-Thing"}})
	s.PutFor(o, http.Header{})
	if s.Lookup(o.Base, http.Header{"X-Thing": {""}}) != nil {
		t.Error("an empty header selected the variant stored without it")
	}
	if s.Lookup(o.Base, http.Header{}) != o {
		t.Error("the variant is not found again")
	}
}

// TestVaryChangeDropsOldVariants: when the resource starts varying on a
// different header, variants stored under the old Vary are dropped.
func TestVaryChangeDropsOldVariants(t *testing.T) {
	s := newTestStore(t, Config{})
	now := time.Now()
	gz := testObject("https://www.example.com/v", "/v", now, http.Header{"Vary": {"Accept-Encoding"}})
	s.PutFor(gz, http.Header{"Accept-Encoding": {"gzip"}})
	br := testObject("https://www.example.com/v", "/v", now, http.Header{"Vary": {"Accept-Encoding"}})
	s.PutFor(br, http.Header{"Accept-Encoding": {"br"}})
	if s.Lookup(gz.Base, http.Header{"Accept-Encoding": {"gzip"}}) != gz || s.Lookup(gz.Base, http.Header{"Accept-Encoding": {"br"}}) != br {
		t.Fatal("two variants are not both stored")
	}
	lang := testObject("https://www.example.com/v", "/v", now, http.Header{"Vary": {"Accept-Language"}})
	s.PutFor(lang, http.Header{"Accept-Encoding": {"gzip"}, "Accept-Language": {"en"}})
	if got := s.Lookup(gz.Base, http.Header{"Accept-Encoding": {"br"}, "Accept-Language": {"en"}}); got != lang {
		t.Errorf("lookup after Vary change = %v, want the new object", got)
	}
	s.mem.CleanUp()
	if n := s.Len(); n != 1 {
		t.Errorf("%d objects after the Vary change, want 1", n)
	}
}

func TestHasDotSegment(t *testing.T) {
	for p, want := range map[string]bool{
		"/":                 false,
		"/static/app.js":    false,
		"/.well-known/x":    false,
		"/a..b/c.":          false,
		"/a/...":            false,
		"/a/..":             true,
		"/a/.":              true,
		"/../a":             true,
		"./a":               true,
		"/a/../b":           true,
		"/a/..%2Fb":         true,
		"/a/..%5Cb":         true,
		"/a/.%2F":           true,
		`/a/..\b`:           true,
		"/a/..;x=1/b":       true,
		"/a/x;..":           false,
		"/a/%2E%2E/b":       false, // callers pass normalised paths (%2E is decoded)
		"/a/..%2":           false,
		"/a/b%2F..%2Fc.txt": true,
	} {
		if got := hasDotSegment(p); got != want {
			t.Errorf("hasDotSegment(%q) = %v, want %v", p, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { hasDotSegment("/static/app.v2.js") }); n != 0 {
		t.Errorf("%v allocations per call", n)
	}
}
