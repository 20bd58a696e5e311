package labnet

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
)

// cacheGet fetches path from one edge and returns the Cache-Status header.
func cacheGet(roots *x509.CertPool, edgeAddr, host, path string) (int, string, error) {
	return cacheGetWith(roots, edgeAddr, host, path, nil)
}

// cacheGetWith is cacheGet with request headers.
func cacheGetWith(roots *x509.CertPool, edgeAddr, host, path string, hdr map[string]string) (int, string, error) {
	resp, _, err := edgeDo(roots, edgeAddr, host, path, hdr)
	if err != nil {
		return 0, "", err
	}
	return resp.StatusCode, resp.Header.Get("Cache-Status"), nil
}

// cachedStaticSite creates host in front of a new static origin with an
// aggressive one-hour cache rule; the origin stops with the test.
func cachedStaticSite(t *testing.T, ctx context.Context, l *Lab, host string) *StaticOrigin {
	t.Helper()
	static, err := StartStaticOrigin("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { static.Close() })
	site := api.Site{V: api.Version, Hostname: host, Origins: []api.Origin{{URL: static.URL()}},
		Cache: api.CachePolicy{Rules: []api.CacheRule{{Path: "/*", Action: api.CacheAggressive, TTL: "1h"}}}}
	if err := l.CreateSites(ctx, site); err != nil {
		t.Fatal(err)
	}
	return static
}

// waitCached requests each path from an edge until it is a cache hit.
func waitCached(t *testing.T, roots *x509.CertPool, e *Edge, host string, paths ...string) {
	t.Helper()
	for _, path := range paths {
		eventually(t, e.Node+" caching "+path, 30*time.Second, func() error {
			status, cs, err := cacheGet(roots, e.Agent.Addr("https"), host, path)
			if err != nil || status != http.StatusOK || !strings.Contains(cs, "; hit") {
				return fmt.Errorf("%d %q %v", status, cs, err)
			}
			return nil
		})
	}
}

// testPurge caches an object in every region's edge, purges it through the
// admin API and checks that every edge confirmed and misses next time,
// while what was not purged stays cached.
func testPurge(t *testing.T, ctx context.Context, l *Lab, roots *x509.CertPool) {
	host := "cache.rampart.test"
	cachedStaticSite(t, ctx, l, host)
	edges := l.Edges()
	for _, e := range edges {
		waitCached(t, roots, e, host, "/purge/a", "/purge/b", "/keep/c")
	}

	purge := func(body any) api.PurgeResult {
		t.Helper()
		status, out, err := l.API(ctx, "POST", "/sites/"+host+"/purge", body)
		if err != nil || status != http.StatusOK {
			t.Fatalf("purge %v: %d %s %v", body, status, out, err)
		}
		var res api.PurgeResult
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatal(err)
		}
		var got, want []string
		for _, a := range res.Confirmed {
			if a.Error != "" {
				t.Errorf("%s/%s: %s", a.Region, a.Node, a.Error)
			}
			got = append(got, a.Region+"/"+a.Node)
		}
		for _, e := range edges {
			want = append(want, e.Region+"/"+e.Node)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) || len(res.Pending) != 0 {
			t.Fatalf("purge %v confirmed by %v (pending %v), want every edge %v", body, got, res.Pending, want)
		}
		return res
	}
	expect := func(path, want string) {
		t.Helper()
		for _, e := range edges {
			status, cs, err := cacheGet(roots, e.Agent.Addr("https"), host, path)
			if err != nil || status != http.StatusOK || !strings.Contains(cs, want) {
				t.Errorf("%s %s: %d Cache-Status %q %v, want %q", e.Node, path, status, cs, err, want)
			}
		}
	}

	res := purge(map[string]any{"urls": []string{"https://" + host + "/purge/a"}})
	for _, a := range res.Confirmed {
		if a.Removed != 1 {
			t.Errorf("%s/%s removed %d objects for one URL, want 1", a.Region, a.Node, a.Removed)
		}
	}
	expect("/purge/a", "fwd=miss")
	expect("/purge/b", "; hit")
	purge(map[string]any{"prefixes": []string{"/purge/"}})
	expect("/purge/b", "fwd=miss")
	expect("/keep/c", "; hit")

	// Bad input names the field; a URL on another host is refused.
	for body, field := range map[string]map[string]any{
		"urls[0]":     {"urls": []string{"https://other.example/x"}},
		"prefixes[0]": {"prefixes": []string{"nope"}},
		"":            {},
	} {
		status, out, _ := l.API(ctx, "POST", "/sites/"+host+"/purge", field)
		var e struct{ Field string }
		json.Unmarshal(out, &e)
		if status != http.StatusBadRequest || e.Field != body {
			t.Errorf("purge %v: %d %s, want 400 naming %q", field, status, out, body)
		}
	}
	if status, _, _ := l.API(ctx, "POST", "/sites/nosuch.rampart.test/purge", map[string]any{"all": true}); status != http.StatusNotFound {
		t.Errorf("purge of an unknown site: %d, want 404", status)
	}
}

// testPurgeWhileDown: an edge with a disk tier is stopped holding a cached
// object; the object is purged while it is down; restarted, the edge
// applies the stored purge before it serves from disk, so the purged
// object is a miss while one that was not purged is still a hit from disk.
func testPurgeWhileDown(t *testing.T, ctx context.Context, l *Lab, roots *x509.CertPool) {
	host := "down.rampart.test"
	static := cachedStaticSite(t, ctx, l, host)
	r := l.cfg.Regions[1]
	e := l.Edge(r)
	waitCached(t, roots, e, host, "/gone", "/kept")
	if err := l.StopEdge(r); err != nil {
		t.Fatal(err)
	}
	status, out, err := l.API(ctx, "POST", "/sites/"+host+"/purge", map[string]any{"urls": []string{"/gone"}})
	if err != nil || (status != http.StatusOK && status != http.StatusAccepted) {
		t.Fatalf("purge: %d %s %v", status, out, err)
	}
	var res api.PurgeResult
	json.Unmarshal(out, &res)
	for _, a := range res.Confirmed {
		if a.Region == r {
			t.Fatalf("the stopped edge confirmed: %+v", res)
		}
	}
	if err := l.StartEdge(ctx, r); err != nil {
		t.Fatal(err)
	}
	e = l.Edge(r)
	// only-if-cached never goes to the origin: /kept is answered from the
	// disk tier once the edge has applied the purges it missed (before
	// that the disk is held back and the answer is 504) ...
	onlyCached := map[string]string{"Cache-Control": "only-if-cached"}
	before := static.Requests()
	eventually(t, e.Node+" serving /kept from disk after restart", 30*time.Second, func() error {
		status, cs, err := cacheGetWith(roots, e.Agent.Addr("https"), host, "/kept", onlyCached)
		if err != nil || status != http.StatusOK || !strings.Contains(cs, "; hit") {
			return fmt.Errorf("%d %q %v", status, cs, err)
		}
		return nil
	})
	// ... and /gone, purged while the edge was down, is not there.
	if status, cs, err := cacheGetWith(roots, e.Agent.Addr("https"), host, "/gone", onlyCached); err != nil || status != http.StatusGatewayTimeout {
		t.Errorf("/gone after restart: %d Cache-Status %q %v, want 504 (purged while the edge was down)", status, cs, err)
	}
	if n := static.Requests(); n != before {
		t.Errorf("the origin was asked %d times after the restart, want none", n-before)
	}
}
