package api

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"
)

// BucketBlocklist holds one Blocklist document under BlocklistKey: the
// networks every edge refuses (their connections are closed on accept,
// before TLS or HTTP).
const (
	BucketBlocklist = "blocklist"
	BlocklistKey    = "global"
)

// Bounds of a blocklist: every edge keeps it in memory and scans it on each
// accepted connection, and the document travels in one NATS message.
const (
	MaxBlocklistEntries = 10000
	MaxBlocklistBytes   = 768 << 10
	MaxBlockReasonBytes = 200
)

// Blocklist is the document in the blocklist bucket.
type Blocklist struct {
	V       int              `json:"v"`
	Entries []BlocklistEntry `json:"entries"`
}

// BlocklistEntry is one blocked network.
type BlocklistEntry struct {
	// CIDR is an address ("192.0.2.7", "2001:db8::1") or a prefix
	// ("198.51.100.0/24") with no host bits set.
	CIDR string `json:"cidr"`
	// Reason is free text for operators (at most 200 bytes).
	Reason string `json:"reason,omitempty"`
	// Expires, when set, is when the entry stops applying; an edge ignores
	// an expired entry.
	Expires time.Time `json:"expires,omitzero"`
}

// ParseBlocklist decodes a blocklist strictly and validates it.
func ParseBlocklist(data []byte) (Blocklist, error) {
	var b Blocklist
	if err := DecodeStrict(data, MaxBlocklistBytes, &b); err != nil {
		return Blocklist{}, err
	}
	if err := b.Validate(); err != nil {
		return Blocklist{}, err
	}
	return b, nil
}

// Validate checks every entry and returns FieldErrors naming each bad one
// (for example "entries[3].cidr").
func (b *Blocklist) Validate() error {
	var errs FieldErrors
	add := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if b.V != Version {
		add("v", "schema version %d is not supported (want %d)", b.V, Version)
	}
	if len(b.Entries) > MaxBlocklistEntries {
		add("entries", "%d entries, the limit is %d", len(b.Entries), MaxBlocklistEntries)
		return errs
	}
	seen := make(map[netip.Prefix]int, len(b.Entries))
	for i, e := range b.Entries {
		field := fmt.Sprintf("entries[%d]", i)
		p, err := ParseBlockCIDR(e.CIDR)
		if err != nil {
			add(field+".cidr", "%v", err)
		} else if j, dup := seen[p]; dup {
			add(field+".cidr", "%s is already entries[%d]", p, j)
		} else {
			seen[p] = i
		}
		if len(e.Reason) > MaxBlockReasonBytes {
			add(field+".reason", "%d bytes, the limit is %d", len(e.Reason), MaxBlockReasonBytes)
		} else if !utf8.ValidString(e.Reason) || strings.ContainsFunc(e.Reason, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			add(field+".reason", "must be printable UTF-8 on one line")
		}
		if !e.Expires.IsZero() && (e.Expires.Year() < 2000 || e.Expires.Year() > 9999) {
			add(field+".expires", "%s is not a plausible time", e.Expires.Format(time.RFC3339))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// ParseBlockCIDR parses an address (a single-address prefix) or a prefix
// with no host bits set. IPv4-mapped IPv6 is refused: edges compare IPv4
// clients as IPv4.
func ParseBlockCIDR(s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, fmt.Errorf("required")
	}
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR prefix", s)
		}
		if a.Is4In6() {
			return netip.Prefix{}, fmt.Errorf("%q is IPv4-mapped IPv6; write %s", s, a.Unmap())
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR prefix", s)
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, fmt.Errorf("%q is IPv4-mapped IPv6", s)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("%q has host bits set; did you mean %s?", s, m)
	}
	return p, nil
}

// Active returns the CIDRs of the entries not expired at now, and the
// earliest expiry after now among them (zero if none expires).
func (b *Blocklist) Active(now time.Time) (cidrs []string, next time.Time) {
	cidrs = make([]string, 0, len(b.Entries))
	for _, e := range b.Entries {
		if !e.Expires.IsZero() {
			if !e.Expires.After(now) {
				continue
			}
			if next.IsZero() || e.Expires.Before(next) {
				next = e.Expires
			}
		}
		cidrs = append(cidrs, e.CIDR)
	}
	return cidrs, next
}
