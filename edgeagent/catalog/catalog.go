// Package catalog holds what an edge knows: the sites it serves and their
// certificates. Readers on the request path take an immutable Snapshot with
// one atomic load; writers build the next snapshot and swap it in, and keep a
// last-known-good copy on disk so a restart without NATS still serves.
package catalog

import (
	"crypto/ecdh"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"maps"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/cache"
	"github.com/rampart-edge/rampart/edgeagent/ratelimit"
)

// Site is a validated site, compiled for the request path.
type Site struct {
	api.Site
	// Origins in failover order.
	Origins []Origin
	// HSTS is the Strict-Transport-Security value, or "" for none.
	HSTS string
	// MinTLS is the lowest TLS version the site accepts.
	MinTLS uint16
	// RateLimit is the compiled rate-limit policy; nil when it has no rules.
	RateLimit *ratelimit.Policy
	// Cache is the compiled cache policy.
	Cache *cache.SitePolicy
	// Raw is the KV value the site came from.
	Raw []byte
}

// Origin is one compiled upstream.
type Origin struct {
	// Scheme is "http" or "https"; Addr is host:port.
	Scheme, Addr string
	// HostHeader is the Host sent upstream.
	HostHeader string
	// TLS is the origin's TLS settings, nil for http.
	TLS *api.OriginTLS
	// TLSKey identifies origins that can share a connection pool.
	TLSKey string
}

// Cert is a certificate ready for the TLS handshake.
type Cert struct {
	TLS      *tls.Certificate
	NotAfter time.Time
	Issuer   string
	Raw      []byte
}

// Snapshot is an immutable view of the catalog.
type Snapshot struct {
	sites map[string]*Site
	certs map[string]*Cert
}

// Site returns the site for a lower-case host, or nil.
func (s *Snapshot) Site(host string) *Site { return s.sites[host] }

// Cert returns the certificate for a lower-case server name, or nil.
func (s *Snapshot) Cert(name string) *Cert { return s.certs[name] }

// Len returns the number of sites and certificates.
func (s *Snapshot) Len() (sites, certs int) { return len(s.sites), len(s.certs) }

// Hostnames returns the site hostnames (unordered).
func (s *Snapshot) Hostnames() []string {
	out := make([]string, 0, len(s.sites))
	for h := range s.sites {
		out = append(out, h)
	}
	return out
}

// Kind names one of the two kinds of entries.
type Kind string

// The two kinds of entries, named like their KV buckets.
const (
	KindSite Kind = api.BucketSites
	KindCert Kind = api.BucketCerts
)

// Catalog is the edge's current view, safe for concurrent use.
type Catalog struct {
	cur     atomic.Pointer[Snapshot]
	loaded  atomic.Bool
	mu      sync.Mutex    // serialises writers
	changed chan struct{} // closed at the next swap (mu)
	sealKey *ecdh.PrivateKey
	store   *DiskStore // nil: no persistence
}

// New returns an empty catalog. sealKey opens certificate keys from the
// certs bucket (nil: only plain keys from a static file); store, when not
// nil, receives every accepted change.
func New(sealKey *ecdh.PrivateKey, store *DiskStore) *Catalog {
	c := &Catalog{sealKey: sealKey, store: store, changed: make(chan struct{})}
	c.cur.Store(&Snapshot{sites: map[string]*Site{}, certs: map[string]*Cert{}})
	return c
}

// Load returns the current snapshot; it never returns nil.
func (c *Catalog) Load() *Snapshot { return c.cur.Load() }

// Changed returns a channel that is closed when the snapshot is next
// replaced. Take it before Load to miss no change: a change made after it
// closes the channel, whatever Load returned.
func (c *Catalog) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

// Loaded reports whether the catalog has been filled at least once (from
// NATS, a disk snapshot or a static file).
func (c *Catalog) Loaded() bool { return c.loaded.Load() }

// Change is one KV entry: a put (Value set) or a delete (Value nil).
type Change struct {
	Kind  Kind
	Key   string
	Value []byte
}

// Replace swaps in a complete state of one kind (after a full sync), keeping
// the other kind. Invalid entries are skipped and reported; where an entry
// is invalid but a valid previous version exists, the previous one is kept.
func (c *Catalog) Replace(kind Kind, entries map[string][]byte) []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.cur.Load()
	next := &Snapshot{sites: old.sites, certs: old.certs}
	var errs []error
	switch kind {
	case KindSite:
		next.sites = make(map[string]*Site, len(entries))
		for k, v := range entries {
			s, err := CompileSite(k, v)
			if err != nil {
				errs = append(errs, err)
				if prev := old.sites[k]; prev != nil {
					next.sites[k] = prev
				}
				continue
			}
			next.sites[k] = s
		}
	case KindCert:
		next.certs = make(map[string]*Cert, len(entries))
		for k, v := range entries {
			ct, err := c.compileCert(k, v)
			if err != nil {
				errs = append(errs, err)
				if prev := old.certs[k]; prev != nil {
					next.certs[k] = prev
				}
				continue
			}
			next.certs[k] = ct
		}
	default:
		return []error{fmt.Errorf("catalog: unknown kind %q", kind)}
	}
	c.swap(next)
	return errs
}

// Apply applies one change. An invalid value is rejected and the previous
// version, if any, stays in service.
func (c *Catalog) Apply(ch Change) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.cur.Load()
	next := &Snapshot{sites: old.sites, certs: old.certs}
	switch ch.Kind {
	case KindSite:
		next.sites = maps.Clone(old.sites)
		if ch.Value == nil {
			delete(next.sites, ch.Key)
			break
		}
		s, err := CompileSite(ch.Key, ch.Value)
		if err != nil {
			return err
		}
		next.sites[ch.Key] = s
	case KindCert:
		next.certs = maps.Clone(old.certs)
		if ch.Value == nil {
			delete(next.certs, ch.Key)
			break
		}
		ct, err := c.compileCert(ch.Key, ch.Value)
		if err != nil {
			return err
		}
		next.certs[ch.Key] = ct
	default:
		return fmt.Errorf("catalog: unknown kind %q", ch.Kind)
	}
	c.swap(next)
	return nil
}

// swap publishes next and persists it. Called with mu held.
func (c *Catalog) swap(next *Snapshot) {
	c.cur.Store(next)
	c.loaded.Store(true)
	close(c.changed)
	c.changed = make(chan struct{})
	if c.store != nil {
		c.store.save(next)
	}
}

// CompileSite parses and validates a KV value for key and prepares it for
// the request path.
func CompileSite(key string, raw []byte) (*Site, error) {
	s, err := api.ParseSite(raw)
	if err != nil {
		return nil, fmt.Errorf("site %q: %w", key, err)
	}
	if s.Hostname != key {
		return nil, fmt.Errorf("site %q: hostname %q does not match its key", key, s.Hostname)
	}
	cs := &Site{Site: s, Raw: raw, MinTLS: tls.VersionTLS12, RateLimit: ratelimit.Compile(s.Hostname, s.RateLimit), Cache: cache.Compile(s.Cache)}
	if s.HTTPS.MinTLS == "1.3" {
		cs.MinTLS = tls.VersionTLS13
	}
	if s.HTTPS.HSTSMaxAge > 0 {
		v := "max-age=" + strconv.Itoa(s.HTTPS.HSTSMaxAge)
		if s.HTTPS.HSTSIncludeSubdomains {
			v += "; includeSubDomains"
		}
		if s.HTTPS.HSTSPreload {
			v += "; preload"
		}
		cs.HSTS = v
	}
	for _, o := range s.Origins {
		u, err := url.Parse(o.URL)
		if err != nil {
			return nil, fmt.Errorf("site %q: origin %q: %w", key, o.URL, err)
		}
		port := u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
		}
		co := Origin{Scheme: u.Scheme, Addr: joinHostPort(u.Hostname(), port), HostHeader: o.HostHeader}
		if co.HostHeader == "" {
			co.HostHeader = s.Hostname
		}
		if u.Scheme == "https" {
			t := o.TLS
			co.TLS = &t
			co.TLSKey = strings.Join([]string{t.ServerName, t.CAPEM, strconv.FormatBool(t.InsecureSkipVerify)}, "\x00")
		}
		cs.Origins = append(cs.Origins, co)
	}
	return cs, nil
}

func joinHostPort(host, port string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

func (c *Catalog) compileCert(key string, raw []byte) (*Cert, error) {
	rec, err := api.ParseCertRecord(raw)
	if err != nil {
		return nil, fmt.Errorf("cert %q: %w", key, err)
	}
	if rec.Hostname != key {
		return nil, fmt.Errorf("cert %q: hostname %q does not match its key", key, rec.Hostname)
	}
	if c.sealKey == nil {
		return nil, fmt.Errorf("cert %q: no seal key configured to open it", key)
	}
	keyPEM, err := api.Open(c.sealKey, rec.KeySealed)
	if err != nil {
		return nil, fmt.Errorf("cert %q: %w", key, err)
	}
	ct, err := buildCert(key, []byte(rec.ChainPEM), keyPEM)
	if err != nil {
		return nil, err
	}
	ct.Issuer = rec.Issuer
	ct.Raw = raw
	return ct, nil
}

// buildCert parses a chain and key and checks that the leaf covers host.
func buildCert(host string, chainPEM, keyPEM []byte) (*Cert, error) {
	pair, err := tls.X509KeyPair(chainPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("cert %q: %w", host, err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("cert %q: %w", host, err)
	}
	if err := leaf.VerifyHostname(host); err != nil {
		return nil, fmt.Errorf("cert %q: %w", host, err)
	}
	pair.Leaf = leaf
	return &Cert{TLS: &pair, NotAfter: leaf.NotAfter}, nil
}
