package proxy

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/cache"
)

// The disk tier behind the request path: a stored response survives a new
// edge process (a new Store on the same directory) and is served as a hit
// without asking the origin; a purge removes it from disk too.
func TestCacheDiskTierSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ce := newCacheEdge(t, cache.Config{DiskDir: dir})
	o := newTestOrigin(t, ce.clock, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Surrogate-Key", "disk")
		io.WriteString(w, "kept on disk")
	})
	ce.put(t, cachedSite(o.srv.URL, api.CachePolicy{}))
	resp, body := ce.get(t, "GET", "/d", nil)
	wantStatus(t, resp, body, http.StatusOK)
	if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "stored") {
		t.Fatalf("first request: Cache-Status %q, want stored", cs)
	}
	if err := ce.store.Close(); err != nil { // flushes the disk writer
		t.Fatal(err)
	}

	restart := func() *cacheEdge {
		t.Helper()
		next := newCacheEdge(t, cache.Config{DiskDir: dir, Now: func() time.Time { return ce.clock.Now() }})
		next.put(t, cachedSite(o.srv.URL, api.CachePolicy{}))
		return next
	}
	ce2 := restart()
	resp, body = ce2.get(t, "GET", "/d", nil)
	wantStatus(t, resp, body, http.StatusOK)
	if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "; hit") || body != "kept on disk" {
		t.Fatalf("after restart: Cache-Status %q body %q, want a hit from disk", cs, body)
	}
	if n := o.count(); n != 1 {
		t.Fatalf("origin asked %d times, want once", n)
	}

	// A purge by tag on the restarted edge removes the object from disk:
	// a third process misses.
	if n := ce2.store.ApplyPurge(api.Purge{V: api.Version, ID: "p", Hostname: cacheHost, Tags: []string{"disk"}}, nil, ce.clock.Now().Add(time.Second)); n != 1 {
		t.Fatalf("purge removed %d objects, want 1", n)
	}
	if err := ce2.store.Close(); err != nil {
		t.Fatal(err)
	}
	ce3 := restart()
	resp, body = ce3.get(t, "GET", "/d", nil)
	wantStatus(t, resp, body, http.StatusOK)
	if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "fwd=miss") {
		t.Fatalf("after purge and restart: Cache-Status %q, want a miss", cs)
	}
	if n := o.count(); n != 2 {
		t.Fatalf("origin asked %d times, want twice", n)
	}
}
