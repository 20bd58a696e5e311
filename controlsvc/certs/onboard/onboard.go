// Package onboard checks, before any certificate is ordered, that a
// customer's hostname points at the edge: a CNAME to its edge name
// (<host>.<edge zone>) or A/AAAA records that are all edge addresses. The
// error says exactly which record is missing.
package onboard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Config says what "points at the edge" means and whom to ask.
type Config struct {
	// EdgeZone is the edge's DNS zone; a site's edge name is host + "." + EdgeZone.
	EdgeZone string
	// EdgeIPs are the edges' public addresses.
	EdgeIPs []netip.Addr
	// Resolver is a DNS server (host:port) asked over TCP; the system
	// resolver when empty.
	Resolver string
}

// Checker runs the check.
type Checker struct {
	cfg Config
	res *net.Resolver
}

// New validates cfg and returns a Checker.
func New(cfg Config) (*Checker, error) {
	cfg.EdgeZone = strings.TrimSuffix(strings.ToLower(cfg.EdgeZone), ".")
	if cfg.EdgeZone == "" && len(cfg.EdgeIPs) == 0 {
		return nil, errors.New("onboarding: edge_zone or edge_ips is required")
	}
	res := net.DefaultResolver
	if cfg.Resolver != "" {
		if _, _, err := net.SplitHostPort(cfg.Resolver); err != nil {
			return nil, fmt.Errorf("onboarding resolver: %w", err)
		}
		addr := cfg.Resolver
		res = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", addr)
		}}
	}
	return &Checker{cfg: cfg, res: res}, nil
}

// NotPointedError says what the customer must add.
type NotPointedError struct {
	Host string
	// Want is the record to add.
	Want string
	// Found is what the name resolves to now ("" for nothing).
	Found string
}

func (e *NotPointedError) Error() string {
	found := "it does not resolve"
	if e.Found != "" {
		found = "it resolves to " + e.Found
	}
	return fmt.Sprintf("%s does not point at the edge: add %s (%s)", e.Host, e.Want, found)
}

// EdgeName is the name host's CNAME must point to.
func (c *Checker) EdgeName(host string) string { return host + "." + c.cfg.EdgeZone + "." }

// Check returns nil when host points at the edge, a *NotPointedError when
// it does not, and another error when DNS could not be asked.
func (c *Checker) Check(ctx context.Context, host string) error {
	if c.cfg.EdgeZone != "" {
		cname, err := c.res.LookupCNAME(ctx, host)
		if err == nil && strings.EqualFold(cname, c.EdgeName(host)) {
			return nil
		}
	}
	addrs, err := c.res.LookupNetIP(ctx, "ip", host)
	var dnsErr *net.DNSError
	if err != nil && !(errors.As(err, &dnsErr) && dnsErr.IsNotFound) {
		return fmt.Errorf("onboarding check of %s: %w", host, err)
	}
	if len(addrs) > 0 && len(c.cfg.EdgeIPs) > 0 && allEdge(addrs, c.cfg.EdgeIPs) {
		return nil
	}
	e := &NotPointedError{Host: host}
	switch {
	case c.cfg.EdgeZone != "" && len(c.cfg.EdgeIPs) > 0:
		e.Want = fmt.Sprintf("%q, or A/AAAA records to %s only", host+". CNAME "+c.EdgeName(host), join(c.cfg.EdgeIPs))
	case c.cfg.EdgeZone != "":
		e.Want = fmt.Sprintf("%q", host+". CNAME "+c.EdgeName(host))
	default:
		e.Want = "A/AAAA records to " + join(c.cfg.EdgeIPs) + " only"
	}
	e.Found = join(addrs)
	return e
}

func allEdge(addrs, edge []netip.Addr) bool {
	for _, a := range addrs {
		if !slices.Contains(edge, a.Unmap()) {
			return false
		}
	}
	return true
}

func join(addrs []netip.Addr) string {
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.Unmap().String()
	}
	return strings.Join(s, ", ")
}

// Zone is the edge zone ("" when only addresses are checked).
func (c *Checker) Zone() string { return c.cfg.EdgeZone }

// EdgeIPs are the addresses an A/AAAA record may point at.
func (c *Checker) EdgeIPs() []netip.Addr { return slices.Clone(c.cfg.EdgeIPs) }
