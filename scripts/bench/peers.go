package main

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"
	"time"
)

// peerTemplates are the committed peer configs, rendered per run.
//
//go:embed peers/*.tmpl
var peerTemplates embed.FS

// Server IDs, stable in the JSON results.
const (
	srvEdge        = "edge"
	srvOrigin      = "origin"
	srvNginx       = "nginx"
	srvNginxModSec = "nginx-modsecurity"
	srvNginxCache  = "nginx-cache"
	srvVarnish     = "varnish"
	srvHAProxy     = "haproxy"
	srvCaddy       = "caddy"
)

// peerConfig is what a peer's templates (configs and command line) are rendered with.
type peerConfig struct {
	Dir        string // the peer's own temp dir: config, pid file, logs, cache
	Hostname   string
	Workers    int
	HTTPPort   int
	HTTPSPort  int // 0 for peers without TLS
	OriginAddr string
	OriginPort int
	CertFile   string
	KeyFile    string
	PEMFile    string

	ModSecurityModule string
	CRSSetupDir       string
	CRSRulesDir       string
	UnicodeMapFile    string // "" leaves SecUnicodeMapFile out
}

// peerSpec says how to run one peer: which packages it needs, which templates
// become which files in its dir, and its command line (each argument a template).
type peerSpec struct {
	ID       string
	Label    string
	Packages []string
	TLS      bool
	Files    []peerFile
	Dirs     []string // made under Dir before start
	Argv     []string
	Env      []string
	ReadyFor time.Duration // startup deadline
}

// peerFile is one rendered config file: a template in peers/ and the name
// it is written under in the peer's dir.
type peerFile struct {
	Template string
	Name     string
}

// peerSpecs is every peer the edge is compared with.
func peerSpecs() []peerSpec {
	nginxArgv := []string{"nginx", "-p", "{{.Dir}}", "-e", "{{.Dir}}/error.log", "-c", "{{.Dir}}/nginx.conf"}
	return []peerSpec{
		{
			ID: srvNginx, Label: "nginx", Packages: []string{"nginx"}, TLS: true,
			Files: []peerFile{{"nginx.conf.tmpl", "nginx.conf"}},
			Argv:  nginxArgv, ReadyFor: 10 * time.Second,
		},
		{
			ID: srvNginxModSec, Label: "nginx + ModSecurity + CRS",
			Packages: []string{"nginx", "libnginx-mod-http-modsecurity", "modsecurity-crs"},
			Files:    []peerFile{{"nginx-modsecurity.conf.tmpl", "nginx.conf"}, {"modsecurity.conf.tmpl", "modsecurity.conf"}},
			Dirs:     []string{"modsec-tmp", "modsec-data"},
			Argv:     nginxArgv, ReadyFor: 30 * time.Second,
		},
		{
			ID: srvNginxCache, Label: "nginx proxy_cache", Packages: []string{"nginx"},
			Files: []peerFile{{"nginx-cache.conf.tmpl", "nginx.conf"}},
			Argv:  nginxArgv, ReadyFor: 10 * time.Second,
		},
		{
			ID: srvVarnish, Label: "Varnish", Packages: []string{"varnish"},
			Files: []peerFile{{"varnish.vcl.tmpl", "default.vcl"}},
			// -j none: no privilege separation, so the temp dir needs no varnish user.
			Argv: []string{"varnishd", "-F", "-j", "none", "-n", "{{.Dir}}/varnish", "-T", "none",
				"-a", "127.0.0.1:{{.HTTPPort}}", "-f", "{{.Dir}}/default.vcl", "-s", "malloc,256m",
				"-P", "{{.Dir}}/varnishd.pid"},
			ReadyFor: 20 * time.Second,
		},
		{
			ID: srvHAProxy, Label: "HAProxy", Packages: []string{"haproxy"}, TLS: true,
			Files: []peerFile{{"haproxy.cfg.tmpl", "haproxy.cfg"}},
			Argv:  []string{"haproxy", "-db", "-f", "{{.Dir}}/haproxy.cfg"}, ReadyFor: 10 * time.Second,
		},
		{
			ID: srvCaddy, Label: "Caddy", Packages: []string{"caddy"}, TLS: true,
			Files: []peerFile{{"Caddyfile.tmpl", "Caddyfile"}},
			Argv:  []string{"caddy", "run", "--config", "{{.Dir}}/Caddyfile", "--adapter", "caddyfile"},
			// Keep Caddy's state out of the home directory.
			Env:      []string{"HOME={{.Dir}}", "XDG_DATA_HOME={{.Dir}}/data", "XDG_CONFIG_HOME={{.Dir}}/config"},
			ReadyFor: 10 * time.Second,
		},
	}
}

// renderTemplate renders one embedded peer template.
func renderTemplate(name string, cfg peerConfig) ([]byte, error) {
	t, err := template.New(name).Option("missingkey=error").ParseFS(peerTemplates, "peers/"+name)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, cfg); err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	return b.Bytes(), nil
}

// renderArgs renders each argument of a command line as a template.
func renderArgs(args []string, cfg peerConfig) ([]string, error) {
	out := make([]string, len(args))
	for i, a := range args {
		t, err := template.New("arg").Option("missingkey=error").Parse(a)
		if err != nil {
			return nil, fmt.Errorf("argument %q: %w", a, err)
		}
		var b strings.Builder
		if err := t.Execute(&b, cfg); err != nil {
			return nil, fmt.Errorf("argument %q: %w", a, err)
		}
		out[i] = b.String()
	}
	return out, nil
}

// server is one target of the workloads: a started peer, the edge or the origin.
type server struct {
	ID        string
	Label     string
	HTTPAddr  string   // plain HTTP listener, host:port
	HTTPSAddr string   // TLS listener, "" when the server has none
	proc      *process // nil for the in-process origin
	// Err says why the server is not available (not installed, failed to build or start).
	Err error
	// Unsupported says, per workload ID, why this server cannot run it.
	Unsupported map[string]string
}

// stop stops the server's process, if it has one.
func (s *server) stop() {
	if s.proc != nil {
		s.proc.stop(5 * time.Second)
	}
}

// startPeer renders spec's files into dir and starts it, waiting until it
// answers HTTP. The returned server always has ID and Label; Err is set when
// the peer is not available.
func startPeer(ctx context.Context, spec peerSpec, cfg peerConfig, pkgs packages) *server {
	s := &server{ID: spec.ID, Label: spec.Label}
	if err := pkgs.need(spec.Packages...); err != nil {
		s.Err = fmt.Errorf("not installed: %w", err)
		return s
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		s.Err = err
		return s
	}
	for _, d := range spec.Dirs {
		if err := os.MkdirAll(filepath.Join(cfg.Dir, d), 0o755); err != nil {
			s.Err = err
			return s
		}
	}
	for _, f := range spec.Files {
		data, err := renderTemplate(f.Template, cfg)
		if err == nil {
			err = os.WriteFile(filepath.Join(cfg.Dir, f.Name), data, 0o644)
		}
		if err != nil {
			s.Err = fmt.Errorf("config: %w", err)
			return s
		}
	}
	argv, err := renderArgs(spec.Argv, cfg)
	if err != nil {
		s.Err = err
		return s
	}
	env, err := renderArgs(spec.Env, cfg)
	if err != nil {
		s.Err = err
		return s
	}
	if _, err := exec.LookPath(argv[0]); err != nil {
		s.Err = fmt.Errorf("not installed: %w", err)
		return s
	}
	p, err := startProcess(spec.ID, cfg.Dir, argv, env)
	if err != nil {
		s.Err = err
		return s
	}
	s.proc = p
	s.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", cfg.HTTPPort)
	if spec.TLS {
		s.HTTPSAddr = fmt.Sprintf("127.0.0.1:%d", cfg.HTTPSPort)
	}
	if err := waitReady(ctx, p, s.HTTPAddr, spec.ReadyFor); err != nil {
		p.stop(2 * time.Second)
		s.Err = fmt.Errorf("failed to start: %w", err)
	}
	return s
}

// waitReady polls addr until it answers an HTTP request, the process exits,
// or the deadline passes.
func waitReady(ctx context.Context, p *process, addr string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var lastErr error
	for {
		if done, err := p.exited(); done {
			return fmt.Errorf("exited (%v): %s", err, p.outputTail())
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+pathNoStore1K, nil)
		req.Host = benchHost
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("not answering on %s after %v (%v): %s", addr, within, lastErr, p.outputTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// caddyCacheSupport says why Caddy is left out of the cache rows, or "" when
// it has a cache module (which no committed config uses yet).
func caddyCacheSupport(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "caddy", "list-modules").Output()
	if err != nil {
		return fmt.Sprintf("can't tell whether Caddy can cache (caddy list-modules: %v)", err)
	}
	if !strings.Contains(string(out), "http.handlers.cache") {
		return "can't cache: this Caddy has no cache module (no http.handlers.cache); measuring it would measure a plain proxy"
	}
	return "has a cache module, but no committed config uses it yet"
}
