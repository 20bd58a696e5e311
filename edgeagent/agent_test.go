package edgeagent

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-edge/rampart/controlsvc/api"
)

func TestConfigErrorsNameTheField(t *testing.T) {
	cases := map[string]Config{
		"region":     {Node: "n1", AdminAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", NATS: NATS{URLs: []string{"nats://x"}}},
		"node":       {Region: "ams3", Node: "N 1", AdminAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"},
		"nats.urls":  {Region: "ams3", Node: "n1", AdminAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"},
		"seal_key":   {Region: "ams3", Node: "n1", AdminAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", NATS: NATS{URLs: []string{"nats://x"}}, SealKey: "nope"},
		"admin_addr": {StaticFile: "x.json", HTTPAddr: "127.0.0.1:0"},
		"https_addr": {StaticFile: "x.json", AdminAddr: "127.0.0.1:0", HTTPSAddr: "no-port"},
		"trusted_proxies[1]": {StaticFile: "x.json", AdminAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
			TrustedProxies: []string{"10.0.0.0/8", "10.0.0.0/40"}},
		"origin_pull_key":      {StaticFile: "x.json", AdminAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", OriginPullCert: "c.pem"},
		"limits.max_in_flight": {StaticFile: "x.json", AdminAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Limits: Limits{MaxInFlight: -1}},
	}
	for field, cfg := range cases {
		_, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err == nil || !strings.Contains(err.Error(), field+":") {
			t.Errorf("%s: got %v", field, err)
		}
	}
}

func TestStaticModeServesAndReportsHealth(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "from origin") }))
	defer origin.Close()
	site, _ := json.Marshal(api.Site{V: api.Version, Hostname: "static.example.com", Origins: []api.Origin{{URL: origin.URL}},
		HTTPS: api.HTTPSPolicy{HTTP: api.HTTPAllow}})
	dir := t.TempDir()
	path := filepath.Join(dir, "static.json")
	os.WriteFile(path, []byte(`{"sites":[`+string(site)+`]}`), 0o600)

	a, err := New(Config{StaticFile: path, HTTPAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", AccessLog: filepath.Join(dir, "logs", "access.log")},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://"+a.Addr("http")+"/", nil)
	req.Host = "static.example.com"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "from origin" {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
	resp, err = http.Get("http://" + a.Addr("admin") + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var st Status
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if resp.StatusCode != 200 || !st.Healthy || st.Sites != 1 {
		t.Fatalf("healthz %d %+v", resp.StatusCode, st)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "logs", "access.log"))
	if !strings.Contains(string(log), `"site":"static.example.com"`) {
		t.Fatalf("access log not flushed on Close: %q", log)
	}
}

func TestHealthz503UntilLoaded(t *testing.T) {
	a, err := New(Config{Region: "ams3", Node: "n1", HTTPAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", DataDir: t.TempDir(),
		NATS: NATS{URLs: []string{"nats://127.0.0.1:1"}}, SealKey: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	resp, err := http.Get("http://" + a.Addr("admin") + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("healthz with no snapshot and no NATS: %d", resp.StatusCode)
	}
}
