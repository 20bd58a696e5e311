package cache

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/internal/fakeclock"
	"github.com/rampart-edge/rampart/edgeagent/internal/poll"
)

func newTestStore(t *testing.T, cfg Config) *Store {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// testObject is a 200 for base (an absolute URL) fetched at `at`.
func testObject(base, path string, at time.Time, h http.Header) *Object {
	u, err := url.Parse(base)
	if err != nil {
		panic(err)
	}
	if h == nil {
		h = http.Header{}
	}
	return &Object{
		Base: base, Host: u.Hostname(), Path: path, Status: 200, Header: h, Body: []byte("body of " + base),
		RequestTime: at, ResponseTime: at, StoredAt: at,
		Tags: Tags(h["Surrogate-Key"], h["Cache-Tag"]), Vary: varyFields(h["Vary"]),
	}
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) { t.Helper(); poll.Until(t, what, cond) }

// purgeFixture stores, for www.example.com: /page in two Vary variants
// over both schemes, /page?b=2&a=1, /static/ files with tags, and an
// object on another host.
type purgeFixture struct {
	s   *Store
	all map[string]*Object
	// lookup header for each object
	hdr map[string]http.Header
}

func newPurgeFixture(t *testing.T, cfg Config, at time.Time) *purgeFixture {
	f := &purgeFixture{s: newTestStore(t, cfg), all: map[string]*Object{}, hdr: map[string]http.Header{}}
	add := func(name, base, path string, h http.Header, req http.Header) {
		o := testObject(base, path, at, h)
		if !f.s.PutFor(o, req) {
			t.Fatalf("%s not stored", name)
		}
		f.all[name], f.hdr[name] = o, req
	}
	vary := func() http.Header { return http.Header{"Vary": {"Accept-Encoding"}} }
	gz := http.Header{"Accept-Encoding": {"gzip"}}
	br := http.Header{"Accept-Encoding": {"br"}}
	add("https page gzip", "https://www.example.com/page", "/page", vary(), gz)
	add("https page br", "https://www.example.com/page", "/page", vary(), br)
	add("http page gzip", "http://www.example.com/page", "/page", vary(), gz)
	add("http page br", "http://www.example.com/page", "/page", vary(), br)
	add("page with query", "https://www.example.com/page?a=1&b=2", "/page", nil, http.Header{})
	add("static a", "https://www.example.com/static/a.css", "/static/a.css", http.Header{"Surrogate-Key": {"css  theme"}}, http.Header{})
	add("static b", "https://www.example.com/static/b.js", "/static/b.js", http.Header{"Cache-Tag": {"js, bundle"}}, http.Header{})
	add("staticx", "https://www.example.com/staticx", "/staticx", nil, http.Header{})
	add("other host", "https://other.example.com/page", "/page", http.Header{"Surrogate-Key": {"css"}}, http.Header{})
	return f
}

// present lists which fixture objects are still found.
func (f *purgeFixture) check(t *testing.T, gone ...string) {
	t.Helper()
	isGone := map[string]bool{}
	for _, g := range gone {
		if f.all[g] == nil {
			t.Fatalf("no fixture object %q", g)
		}
		isGone[g] = true
	}
	for name, o := range f.all {
		found := f.s.Lookup(o.Base, f.hdr[name]) != nil
		if found && isGone[name] {
			t.Errorf("%s survived the purge", name)
		}
		if !found && !isGone[name] {
			t.Errorf("%s was purged", name)
		}
	}
}

func TestApplyPurge(t *testing.T) {
	pages := []string{"https page gzip", "https page br", "http page gzip", "http page br"}
	tests := []struct {
		name  string
		purge api.Purge
		n     int
		gone  []string
	}{
		{"url: every variant, both schemes", api.Purge{URLs: []string{"/page"}}, 4, pages},
		{"absolute url", api.Purge{URLs: []string{"https://www.example.com/page"}}, 4, pages},
		{"url with an unnormalised query", api.Purge{URLs: []string{"/page?b=2&utm_source=x&a=1"}}, 1, []string{"page with query"}},
		{"url percent-encoded", api.Purge{URLs: []string{"/st%61tic/a.css"}}, 1, []string{"static a"}},
		{"prefix", api.Purge{Prefixes: []string{"/static/"}}, 2, []string{"static a", "static b"}},
		{"tag in Surrogate-Key", api.Purge{Tags: []string{"theme"}}, 1, []string{"static a"}},
		{"tag in Cache-Tag", api.Purge{Tags: []string{"bundle"}}, 1, []string{"static b"}},
		{"unknown tag", api.Purge{Tags: []string{"nope"}}, 0, nil},
		{"all", api.Purge{All: true}, 8, append([]string{"page with query", "static a", "static b", "staticx"}, pages...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newPurgeFixture(t, Config{}, t0)
			tt.purge.Hostname = "www.example.com"
			if n := f.s.ApplyPurge(tt.purge, nil, t0.Add(time.Second)); n != tt.n {
				t.Errorf("purged %d, want %d", n, tt.n)
			}
			f.check(t, tt.gone...)
			_, _, purged := f.s.Stats()
			if purged != uint64(tt.n) {
				t.Errorf("purged counter %d, want %d", purged, tt.n)
			}
		})
	}
}

// TestApplyPurgeUsesSitePolicy: URLs are normalised with the site's own
// key parameters.
func TestApplyPurgeUsesSitePolicy(t *testing.T) {
	s := newTestStore(t, Config{})
	o := testObject("https://www.example.com/p?id=1", "/p", t0, nil)
	s.PutFor(o, http.Header{})
	sp := Compile(api.CachePolicy{KeyParams: []string{"id"}})
	if n := s.ApplyPurge(api.Purge{Hostname: "www.example.com", URLs: []string{"/p?id=1&page=2"}}, sp, t0.Add(time.Second)); n != 1 {
		t.Fatalf("purged %d, want 1", n)
	}
}

// TestPurgeSparesLaterObjects: objects stored at or after `before` (the
// moment the edge learnt of the purge) are kept.
func TestPurgeSparesLaterObjects(t *testing.T) {
	s := newTestStore(t, Config{})
	old := testObject("https://www.example.com/old", "/old", t0, nil)
	later := testObject("https://www.example.com/new", "/new", t0.Add(2*time.Second), nil)
	s.PutFor(old, http.Header{})
	s.PutFor(later, http.Header{})
	if n := s.ApplyPurge(api.Purge{Hostname: "www.example.com", All: true}, nil, t0.Add(time.Second)); n != 1 {
		t.Fatalf("purged %d, want 1", n)
	}
	if s.Lookup(old.Base, nil) != nil {
		t.Error("the object stored before the purge survived")
	}
	if s.Lookup(later.Base, nil) != later {
		t.Error("the object stored after the purge was removed")
	}
}

// TestFillRacingPurgeIsDropped: a response whose origin request started
// before a purge is not stored after it, even though it arrives later.
func TestFillRacingPurgeIsDropped(t *testing.T) {
	s := newTestStore(t, Config{})
	purgeAt := t0.Add(10 * time.Second)
	s.ApplyPurge(api.Purge{Hostname: "www.example.com", URLs: []string{"/p"}}, nil, purgeAt)

	racing := testObject("https://www.example.com/p", "/p", purgeAt.Add(-time.Second), nil)
	racing.ResponseTime = purgeAt.Add(time.Second)
	if s.PutFor(racing, http.Header{}) {
		t.Error("a fill that started before the purge was stored")
	}
	if s.Lookup(racing.Base, nil) != nil {
		t.Error("the racing fill is served")
	}
	// Another host is not affected, and a fill that started after is stored.
	if !s.PutFor(testObject("https://other.example.com/p", "/p", purgeAt.Add(-time.Second), nil), http.Header{}) {
		t.Error("a purge of one host blocked another's fill")
	}
	if !s.PutFor(testObject("https://www.example.com/p", "/p", purgeAt, nil), http.Header{}) {
		t.Error("a fill that started at the purge was dropped")
	}
}

func TestInvalidateURL(t *testing.T) {
	f := newPurgeFixture(t, Config{}, t0)
	if n := f.s.InvalidateURL("www.example.com", "/page"); n != 4 {
		t.Errorf("invalidated %d, want 4", n)
	}
	f.check(t, "https page gzip", "https page br", "http page gzip", "http page br")
	// InvalidateURL sets no purge time: a fill in flight is still stored.
	if !f.s.PutFor(testObject("https://www.example.com/page", "/page", t0, nil), http.Header{}) {
		t.Error("fill after an invalidation dropped")
	}
}

func TestStoreByteBound(t *testing.T) {
	s := newTestStore(t, Config{MaxBytes: 64 << 10})
	for i := range 200 {
		o := testObject("https://www.example.com/o"+strconv.Itoa(i), "/o", t0, nil)
		o.Body = make([]byte, 2<<10)
		s.PutFor(o, http.Header{})
	}
	s.mem.CleanUp()
	if b := s.Bytes(); b > 64<<10 {
		t.Errorf("memory tier holds %d bytes, bound is %d", b, 64<<10)
	}
	// The eviction listener runs on otter's executor.
	waitFor(t, "the eviction counter", func() bool { _, evicted, _ := s.Stats(); return evicted > 0 })
	if s.Len() >= 200 || s.Len() == 0 {
		t.Errorf("%d objects kept", s.Len())
	}
}

// TestFlightCoalesces: the first Join leads, the rest follow and see what
// it stored when it finishes.
func TestFlightCoalesces(t *testing.T) {
	s := newTestStore(t, Config{})
	fl, leader := s.Join("k")
	if !leader || fl == nil {
		t.Fatal("first Join does not lead")
	}
	const n = 5
	results := make(chan bool, n)
	for range n {
		f2, lead2 := s.Join("k")
		if lead2 || f2 != fl {
			t.Fatal("a second Join leads or gets another flight")
		}
		go func() { results <- f2.Wait(time.Minute, nil) }()
	}
	s.Finish("k", fl, true)
	for range n {
		if !<-results {
			t.Error("a follower did not see the stored response")
		}
	}
	if _, leader := s.Join("k"); !leader {
		t.Error("the next Join after Finish does not lead")
	}
}

// TestFlightPass: a leader whose response cannot be stored releases its
// followers before it is done, and the key is not coalesced for a while.
func TestFlightPass(t *testing.T) {
	c := fakeclock.New(t0)
	s := newTestStore(t, Config{Now: c.Now})
	fl, _ := s.Join("k")
	f2, _ := s.Join("k")
	released := make(chan bool, 1)
	go func() { released <- f2.Wait(time.Minute, nil) }()
	s.Pass("k", fl)
	select {
	case stored := <-released:
		if stored {
			t.Error("a passed flight reports a stored response")
		}
	case <-time.After(10 * time.Second):
		s.Finish("k", fl, false)
		t.Fatal("Pass did not release the waiting request")
	}
	// The leader has not finished yet: the key is still not coalesced.
	if f, leader := s.Join("k"); f != nil || leader {
		t.Error("a key known to be uncacheable coalesces")
	}
	s.Finish("k", fl, false)
	if f, leader := s.Join("k"); f != nil || leader {
		t.Error("an unstored Finish cleared the uncacheable mark")
	}
	c.Advance(passFor + time.Second)
	f3, leader := s.Join("k")
	if !leader {
		t.Fatal("the uncacheable mark does not expire")
	}
	// A stored response clears the mark at once.
	s.Pass("k", f3)
	s.Finish("k", f3, true)
	if _, leader := s.Join("k"); !leader {
		t.Error("a stored response did not clear the uncacheable mark")
	}
}

func TestFlightWaitBounded(t *testing.T) {
	s := newTestStore(t, Config{})
	s.Join("k")
	f2, _ := s.Join("k")
	cancel := make(chan struct{})
	close(cancel)
	if f2.Wait(time.Minute, cancel) {
		t.Error("a cancelled wait reports a stored response")
	}
	if f2.Wait(time.Millisecond, nil) {
		t.Error("a timed-out wait reports a stored response")
	}
}
