// Package blocklist holds the networks an edge refuses outright: their
// connections are closed on accept, before TLS or HTTP. The list can be
// replaced at any time without locking the accept path; a Feed keeps it at
// the configured networks plus the list pushed over NATS.
package blocklist

import (
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"
)

// MaxEntries bounds a list; lookups are a scan per accepted connection.
const MaxEntries = 10000

// List is a replaceable set of blocked prefixes, safe for concurrent use.
// The zero value blocks nothing.
type List struct {
	p atomic.Pointer[[]netip.Prefix]
}

// New returns a list holding cidrs (addresses or CIDR prefixes).
func New(cidrs []string) (*List, error) {
	l := &List{}
	if err := l.Set(cidrs); err != nil {
		return nil, err
	}
	return l, nil
}

// Parse checks and parses cidrs, naming a bad entry by its index.
func Parse(cidrs []string) ([]netip.Prefix, error) {
	if len(cidrs) > MaxEntries {
		return nil, fmt.Errorf("%d entries, the limit is %d", len(cidrs), MaxEntries)
	}
	out := make([]netip.Prefix, 0, len(cidrs))
	for i, c := range cidrs {
		var p netip.Prefix
		var err error
		if strings.Contains(c, "/") {
			p, err = netip.ParsePrefix(c)
			p = p.Masked()
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(c); err == nil {
				a = a.Unmap()
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil {
			return nil, fmt.Errorf("[%d]: %q is not an address or CIDR prefix", i, c)
		}
		out = append(out, p)
	}
	return out, nil
}

// Set replaces the list.
func (l *List) Set(cidrs []string) error {
	ps, err := Parse(cidrs)
	if err != nil {
		return err
	}
	l.p.Store(&ps)
	return nil
}

// Len returns the number of entries.
func (l *List) Len() int {
	if p := l.p.Load(); p != nil {
		return len(*p)
	}
	return 0
}

// Contains reports whether a is blocked.
func (l *List) Contains(a netip.Addr) bool {
	p := l.p.Load()
	if p == nil {
		return false
	}
	a = a.Unmap()
	for _, pf := range *p {
		if pf.Contains(a) {
			return true
		}
	}
	return false
}
