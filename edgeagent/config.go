package edgeagent

import (
	"encoding/json"
	"fmt"
	"net"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/blocklist"
	"github.com/rampart-edge/rampart/edgeagent/geodns"
	"github.com/rampart-edge/rampart/edgeagent/realip"
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
	// TrustedProxies are the load balancers or proxies in front of this
	// edge (addresses or CIDR prefixes). Only from them is X-Forwarded-For
	// believed: the client is then its right-most untrusted entry.
	TrustedProxies []string `json:"trusted_proxies,omitempty"`
	// OriginPullCert and OriginPullKey are PEM files with the client
	// certificate (from the infra's origin-pull CA) presented to https
	// origins, so origins can require it (mTLS origin pull). Both or none.
	OriginPullCert string `json:"origin_pull_cert,omitempty"`
	OriginPullKey  string `json:"origin_pull_key,omitempty"`
	// LogRedactParams are query parameters whose values the access log
	// hides; empty means accesslog.DefaultRedactParams (token, password,
	// api_key, sig, ...).
	LogRedactParams []string `json:"log_redact_params,omitempty"`
	// BlockCIDRs are networks whose connections are closed on accept, on
	// the HTTP and HTTPS listeners (the admin listener is not affected).
	BlockCIDRs []string `json:"block_cidrs,omitempty"`
	// Limits bound what one client or the whole node can cost.
	Limits Limits `json:"limits,omitzero"`
	// Cache sizes the HTTP cache (sites opt in with their cache policy).
	Cache CacheConfig `json:"cache,omitzero"`
	// Version is reported in heartbeats.
	Version string `json:"-"`
}

// Limits are the edge's abuse limits; zero fields take the defaults.
type Limits struct {
	// ReadHeaderTimeout closes a connection whose request head has not
	// arrived in time (slowloris). Default 10s.
	ReadHeaderTimeout Duration `json:"read_header_timeout,omitempty"`
	// IdleTimeout closes keep-alive connections idle this long. Default 120s.
	IdleTimeout Duration `json:"idle_timeout,omitempty"`
	// MaxHeaderBytes bounds the request head; larger ones get 431. Default 64 KiB.
	MaxHeaderBytes int `json:"max_header_bytes,omitempty"`
	// MaxBodyBytes bounds request bodies; larger ones get 413. Default 100 MiB.
	MaxBodyBytes int64 `json:"max_body_bytes,omitempty"`
	// BodyIdleTimeout bounds the silence between reads of a request body
	// (slow POST); past it the request gets 408. Default 30s.
	BodyIdleTimeout Duration `json:"body_idle_timeout,omitempty"`
	// MaxInFlight is how many requests the node serves at once; more are
	// shed with 503 (the admin listener is not counted). Default 4096.
	MaxInFlight int64 `json:"max_in_flight,omitempty"`
	// MaxConnsPerIP is how many connections one client address may hold
	// open on the HTTP and HTTPS listeners; trusted proxies are exempt.
	// Default 256.
	MaxConnsPerIP int `json:"max_conns_per_ip,omitempty"`
	// H2MaxConcurrentStreams is the HTTP/2 streams per connection. Default 100.
	H2MaxConcurrentStreams int `json:"h2_max_concurrent_streams,omitempty"`
	// RateLimitKeys bounds the rate-limit keys remembered. Default 262144.
	RateLimitKeys int `json:"rate_limit_keys,omitempty"`
}

// Default limits.
const (
	DefaultReadHeaderTimeout      = 10 * time.Second
	DefaultIdleTimeout            = 120 * time.Second
	DefaultMaxHeaderBytes         = 64 << 10
	DefaultMaxBodyBytes           = 100 << 20
	DefaultBodyIdleTimeout        = 30 * time.Second
	DefaultMaxInFlight            = 4096
	DefaultH2MaxConcurrentStreams = 100
	DefaultMaxConnsPerIP          = 256
)

func (l *Limits) withDefaults() {
	if l.ReadHeaderTimeout == 0 {
		l.ReadHeaderTimeout = Duration(DefaultReadHeaderTimeout)
	}
	if l.IdleTimeout == 0 {
		l.IdleTimeout = Duration(DefaultIdleTimeout)
	}
	if l.MaxHeaderBytes == 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.BodyIdleTimeout == 0 {
		l.BodyIdleTimeout = Duration(DefaultBodyIdleTimeout)
	}
	if l.MaxBodyBytes == 0 {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if l.MaxInFlight == 0 {
		l.MaxInFlight = DefaultMaxInFlight
	}
	if l.MaxConnsPerIP == 0 {
		l.MaxConnsPerIP = DefaultMaxConnsPerIP
	}
	if l.H2MaxConcurrentStreams == 0 {
		l.H2MaxConcurrentStreams = DefaultH2MaxConcurrentStreams
	}
}

func (l Limits) validate() error {
	switch {
	case l.ReadHeaderTimeout < 0:
		return fmt.Errorf("limits.read_header_timeout: must be positive")
	case l.IdleTimeout < 0:
		return fmt.Errorf("limits.idle_timeout: must be positive")
	case l.MaxHeaderBytes < 0:
		return fmt.Errorf("limits.max_header_bytes: must be positive")
	case l.BodyIdleTimeout < 0:
		return fmt.Errorf("limits.body_idle_timeout: must be positive")
	case l.MaxBodyBytes < 0:
		return fmt.Errorf("limits.max_body_bytes: must be positive")
	case l.MaxInFlight < 0:
		return fmt.Errorf("limits.max_in_flight: must be positive")
	case l.H2MaxConcurrentStreams < 0 || l.H2MaxConcurrentStreams > 10000:
		return fmt.Errorf("limits.h2_max_concurrent_streams: must be 1 to 10000")
	case l.MaxConnsPerIP < 0:
		return fmt.Errorf("limits.max_conns_per_ip: must be positive")
	case l.RateLimitKeys < 0:
		return fmt.Errorf("limits.rate_limit_keys: must be positive")
	}
	return nil
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
	if _, err := realip.New(c.TrustedProxies); err != nil {
		return fmt.Errorf("trusted_proxies%w", err)
	}
	if (c.OriginPullCert == "") != (c.OriginPullKey == "") {
		return fmt.Errorf("origin_pull_cert, origin_pull_key: set both or neither")
	}
	if _, err := blocklist.Parse(c.BlockCIDRs); err != nil {
		return fmt.Errorf("block_cidrs%w", err)
	}
	if err := c.Limits.validate(); err != nil {
		return err
	}
	if err := c.Cache.validate(); err != nil {
		return err
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

// CacheConfig sizes the edge's HTTP cache.
type CacheConfig struct {
	// Off turns the cache off on this node.
	Off bool `json:"off,omitempty"`
	// MaxBytes bounds the memory tier (default 256 MiB); MaxObjectBytes
	// is the largest body stored (default 8 MiB), larger ones stream
	// through.
	MaxBytes       int64 `json:"max_bytes,omitempty"`
	MaxObjectBytes int64 `json:"max_object_bytes,omitempty"`
	// DiskDir enables the disk tier (bounded by DiskMaxBytes, default
	// 4 GiB): objects are written through, read back after eviction from
	// memory, and survive restarts.
	DiskDir      string `json:"disk_dir,omitempty"`
	DiskMaxBytes int64  `json:"disk_max_bytes,omitempty"`
}

func (c CacheConfig) validate() error {
	switch {
	case c.MaxBytes < 0:
		return fmt.Errorf("cache.max_bytes: must not be negative")
	case c.MaxObjectBytes < 0:
		return fmt.Errorf("cache.max_object_bytes: must not be negative")
	case c.DiskMaxBytes < 0:
		return fmt.Errorf("cache.disk_max_bytes: must not be negative")
	case c.MaxBytes > 0 && c.MaxObjectBytes > c.MaxBytes:
		return fmt.Errorf("cache.max_object_bytes: larger than cache.max_bytes")
	}
	return nil
}
