package geodns

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/rampart-edge/rampart/controlsvc/api"
)

// Config is the GeoDNS server's configuration, read once at start. The JSON
// form is the "dns" section of the edge agent's config file.
type Config struct {
	// Addr is where to serve UDP and TCP (host:port; port 0 picks one free
	// port for both). Bind a specific address: replies leave from it.
	Addr string `json:"addr"`
	// Zone is the edge zone this server is authoritative for, e.g.
	// "edge.example.net". A site's edge name is its hostname followed by
	// the zone: customers CNAME shop.example.com to
	// shop.example.com.edge.example.net.
	Zone string `json:"zone"`
	// Nameservers are the zone's NS records, the first is the SOA MNAME.
	// A name inside the zone needs its addresses (served as glue).
	Nameservers []Nameserver `json:"nameservers"`
	// Hostmaster is the SOA RNAME; "hostmaster.<zone>" when empty.
	Hostmaster string `json:"hostmaster"`
	// Serial is the SOA serial (1 when zero); nothing transfers the zone.
	Serial uint32 `json:"serial"`
	// Regions that may be answered. Only listed regions are ever served.
	Regions []Region `json:"regions"`
	// Health is "heartbeats" (default): a region is served while one of its
	// nodes sent a healthy heartbeat within Window; or "static": every
	// region is always healthy (no NATS).
	Health string `json:"health"`
	// Window is how long a healthy heartbeat keeps its node in service
	// (10s when zero).
	Window Duration `json:"window"`
	// Routes map client networks to regions; the longest prefix wins and
	// is consulted before the GeoIP database.
	Routes []Route `json:"routes"`
	// GeoIPDB is a MaxMind-format (GeoLite2/GeoIP2 City or Country)
	// database file; optional.
	GeoIPDB string `json:"geoip_db"`
	// Countries and Continents map ISO 3166 country codes ("US") and
	// continent codes ("EU") to regions in order of preference.
	Countries  map[string][]string `json:"countries"`
	Continents map[string][]string `json:"continents"`
	// Default is the preference for clients nothing else places; every
	// public region in config order when empty.
	Default []string `json:"default"`
	// Views give clients in some networks their own answers (split
	// horizon), e.g. staff trying a region before it is public. The first
	// matching view wins.
	Views []View `json:"views"`
	// TTL of edge answers in seconds (20 when zero). Zone records (SOA, NS,
	// glue) use ZoneTTL (3600 when zero); negative answers the SOA minimum
	// (60).
	TTL     uint32 `json:"ttl"`
	ZoneTTL uint32 `json:"zone_ttl"`
	// RateLimit bounds UDP responses per client network (amplification).
	RateLimit RateLimit `json:"rate_limit"`
	// UDPSize is the largest UDP response sent to EDNS clients (1232 when
	// zero, the DNS flag day value).
	UDPSize uint16 `json:"udp_size"`
	// MaxTCPConns bounds concurrent TCP connections (1024 when zero).
	MaxTCPConns int `json:"max_tcp_conns"`
}

// Nameserver is one NS record of the zone.
type Nameserver struct {
	Name  string   `json:"name"`
	Addrs []string `json:"addrs"`
}

// Region is one region that answers may point to.
type Region struct {
	Name string `json:"name"`
	// Addrs are the addresses clients connect to (reserved IPs). When
	// empty, the addresses come from the nodes' heartbeats (HTTPSAddr, or
	// HTTPAddr, when it names a specific IP).
	Addrs []string `json:"addrs"`
	// Hidden regions are only served through views.
	Hidden bool `json:"hidden"`
}

// Route sends clients of a network to regions, in order of preference.
type Route struct {
	CIDR    string   `json:"cidr"`
	Regions []string `json:"regions"`
}

// View is a split-horizon view: clients whose source address or EDNS
// client subnet is in Sources get the view's answer. A view is not access
// control: an ECS option can claim any subnet.
type View struct {
	Name    string   `json:"name"`
	Sources []string `json:"sources"`
	// Regions, in order of preference (hidden ones included); when none is
	// healthy the public answer is given.
	Regions []string `json:"regions"`
	// Addrs, when set, are answered as they are, with no health check.
	Addrs []string `json:"addrs"`
}

// RateLimit is response rate limiting for UDP: each client network
// (/24 for IPv4, /56 for IPv6) gets PerSecond responses with bursts of
// Burst; beyond that responses are dropped, except every Slip-th, which is
// sent truncated so a real client retries over TCP. The table has a fixed
// size, so memory stays bounded whatever the number of sources.
type RateLimit struct {
	Disabled  bool `json:"disabled"`
	PerSecond int  `json:"per_second"` // 100 when zero
	Burst     int  `json:"burst"`      // PerSecond when zero
	Slip      int  `json:"slip"`       // 2 when zero; -1 never slips
	// Exempt networks are never limited (monitoring, load tests).
	Exempt []string `json:"exempt"`
}

// Duration is a time.Duration written as "10s" in JSON.
type Duration time.Duration

// UnmarshalJSON parses a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string like \"10s\"")
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

// Health modes.
const (
	HealthHeartbeats = "heartbeats"
	HealthStatic     = "static"
)

// Validate checks the configuration, naming the bad field.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("addr: %w", err)
	}
	if _, ok := dns.IsDomainName(c.Zone); !ok || c.Zone == "" || c.Zone == "." {
		return fmt.Errorf("zone: %q is not a domain name", c.Zone)
	}
	zone := dns.Fqdn(strings.ToLower(c.Zone))
	if len(c.Nameservers) == 0 {
		return fmt.Errorf("nameservers: at least one is required")
	}
	for i, ns := range c.Nameservers {
		f := fmt.Sprintf("nameservers[%d]", i)
		if _, ok := dns.IsDomainName(ns.Name); !ok || ns.Name == "" {
			return fmt.Errorf("%s.name: %q is not a domain name", f, ns.Name)
		}
		name := dns.Fqdn(strings.ToLower(ns.Name))
		if name == zone {
			return fmt.Errorf("%s.name: cannot be the zone apex", f)
		}
		if dns.IsSubDomain(zone, name) && len(ns.Addrs) == 0 {
			return fmt.Errorf("%s.addrs: required for a name inside the zone", f)
		}
		if err := validAddrs(ns.Addrs); err != nil {
			return fmt.Errorf("%s.addrs: %w", f, err)
		}
	}
	if c.Hostmaster != "" {
		if _, ok := dns.IsDomainName(c.Hostmaster); !ok {
			return fmt.Errorf("hostmaster: %q is not a domain name", c.Hostmaster)
		}
	}
	if len(c.Regions) == 0 {
		return fmt.Errorf("regions: at least one is required")
	}
	regions := map[string]bool{}
	public := 0
	for i, r := range c.Regions {
		f := fmt.Sprintf("regions[%d]", i)
		if err := api.ValidateRegion(r.Name); err != nil {
			return fmt.Errorf("%s.name: %w", f, err)
		}
		if regions[r.Name] {
			return fmt.Errorf("%s.name: %q is listed twice", f, r.Name)
		}
		regions[r.Name] = true
		if err := validAddrs(r.Addrs); err != nil {
			return fmt.Errorf("%s.addrs: %w", f, err)
		}
		if !r.Hidden {
			public++
		}
	}
	if public == 0 {
		return fmt.Errorf("regions: at least one must not be hidden")
	}
	switch c.Health {
	case "", HealthHeartbeats:
	case HealthStatic:
		for i, r := range c.Regions {
			if len(r.Addrs) == 0 {
				return fmt.Errorf("regions[%d].addrs: required with health %q", i, HealthStatic)
			}
		}
	default:
		return fmt.Errorf("health: %q: want %q or %q", c.Health, HealthHeartbeats, HealthStatic)
	}
	if c.Window < 0 {
		return fmt.Errorf("window: must be positive")
	}
	checkList := func(field string, list []string) error {
		for j, name := range list {
			if !regions[name] {
				return fmt.Errorf("%s[%d]: region %q is not in regions", field, j, name)
			}
		}
		return nil
	}
	for i, r := range c.Routes {
		f := fmt.Sprintf("routes[%d]", i)
		if _, err := netip.ParsePrefix(r.CIDR); err != nil {
			return fmt.Errorf("%s.cidr: %w", f, err)
		}
		if len(r.Regions) == 0 {
			return fmt.Errorf("%s.regions: at least one is required", f)
		}
		if err := checkList(f+".regions", r.Regions); err != nil {
			return err
		}
	}
	for code, list := range c.Countries {
		if len(code) != 2 || strings.ToUpper(code) != code {
			return fmt.Errorf("countries: %q: want a two-letter upper-case ISO code", code)
		}
		if err := checkList("countries."+code, list); err != nil {
			return err
		}
	}
	for code, list := range c.Continents {
		if len(code) != 2 || strings.ToUpper(code) != code {
			return fmt.Errorf("continents: %q: want a two-letter upper-case code (EU, NA, ...)", code)
		}
		if err := checkList("continents."+code, list); err != nil {
			return err
		}
	}
	if err := checkList("default", c.Default); err != nil {
		return err
	}
	for i, v := range c.Views {
		f := fmt.Sprintf("views[%d]", i)
		if v.Name == "" {
			return fmt.Errorf("%s.name: required", f)
		}
		if len(v.Sources) == 0 {
			return fmt.Errorf("%s.sources: at least one is required", f)
		}
		for j, s := range v.Sources {
			if _, err := netip.ParsePrefix(s); err != nil {
				return fmt.Errorf("%s.sources[%d]: %w", f, j, err)
			}
		}
		if len(v.Regions) == 0 && len(v.Addrs) == 0 {
			return fmt.Errorf("%s: regions or addrs is required", f)
		}
		if err := checkList(f+".regions", v.Regions); err != nil {
			return err
		}
		if err := validAddrs(v.Addrs); err != nil {
			return fmt.Errorf("%s.addrs: %w", f, err)
		}
	}
	rl := c.RateLimit
	if rl.PerSecond < 0 || rl.Burst < 0 || rl.Slip < -1 {
		return fmt.Errorf("rate_limit: per_second and burst must be positive, slip -1 or more")
	}
	for j, s := range rl.Exempt {
		if _, err := netip.ParsePrefix(s); err != nil {
			return fmt.Errorf("rate_limit.exempt[%d]: %w", j, err)
		}
	}
	if c.UDPSize != 0 && c.UDPSize < 512 {
		return fmt.Errorf("udp_size: at least 512")
	}
	if c.MaxTCPConns < 0 {
		return fmt.Errorf("max_tcp_conns: must be positive")
	}
	return nil
}

func validAddrs(addrs []string) error {
	for _, a := range addrs {
		if _, err := netip.ParseAddr(a); err != nil {
			return err
		}
	}
	return nil
}
