package controlsvc_test

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-edge/rampart/controlsvc"
	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/controlsvc/buckets"
	"github.com/rampart-edge/rampart/controlsvc/internal/natstest"
)

func edgeKey(t *testing.T) *ecdh.PrivateKey {
	t.Helper()
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func validConfig(t *testing.T) controlsvc.Config {
	return controlsvc.Config{
		NATSURLs:          []string{"nats://127.0.0.1:4222"},
		NATSUser:          "control",
		NATSPassword:      "secret",
		DataDir:           t.TempDir(),
		AdminAddr:         "127.0.0.1:0",
		EdgeSealPublicKey: base64.StdEncoding.EncodeToString(edgeKey(t).PublicKey().Bytes()),
		Buckets:           buckets.Layout{ControlRegion: "lab", Regions: []string{"lab"}, Replicas: 1},
	}
}

func TestConfigValidate(t *testing.T) {
	if err := validConfig(t).Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, tc := range []struct {
		field  string
		change func(*controlsvc.Config)
	}{
		{"nats_urls", func(c *controlsvc.Config) { c.NATSURLs = nil }},
		{"nats_urls[1]", func(c *controlsvc.Config) { c.NATSURLs = append(c.NATSURLs, "http://x:4222") }},
		{"nats_password", func(c *controlsvc.Config) { c.NATSPassword = "" }},
		{"nats_user", func(c *controlsvc.Config) { c.NATSUser = "" }},
		{"data_dir", func(c *controlsvc.Config) { c.DataDir = "" }},
		{"admin_addr", func(c *controlsvc.Config) { c.AdminAddr = "127.0.0.1" }},
		{"admin_addr", func(c *controlsvc.Config) { c.AdminAddr = "127.0.0.1:70000" }},
		{"admin_token", func(c *controlsvc.Config) { c.AdminToken = "short" }},
		{"edge_seal_public_key", func(c *controlsvc.Config) { c.EdgeSealPublicKey = "" }},
		{"edge_seal_public_key", func(c *controlsvc.Config) { c.EdgeSealPublicKey = "bm90IGEga2V5" }},
		{"buckets", func(c *controlsvc.Config) { c.Buckets.ControlRegion = "Bad Region" }},
		{"buckets", func(c *controlsvc.Config) { c.Buckets.Regions = nil }},
		{"cert_validity", func(c *controlsvc.Config) { c.CertValidity = time.Minute }},
		{"cert_check_interval", func(c *controlsvc.Config) { c.CertCheckInterval = -time.Second }},
	} {
		cfg := validConfig(t)
		tc.change(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), tc.field+": ") {
			t.Errorf("%s: Validate() = %v, want an error naming it", tc.field, err)
		}
		if _, err := controlsvc.New(cfg); err == nil {
			t.Errorf("%s: New accepted the config", tc.field)
		}
	}
}

func serviceConfig(t *testing.T, url, dataDir string, key *ecdh.PrivateKey) controlsvc.Config {
	cfg := validConfig(t)
	cfg.NATSURLs = []string{url}
	cfg.DataDir = dataDir
	cfg.EdgeSealPublicKey = base64.StdEncoding.EncodeToString(key.PublicKey().Bytes())
	cfg.Buckets = natstest.Layout()
	cfg.Logger = slog.New(slog.NewJSONHandler(t.Output(), nil))
	return cfg
}

func start(t *testing.T, cfg controlsvc.Config) *controlsvc.Service {
	t.Helper()
	svc, err := controlsvc.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := svc.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { svc.Close() })
	return svc
}

func call(t *testing.T, svc *controlsvc.Service, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+svc.Addr()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+svc.Token())
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestServiceEndToEnd(t *testing.T) {
	srv := natstest.Start(t, natstest.WithUser("control", "secret"))
	dataDir := filepath.Join(t.TempDir(), "data")
	key := edgeKey(t)
	cfg := serviceConfig(t, srv.ClientURL(), dataDir, key)
	svc := start(t, cfg)

	if host, port, err := net.SplitHostPort(svc.Addr()); err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("Addr() = %q", svc.Addr())
	}
	tokenFile := filepath.Join(dataDir, controlsvc.TokenFile)
	onDisk, err := os.ReadFile(tokenFile)
	if err != nil || strings.TrimSpace(string(onDisk)) != svc.Token() {
		t.Fatalf("token file %q does not hold Token(): %v", onDisk, err)
	}
	if caFile, err := os.ReadFile(svc.CACertPath()); err != nil || !bytes.Equal(caFile, svc.CACertPEM()) {
		t.Fatalf("CA file: %v", err)
	}

	res, err := http.Get("http://" + svc.Addr() + "/healthz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", res, err)
	}
	res.Body.Close()
	if code, _ := call(t, svc, "GET", "/api/v1/sites", ""); code != 200 {
		t.Fatalf("list: %d", code)
	}

	// Watch the certs bucket from the outside, as an edge would.
	_, js := natstest.Connect(t, srv, nats.UserInfo("control", "secret"))
	certsKV, err := js.KeyValue(context.Background(), api.BucketCerts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := certsKV.Watch(ctx, "shop.example")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	if code, body := call(t, svc, "POST", "/api/v1/sites", `{"hostname":"Shop.Example","origins":[{"url":"https://origin.example"}]}`); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	var rec api.CertRecord
	for e := range w.Updates() { // closed when ctx ends
		if e != nil && e.Operation() == jetstream.KeyValuePut {
			if rec, err = api.ParseCertRecord(e.Value()); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if rec.Hostname != "shop.example" {
		t.Fatal("no certificate was issued for shop.example")
	}
	keyPEM, err := api.Open(key, rec.KeySealed)
	if err != nil {
		t.Fatalf("the edge key cannot open the certificate key: %v", err)
	}
	pair, err := tls.X509KeyPair([]byte(rec.ChainPEM), keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(svc.CACertPEM())
	if _, err := pair.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "shop.example"}); err != nil {
		t.Fatalf("certificate does not verify against CACertPEM: %v", err)
	}

	// The issuance outcome is written just after the certificate: wait
	// for it (bounded).
	code, body := call(t, svc, "GET", "/api/v1/sites/shop.example/cert", "")
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(body, `"issuance":{"state":"ok"`) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		code, body = call(t, svc, "GET", "/api/v1/sites/shop.example/cert", "")
	}
	var st struct {
		Issuer    string    `json:"issuer"`
		NotBefore time.Time `json:"not_before"`
		NotAfter  time.Time `json:"not_after"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &st) != nil || !st.NotAfter.Equal(rec.NotAfter) || st.Issuer == "" {
		t.Fatalf("cert status: %d %s", code, body)
	}
	if !strings.Contains(body, `"issuance":{"state":"ok"`) {
		t.Fatalf("cert status without the issuance outcome: %s", body)
	}

	// A forced renewal through the API replaces the certificate.
	if code, body := call(t, svc, "POST", "/api/v1/sites/shop.example/cert/renew", ""); code != 202 {
		t.Fatalf("renew: %d %s", code, body)
	}
	renewed := false
	for e := range w.Updates() {
		if e != nil && e.Operation() == jetstream.KeyValuePut {
			next, err := api.ParseCertRecord(e.Value())
			if err != nil {
				t.Fatal(err)
			}
			if next.ChainPEM != rec.ChainPEM {
				renewed = true
				break
			}
		}
	}
	if !renewed {
		t.Fatal("no new certificate after POST /cert/renew")
	}

	if err := svc.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := svc.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if c, err := net.Dial("tcp", svc.Addr()); err == nil {
		c.Close()
		t.Fatal("admin API still listening after Close")
	}

	// A restart keeps the token, the CA and the sites.
	again := start(t, serviceConfig(t, srv.ClientURL(), dataDir, key))
	if again.Token() != svc.Token() {
		t.Error("the admin token changed across a restart")
	}
	if !bytes.Equal(again.CACertPEM(), svc.CACertPEM()) {
		t.Error("the lab CA changed across a restart")
	}
	if code, body := call(t, again, "GET", "/api/v1/sites/shop.example", ""); code != 200 {
		t.Errorf("site after restart: %d %s", code, body)
	}
	again.Close()

	// An explicit token wins over the stored one.
	cfg = serviceConfig(t, srv.ClientURL(), dataDir, key)
	cfg.AdminToken = "an-explicit-admin-token"
	explicit := start(t, cfg)
	if explicit.Token() != cfg.AdminToken {
		t.Errorf("Token() = %q, want the configured one", explicit.Token())
	}
	if code, _ := call(t, explicit, "GET", "/api/v1/sites", ""); code != 200 {
		t.Errorf("list with the configured token: %d", code)
	}
}

func TestStartGivesUpWithContext(t *testing.T) {
	// A port nothing listens on: bind one, then free it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "nats://" + ln.Addr().String()
	ln.Close()

	svc, err := controlsvc.New(serviceConfig(t, url, t.TempDir(), edgeKey(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := svc.Start(ctx); err == nil {
		t.Fatal("started without NATS")
	}
	if svc.Addr() != "" {
		t.Errorf("listening on %s after a failed start", svc.Addr())
	}
}

func TestWrongNATSPassword(t *testing.T) {
	srv := natstest.Start(t, natstest.WithUser("control", "secret"))
	cfg := serviceConfig(t, srv.ClientURL(), t.TempDir(), edgeKey(t))
	cfg.NATSPassword = "wrong"
	svc, err := controlsvc.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := svc.Start(ctx); err == nil {
		t.Fatal("started with a wrong NATS password")
	} else if !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Fatalf("start error %q does not say why", err)
	}
}
