package main

import (
	"context"
	"encoding/json"
	"github.com/rampart-edge/rampart/edgeagent/catalog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-edge/rampart/controlsvc/api"
)

func TestWriteEdgeConfig(t *testing.T) {
	dir := t.TempDir()
	cert, err := newTestCert(dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "static.json")
	if err := writeEdgeConfig(path, "127.0.0.1:9000", cert); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Decode sites the way the edge does: strictly, then validated.
	var raw struct {
		Sites []json.RawMessage    `json:"sites"`
		Certs []catalog.StaticCert `json:"certs"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	hosts := map[string]bool{}
	for _, s := range raw.Sites {
		site, err := api.ParseSite(s)
		if err != nil {
			t.Fatalf("site %s: %v", s, err)
		}
		hosts[site.Hostname] = true
		if len(site.Origins) != 1 || site.Origins[0].URL != "http://127.0.0.1:9000" || site.HTTPS.HTTPMode() != api.HTTPAllow {
			t.Errorf("site %s: %+v", site.Hostname, site)
		}
	}
	for _, h := range []string{edgeHostFor(""), edgeHostFor(featureWAF), edgeHostFor(featureCache)} {
		if !hosts[h] {
			t.Errorf("no site for %s", h)
		}
	}
	if len(raw.Certs) != len(raw.Sites) {
		t.Fatalf("%d certs for %d sites", len(raw.Certs), len(raw.Sites))
	}
	for _, c := range raw.Certs {
		if !hosts[c.Hostname] || c.ChainPEM != string(cert.ChainPEM) || c.KeyPEM != string(cert.KeyPEM) {
			t.Errorf("cert for %s does not match the bench cert", c.Hostname)
		}
	}
}

func TestEdgeHostFor(t *testing.T) {
	for feature, want := range map[string]string{"": "bench.test", featureWAF: "waf.bench.test", featureCache: "cache.bench.test"} {
		if got := edgeHostFor(feature); got != want {
			t.Errorf("edgeHostFor(%q) = %q, want %q", feature, got, want)
		}
	}
}

// TestStartEdgeBuildFailure: an edge that does not build is reported as such,
// with go build's reason, and has no process to measure.
func TestStartEdgeBuildFailure(t *testing.T) {
	dir := t.TempDir()
	cert, err := newTestCert(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := startEdge(context.Background(), t.TempDir(), filepath.Join(dir, "edge"), "127.0.0.1:9000", cert)
	if s.Err == nil || !strings.HasPrefix(s.Err.Error(), "build failed: ") {
		t.Fatalf("err = %v, want a build failure", s.Err)
	}
	if s.proc != nil {
		t.Error("a process was started for an edge that did not build")
	}
}
