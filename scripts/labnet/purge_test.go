package labnet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
)

// cacheGet fetches path from one edge and returns the Cache-Status header.
func cacheGet(roots *x509.CertPool, edgeAddr, host, path string) (int, string, error) {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, network, edgeAddr)
		},
		TLSClientConfig:   &tls.Config{RootCAs: roots, ServerName: host},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	resp, err := c.Get("https://" + host + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Cache-Status"), err
}

// testPurge caches an object in every region's edge, purges it through the
// admin API and checks that every edge confirmed and misses next time,
// while what was not purged stays cached.
func testPurge(t *testing.T, ctx context.Context, l *Lab, roots *x509.CertPool) {
	host := "cache.rampart.test"
	static, err := StartStaticOrigin("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer static.Close()
	site := api.Site{V: api.Version, Hostname: host, Origins: []api.Origin{{URL: static.URL()}},
		Cache: api.CachePolicy{Rules: []api.CacheRule{{Path: "/*", Action: api.CacheAggressive, TTL: "1h"}}}}
	if err := l.CreateSites(ctx, site); err != nil {
		t.Fatal(err)
	}
	edges := l.Edges()
	for _, e := range edges {
		for _, path := range []string{"/purge/a", "/purge/b", "/keep/c"} {
			eventually(t, e.Node+" caching "+path, 30*time.Second, func() error {
				status, cs, err := cacheGet(roots, e.Agent.Addr("https"), host, path)
				if err != nil || status != http.StatusOK || !strings.Contains(cs, "; hit") {
					return fmt.Errorf("%d %q %v", status, cs, err)
				}
				return nil
			})
		}
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
