package edgeagent

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/geodns"
)

func staticDNSConfig(t *testing.T) Config {
	t.Helper()
	site, _ := json.Marshal(api.Site{V: api.Version, Hostname: "static.example.com", Origins: []api.Origin{{URL: "http://127.0.0.1:9"}}})
	path := filepath.Join(t.TempDir(), "static.json")
	if err := os.WriteFile(path, []byte(`{"sites":[`+string(site)+`]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return Config{StaticFile: path, HTTPAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", DNS: &geodns.Config{
		Addr:        "127.0.0.1:0",
		Zone:        "edge.example.net",
		Nameservers: []geodns.Nameserver{{Name: "ns1.edge.example.net", Addrs: []string{"127.0.0.1"}}},
		Regions:     []geodns.Region{{Name: "ams3", Addrs: []string{"192.0.2.2"}}, {Name: "nyc3", Addrs: []string{"192.0.2.1"}}},
		Routes:      []geodns.Route{{CIDR: "127.0.0.0/8", Regions: []string{"nyc3"}}},
		Health:      geodns.HealthStatic,
	}}
}

func TestDNSConfigErrorsNameTheField(t *testing.T) {
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	for field, edit := range map[string]func(*Config){
		"dns.zone":                 func(c *Config) { c.DNS.Zone = "" },
		"dns.regions[1].name":      func(c *Config) { c.DNS.Regions[1].Name = "NYC" },
		"dns.routes[0].regions[0]": func(c *Config) { c.DNS.Routes[0].Regions = []string{"lon1"} },
		"dns.health":               func(c *Config) { c.DNS.Health = "" }, // heartbeats need NATS
	} {
		cfg := staticDNSConfig(t)
		edit(&cfg)
		if _, err := New(cfg, discard); err == nil || !strings.Contains(err.Error(), field+":") {
			t.Errorf("%s: got %v", field, err)
		}
	}
}

func TestStaticModeServesDNS(t *testing.T) {
	a, err := New(staticDNSConfig(t), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	q := new(dns.Msg)
	q.SetQuestion("static.example.com.edge.example.net.", dns.TypeA)
	for _, net := range []string{"udp", "tcp"} {
		c := &dns.Client{Net: net, Timeout: 2 * time.Second}
		resp, _, err := c.Exchange(q, a.Addr("dns"))
		if err != nil {
			t.Fatalf("%s: %v", net, err)
		}
		if len(resp.Answer) != 1 || resp.Answer[0].(*dns.A).A.String() != "192.0.2.1" {
			t.Fatalf("%s: %v", net, resp.Answer)
		}
	}
}
