package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const pub = "L+V9o0fNYkMVKNqsX7spBzD+9oZvhR/6yRiFCcC3OQE=" // any 32 bytes

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func writeConfig(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "controlsvc.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFlags(t *testing.T) {
	cfg, _, err := loadConfig([]string{
		"-nats-urls", "nats://10.0.0.1:4222, nats://10.0.0.2:4222", "-nats-user", "control",
		"-edge-seal-public-key", pub, "-control-region", "ams", "-cert-validity", "48h",
	}, env(map[string]string{passwordEnv: "from-env"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.NATSURLs) != 2 || cfg.NATSURLs[1] != "nats://10.0.0.2:4222" || cfg.NATSPassword != "from-env" ||
		cfg.Buckets.ControlRegion != "ams" || len(cfg.Buckets.Regions) != 1 || cfg.Buckets.Regions[0] != "ams" ||
		cfg.CertValidity != 48*time.Hour || cfg.CertCheckInterval != time.Hour || cfg.AdminAddr != "127.0.0.1:8480" {
		t.Fatalf("config %+v", cfg)
	}
}

func TestFileAndFlags(t *testing.T) {
	path := writeConfig(t, `{
		"nats_urls": ["nats://10.1.0.1:4222"], "nats_user": "control", "nats_password": "pw",
		"data_dir": "/var/lib/controlsvc", "admin_addr": "10.1.0.9:8480",
		"edge_seal_public_key": "`+pub+`",
		"control_region": "ams", "regions": ["ams", "nyc"], "replicas": 3,
		"cert_check_interval": "10m"
	}`)
	cfg, _, err := loadConfig([]string{"-config", path, "-admin-addr", "127.0.0.1:0"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AdminAddr != "127.0.0.1:0" || cfg.DataDir != "/var/lib/controlsvc" || cfg.NATSPassword != "pw" ||
		len(cfg.Buckets.Regions) != 2 || cfg.Buckets.Replicas != 3 || cfg.CertCheckInterval != 10*time.Minute ||
		cfg.CertValidity != 720*time.Hour {
		t.Fatalf("config %+v", cfg)
	}
}

func TestBadConfigs(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown file field", []string{"-config", writeConfig(t, `{"nats_url": "x"}`)}, "nats_url"},
		{"missing seal key", []string{"-control-region", "ams"}, "edge_seal_public_key"},
		{"missing region", []string{"-edge-seal-public-key", pub}, "buckets"},
		{"bad duration", []string{"-edge-seal-public-key", pub, "-control-region", "ams", "-cert-check-interval", "soon"}, "cert_check_interval"},
		{"stray argument", []string{"run"}, "unexpected"},
		{"acme over http", []string{"-edge-seal-public-key", pub, "-control-region", "ams", "-acme-directory-url", "http://ca.example/dir"}, "acme_directory_url"},
		{"acme roots missing", []string{"-edge-seal-public-key", pub, "-control-region", "ams", "-acme-directory-url", "https://ca.example/dir", "-acme-ca-roots", "/nonexistent.pem"}, "acme_ca_roots"},
	} {
		_, _, err := loadConfig(tc.args, env(nil), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %q", tc.name, err, tc.want)
		}
	}
}

func TestACMEConfig(t *testing.T) {
	roots := filepath.Join(t.TempDir(), "roots.pem")
	if err := os.WriteFile(roots, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A roots file without a certificate is refused by name.
	_, _, err := loadConfig([]string{"-edge-seal-public-key", pub, "-control-region", "ams",
		"-acme-directory-url", "https://127.0.0.1:14000/dir", "-acme-ca-roots", roots}, env(nil), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "acme_ca_roots") {
		t.Fatalf("bad roots file: %v", err)
	}
	cfg, _, err := loadConfig([]string{"-edge-seal-public-key", pub, "-control-region", "ams",
		"-acme-directory-url", "https://acme-staging-v02.api.letsencrypt.org/directory", "-acme-email", "ops@example.com"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ACME == nil || cfg.ACME.Email != "ops@example.com" || cfg.ACME.DirectoryURL != "https://acme-staging-v02.api.letsencrypt.org/directory" {
		t.Fatalf("acme config %+v", cfg.ACME)
	}
}
