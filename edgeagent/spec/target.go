package spec

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Options say where checks connect and what they trust.
type Options struct {
	// Resolve sends connections for host:port elsewhere, like curl's
	// --resolve and --connect-to: "host:port:addr" or "host:port:addr:port2".
	// host may be "*" (every host on that port). An entry for a specific
	// host wins over "*". Unmapped hosts are resolved normally.
	Resolve []string
	// RootCAs verify the edge's certificates; the system roots when nil.
	RootCAs *x509.CertPool
	// Nameservers maps the aliases DNS checks may name (e.g. "edge") to
	// host:port.
	Nameservers map[string]string
	// Timeout bounds each request and handshake (10s when zero).
	Timeout time.Duration
	// Label prefixes every result's check name (e.g. the region targeted).
	Label string
}

// LoadCAFile reads PEM certificates into a pool.
func LoadCAFile(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no PEM certificates", path)
	}
	return pool, nil
}

// resolver maps the address a URL names to the one to dial.
type resolver struct {
	exact map[string]string // "host:port" → "addr:port"
	any   map[string]string // "port" → "addr:port"
}

func parseResolve(entries []string) (*resolver, error) {
	r := &resolver{exact: map[string]string{}, any: map[string]string{}}
	for _, e := range entries {
		host, rest, ok1 := strings.Cut(e, ":")
		port, addr, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 || host == "" || port == "" || addr == "" {
			return nil, fmt.Errorf("resolve %q: want host:port:addr[:port]", e)
		}
		to := addr
		if strings.HasPrefix(addr, "[") { // [v6] or [v6]:port
			if h, p, err := net.SplitHostPort(addr); err == nil {
				to = net.JoinHostPort(h, p)
			} else {
				to = net.JoinHostPort(strings.Trim(addr, "[]"), port)
			}
		} else if h, p, err := net.SplitHostPort(addr); err == nil && !strings.Contains(h, ":") {
			to = net.JoinHostPort(h, p)
		} else {
			to = net.JoinHostPort(addr, port)
		}
		if host == "*" {
			r.any[port] = to
		} else {
			r.exact[net.JoinHostPort(strings.ToLower(host), port)] = to
		}
	}
	return r, nil
}

// dialAddr returns where to connect for addr (host:port from a URL).
func (r *resolver) dialAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if to, ok := r.exact[net.JoinHostPort(strings.ToLower(host), port)]; ok {
		return to
	}
	if to, ok := r.any[port]; ok {
		return to
	}
	return addr
}

func (r *resolver) dial(ctx context.Context, network, addr string, timeout time.Duration) (net.Conn, error) {
	return (&net.Dialer{Timeout: timeout}).DialContext(ctx, network, r.dialAddr(addr))
}

// client is an HTTP/1.1 client that connects through the resolver, trusts
// the given roots, never follows redirects and opens a fresh connection for
// every request (so each request is independent of the last).
func (r *resolver) client(opts Options) *http.Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return r.dial(ctx, network, addr, opts.timeout())
		},
		TLSClientConfig:     &tls.Config{RootCAs: opts.RootCAs},
		DisableKeepAlives:   true,
		TLSHandshakeTimeout: opts.timeout(),
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       opts.timeout(),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (o Options) timeout() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return 10 * time.Second
}

// nameserver resolves a DNS check's nameserver: an alias, or host[:port].
func (o Options) nameserver(ns string) (string, error) {
	if a, ok := o.Nameservers[ns]; ok {
		ns = a
	} else if !strings.ContainsAny(ns, ".:") {
		return "", fmt.Errorf("nameserver alias %q is not set (give it with --nameserver %s=host:port)", ns, ns)
	}
	if _, _, err := net.SplitHostPort(ns); err != nil {
		ns = net.JoinHostPort(strings.Trim(ns, "[]"), "53")
	}
	return ns, nil
}

// Targets describes the edges of a network (for example the lab's) so a run
// can aim at one region: a YAML file with the CA to trust and each region's
// HTTP, HTTPS and DNS addresses.
//
//	ca_file: lab-ca.pem
//	regions:
//	  nyc3: {http: "127.0.1.1:8080", https: "127.0.1.1:8443", dns: "127.0.1.1:5353"}
type Targets struct {
	// CAFile is relative to the targets file.
	CAFile  string            `yaml:"ca_file,omitempty"`
	Regions map[string]Target `yaml:"regions"`
	// Order lists the regions in the order "all" runs them.
	Order []string `yaml:"order,omitempty"`
	dir   string
}

// Target is one edge's listeners.
type Target struct {
	HTTP  string `yaml:"http,omitempty"`
	HTTPS string `yaml:"https,omitempty"`
	DNS   string `yaml:"dns,omitempty"`
}

// LoadTargets reads a targets file.
func LoadTargets(path string) (*Targets, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var t Targets
	if err := yaml.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(t.Regions) == 0 {
		return nil, fmt.Errorf("%s: no regions", path)
	}
	t.dir = filepath.Dir(path)
	return &t, nil
}

// RegionNames returns the regions in run order.
func (t *Targets) RegionNames() []string {
	if len(t.Order) > 0 {
		return t.Order
	}
	var out []string
	for r := range t.Regions {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// Apply returns opts aimed at region: every host's port 80 and 443 go to
// the region's edge, the alias "edge" names its DNS server, and the
// targets' CA is trusted when opts has none.
func (t *Targets) Apply(opts Options, region string) (Options, error) {
	tg, ok := t.Regions[region]
	if !ok {
		return opts, fmt.Errorf("no region %q in the targets (have %v)", region, t.RegionNames())
	}
	if tg.HTTP != "" {
		opts.Resolve = append(opts.Resolve, "*:80:"+tg.HTTP)
	}
	if tg.HTTPS != "" {
		opts.Resolve = append(opts.Resolve, "*:443:"+tg.HTTPS)
	}
	ns := map[string]string{}
	for k, v := range opts.Nameservers {
		ns[k] = v
	}
	if tg.DNS != "" {
		if _, set := ns["edge"]; !set {
			ns["edge"] = tg.DNS
		}
	}
	opts.Nameservers = ns
	if opts.RootCAs == nil && t.CAFile != "" {
		p := t.CAFile
		if !filepath.IsAbs(p) {
			p = filepath.Join(t.dir, p)
		}
		pool, err := LoadCAFile(p)
		if err != nil {
			return opts, err
		}
		opts.RootCAs = pool
	}
	if opts.Label == "" {
		opts.Label = region
	}
	return opts, nil
}

// Write writes the targets as YAML to path.
func (t *Targets) Write(path string) error {
	if t == nil || len(t.Regions) == 0 {
		return errors.New("no regions")
	}
	b, err := yaml.Marshal(t)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
