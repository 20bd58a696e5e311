package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/catalog"
	"github.com/rampart-edge/rampart/scripts/internal/tool"
)

// staticConfig is the edge agent's -static file (catalog.StaticFile) with
// typed sites: its sites and certificates without a control plane.
type staticConfig struct {
	Sites []api.Site           `json:"sites"`
	Certs []catalog.StaticCert `json:"certs"`
}

// edgeHostFor is the edge site a workload needing feature uses: each feature
// gets its own site, so that the plain proxy rows never pay for a WAF or cache.
func edgeHostFor(feature string) string {
	switch feature {
	case featureWAF:
		return "waf." + benchHost
	case featureCache:
		return "cache." + benchHost
	}
	return benchHost
}

// edgeSites are the edge's sites, all in front of the origin.
func edgeSites(originAddr string) []api.Site {
	site := func(host string) api.Site {
		return api.Site{
			V:        api.Version,
			Hostname: host,
			Origins:  []api.Origin{{URL: "http://" + originAddr}},
			HTTPS:    api.HTTPSPolicy{HTTP: api.HTTPAllow},
		}
	}
	plain := site(edgeHostFor(""))
	plain.Cache = api.CachePolicy{Off: true}
	waf := site(edgeHostFor(featureWAF))
	waf.Cache = api.CachePolicy{Off: true}
	// CRS at paranoia level 1 in block mode, inspecting responses too, as
	// the ModSecurity peer runs.
	waf.WAF = api.WAFPolicy{Mode: api.WAFBlock, Paranoia: 1, InspectResponse: true}
	cache := site(edgeHostFor(featureCache))
	// The standard policy: honour the origin's Cache-Control, as nginx
	// proxy_cache and Varnish do.
	cache.Cache = api.CachePolicy{}
	return []api.Site{plain, waf, cache}
}

// writeEdgeConfig writes the -static file, validating every site as the edge will.
func writeEdgeConfig(path, originAddr string, cert *testCert) error {
	cfg := staticConfig{Sites: edgeSites(originAddr)}
	for _, s := range cfg.Sites {
		if err := s.Validate(); err != nil {
			return fmt.Errorf("edge site %q: %w", s.Hostname, err)
		}
		cfg.Certs = append(cfg.Certs, catalog.StaticCert{Hostname: s.Hostname, ChainPEM: string(cert.ChainPEM), KeyPEM: string(cert.KeyPEM)})
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("edge config: %w", err)
	}
	return os.WriteFile(path, data, 0o600)
}

// buildEdge builds the edge agent from the work tree into dir.
func buildEdge(ctx context.Context, repoRoot, dir string) (string, error) {
	bin := filepath.Join(dir, "edgeagent")
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./edgeagent/cmd/edgeagent")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build failed: %v: %s", err, tool.LastLines(string(out), 4))
	}
	return bin, nil
}

// startEdge builds and starts the edge agent in standalone mode. The returned
// server always has ID and Label; Err is set when the edge is not available.
func startEdge(ctx context.Context, repoRoot, dir string, originAddr string, cert *testCert) *server {
	s := &server{ID: srvEdge, Label: "edge"}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.Err = err
		return s
	}
	bin, err := buildEdge(ctx, repoRoot, dir)
	if err != nil {
		s.Err = err
		return s
	}
	staticPath := filepath.Join(dir, "static.json")
	if err := writeEdgeConfig(staticPath, originAddr, cert); err != nil {
		s.Err = err
		return s
	}
	var ports [3]int
	for i := range ports {
		if ports[i], err = tool.FreePort(); err != nil {
			s.Err = err
			return s
		}
	}
	s.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", ports[0])
	s.HTTPSAddr = fmt.Sprintf("127.0.0.1:%d", ports[1])
	argv := []string{bin,
		"-static", staticPath,
		"-http", s.HTTPAddr,
		"-https", s.HTTPSAddr,
		"-admin", fmt.Sprintf("127.0.0.1:%d", ports[2]),
		"-access-log", filepath.Join(dir, "access.log"),
	}
	p, err := startProcess(srvEdge, dir, argv, nil)
	if err != nil {
		s.Err = err
		return s
	}
	s.proc = p
	if err := waitReady(ctx, p, s.HTTPAddr, 15*time.Second); err != nil {
		p.stop(2 * time.Second)
		s.Err = fmt.Errorf("failed to start: %w", err)
	}
	return s
}
