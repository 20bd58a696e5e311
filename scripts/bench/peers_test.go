package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-edge/rampart/scripts/internal/tool"
)

// fixedPeerConfig renders the golden files: fixed paths and ports.
func fixedPeerConfig(id string) peerConfig {
	dir := "/tmp/rampart-bench/" + id
	return peerConfig{
		Dir: dir, Hostname: benchHost, Workers: 2,
		HTTPPort: 18080, HTTPSPort: 18443,
		OriginAddr: "127.0.0.1:19000", OriginPort: 19000,
		CertFile: "/tmp/rampart-bench/tls/bench.crt", KeyFile: "/tmp/rampart-bench/tls/bench.key",
		PEMFile:           "/tmp/rampart-bench/tls/bench.pem",
		ModSecurityModule: "/usr/lib/nginx/modules/ngx_http_modsecurity_module.so",
		CRSSetupDir:       "/etc/modsecurity/crs",
		CRSRulesDir:       "/usr/share/modsecurity-crs/rules",
		UnicodeMapFile:    "/etc/nginx/unicode.mapping",
	}
}

func TestPeerConfigsGolden(t *testing.T) {
	for _, spec := range peerSpecs() {
		cfg := fixedPeerConfig(spec.ID)
		for _, f := range spec.Files {
			t.Run(spec.ID+"/"+f.Name, func(t *testing.T) {
				got, err := renderTemplate(f.Template, cfg)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(got), "<no value>") {
					t.Errorf("%s has an unfilled field:\n%s", f.Template, got)
				}
				golden(t, filepath.Join("peers", spec.ID+"-"+f.Name+".golden"), got)
			})
		}
		t.Run(spec.ID+"/argv", func(t *testing.T) {
			argv, err := renderArgs(spec.Argv, cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range argv {
				if strings.Contains(a, "{{") {
					t.Errorf("argument %q not rendered", a)
				}
			}
		})
	}
}

func TestRenderTemplateMissingField(t *testing.T) {
	if _, err := renderTemplate("no-such.tmpl", peerConfig{}); err == nil {
		t.Error("rendering a template that does not exist: no error")
	}
	if _, err := renderArgs([]string{"{{.NoSuchField}}"}, peerConfig{}); err == nil {
		t.Error("rendering an argument with an unknown field: no error")
	}
}

func TestUnicodeMapIsOptional(t *testing.T) {
	cfg := fixedPeerConfig(srvNginxModSec)
	cfg.UnicodeMapFile = ""
	got, err := renderTemplate("modsecurity.conf.tmpl", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(got), "SecUnicodeMapFile") {
		t.Error("SecUnicodeMapFile written without a map file")
	}
}

// TestPeerConfigsValidate has each installed peer check its own rendered
// config (nginx -t, haproxy -c, varnishd -C, caddy validate), so a template
// that renders but does not load fails here rather than mid-benchmark.
func TestPeerConfigsValidate(t *testing.T) {
	root := t.TempDir()
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	tlsDir := filepath.Join(root, "tls")
	if err := os.MkdirAll(tlsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cert, err := newTestCert(tlsDir)
	if err != nil {
		t.Fatal(err)
	}
	check := map[string][]string{
		srvNginx:       {"nginx", "-t", "-q", "-p", "{{.Dir}}", "-e", "{{.Dir}}/error.log", "-c", "{{.Dir}}/nginx.conf"},
		srvNginxModSec: {"nginx", "-t", "-q", "-p", "{{.Dir}}", "-e", "{{.Dir}}/error.log", "-c", "{{.Dir}}/nginx.conf"},
		srvNginxCache:  {"nginx", "-t", "-q", "-p", "{{.Dir}}", "-e", "{{.Dir}}/error.log", "-c", "{{.Dir}}/nginx.conf"},
		srvVarnish:     {"varnishd", "-C", "-j", "none", "-n", "{{.Dir}}/varnish", "-f", "{{.Dir}}/default.vcl"},
		srvHAProxy:     {"haproxy", "-c", "-q", "-f", "{{.Dir}}/haproxy.cfg"},
		srvCaddy:       {"caddy", "validate", "--config", "{{.Dir}}/Caddyfile", "--adapter", "caddyfile"},
	}
	for _, spec := range peerSpecs() {
		t.Run(spec.ID, func(t *testing.T) {
			argv := check[spec.ID]
			if _, err := exec.LookPath(argv[0]); err != nil {
				t.Skipf("%s is not installed", argv[0])
			}
			cfg := fixedPeerConfig(spec.ID)
			cfg.Dir = filepath.Join(root, spec.ID)
			cfg.CertFile, cfg.KeyFile, cfg.PEMFile = cert.CertFile, cert.KeyFile, cert.PEMFile
			if _, err := os.Stat(cfg.UnicodeMapFile); err != nil {
				cfg.UnicodeMapFile = ""
			}
			if spec.ID == srvNginxModSec {
				for _, p := range []string{cfg.ModSecurityModule, cfg.CRSRulesDir, cfg.CRSSetupDir} {
					if _, err := os.Stat(p); err != nil {
						t.Skipf("ModSecurity or the CRS is not installed: %v", err)
					}
				}
			}
			if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, d := range spec.Dirs {
				if err := os.MkdirAll(filepath.Join(cfg.Dir, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range spec.Files {
				data, err := renderTemplate(f.Template, cfg)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(cfg.Dir, f.Name), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			args, err := renderArgs(argv, cfg)
			if err != nil {
				t.Fatal(err)
			}
			env, err := renderArgs(spec.Env, cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, args[0], args[1:]...)
			cmd.Dir = cfg.Dir
			cmd.Env = append(os.Environ(), env...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, tool.LastLines(string(out), 10))
			}
		})
	}
}
