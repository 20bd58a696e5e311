package edgeagent

import (
	"encoding/json"
	"fmt"
	"net"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/geodns"
)

// Config is the edge agent's configuration, read once at start.
type Config struct {
	Region string `json:"region"`
	Node   string `json:"node"`
	// Listen addresses (host:port; port 0 picks a free port).
	HTTPAddr  string `json:"http_addr"`
	HTTPSAddr string `json:"https_addr"`
	AdminAddr string `json:"admin_addr"`
	NATS      NATS   `json:"nats"`
	// SealKey is the base64 X25519 private key that opens certificate keys.
	SealKey string `json:"seal_key"`
	// DataDir holds the last-known-good snapshot.
	DataDir string `json:"data_dir"`
	// StaticFile, when set, replaces NATS: sites and certificates come from
	// this file (see catalog.StaticFile).
	StaticFile string `json:"static_file"`
	// AccessLog is a file path, "-" for standard output, or "" for none.
	AccessLog           string   `json:"access_log"`
	AllowPrivateOrigins bool     `json:"allow_private_origins"`
	HeartbeatInterval   Duration `json:"heartbeat_interval"`
	// Pprof serves /debug/pprof on the admin listener.
	Pprof bool `json:"pprof"`
	// WAFSecret (hex, 32 bytes) signs WAF challenge tokens; give every edge
	// of a region the same one so a cleared client stays cleared. Empty: a
	// random secret per process.
	WAFSecret string `json:"waf_secret"`
	// WAFMatchLog is a file that receives every logged WAF rule match in
	// ModSecurity's error-log format (for go-ftw and debugging; it holds
	// matched data unredacted). Empty: none.
	WAFMatchLog string `json:"waf_match_log"`
	// DNS, when set, runs the GeoDNS server for the edge zone on this node
	// (see geodns.Config: listen address, zone, nameservers, regions,
	// CIDR table, GeoIP database, views, TTL, health window).
	DNS *geodns.Config `json:"dns,omitempty"`
	// Version is reported in heartbeats.
	Version string `json:"-"`
}

// NATS says how the edge reaches its region's NATS cluster.
type NATS struct {
	URLs     []string `json:"urls"`
	User     string   `json:"user"`
	Password string   `json:"password"`
	// APIPrefix is where the control account's JetStream API is imported;
	// defaults to api.EdgeJSAPIPrefix. "none" uses the account's own.
	APIPrefix string `json:"api_prefix"`
}

// Duration is a time.Duration written as "2s" in JSON.
type Duration time.Duration

// UnmarshalJSON parses a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string like \"2s\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Validate checks the configuration, naming the bad field.
func (c *Config) Validate() error {
	if c.StaticFile == "" {
		if err := api.ValidateRegion(c.Region); err != nil {
			return fmt.Errorf("region: %w", err)
		}
		if err := api.ValidateNode(c.Node); err != nil {
			return fmt.Errorf("node: %w", err)
		}
		if len(c.NATS.URLs) == 0 {
			return fmt.Errorf("nats.urls: required unless static_file is set")
		}
		if c.SealKey == "" {
			return fmt.Errorf("seal_key: required unless static_file is set")
		}
		if _, err := api.ParseSealKey(c.SealKey); err != nil {
			return fmt.Errorf("seal_key: %w", err)
		}
	}
	for name, a := range map[string]string{"http_addr": c.HTTPAddr, "https_addr": c.HTTPSAddr, "admin_addr": c.AdminAddr} {
		if a == "" {
			if name == "admin_addr" {
				return fmt.Errorf("admin_addr: required")
			}
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if c.HTTPAddr == "" && c.HTTPSAddr == "" {
		return fmt.Errorf("http_addr, https_addr: at least one is required")
	}
	if c.HeartbeatInterval < 0 {
		return fmt.Errorf("heartbeat_interval: must be positive")
	}
	if c.DNS != nil {
		if err := c.DNS.Validate(); err != nil {
			return fmt.Errorf("dns.%w", err)
		}
		if c.StaticFile != "" && c.DNS.Health != geodns.HealthStatic {
			return fmt.Errorf("dns.health: must be %q with static_file (no heartbeats without NATS)", geodns.HealthStatic)
		}
	}
	return nil
}
