package ratelimit

import (
	"hash/maphash"
	"net/http"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
)

// Policy is a site's validated api.RateLimitPolicy, compiled for the
// request path. It is immutable.
type Policy struct {
	site        string
	rules       []rule
	exemptCIDRs []netip.Prefix
	exemptPaths []pattern
}

type keyKind uint8

const (
	keyIP keyKind = iota + 1
	keyHeader
	keyCookie
)

type rule struct {
	name     string
	methods  []string
	path     pattern // zero: every path
	kind     keyKind
	keyName  string // canonical header name, or cookie name
	interval int64  // ns per token
	burst    int
	// policy is this rule's RateLimit-Policy item, e.g. `"login";q=5;w=60`.
	policy string
}

// pattern is an exact path, or a prefix when prefix is set.
type pattern struct {
	s      string
	prefix bool
}

func compilePattern(p string) pattern {
	s, prefix := strings.CutSuffix(p, "*")
	return pattern{s: s, prefix: prefix}
}

func (p pattern) match(s string) bool {
	if p.prefix {
		return strings.HasPrefix(s, p.s)
	}
	return s == p.s
}

// Compile prepares a validated policy of site for the request path. It
// returns nil when the policy has no rules.
func Compile(site string, p api.RateLimitPolicy) *Policy {
	if len(p.Rules) == 0 {
		return nil
	}
	cp := &Policy{site: site}
	for i, r := range p.Rules {
		period := r.PeriodDuration()
		cr := rule{
			name:     r.RuleName(i),
			methods:  r.Methods,
			interval: max(int64(period)/int64(r.Rate), 1),
			burst:    r.EffectiveBurst(),
			kind:     keyIP,
		}
		if r.Path != "" {
			cr.path = compilePattern(r.Path)
		}
		switch r.Key {
		case api.RateLimitKeyHeader:
			cr.kind, cr.keyName = keyHeader, http.CanonicalHeaderKey(r.KeyName)
		case api.RateLimitKeyCookie:
			cr.kind, cr.keyName = keyCookie, r.KeyName
		}
		cr.policy = strconv.Quote(cr.name) + ";q=" + strconv.Itoa(r.Rate) + ";w=" + strconv.Itoa(int(period/time.Second))
		cp.rules = append(cp.rules, cr)
	}
	for _, c := range p.ExemptCIDRs {
		if pf, ok := parsePrefix(c); ok {
			cp.exemptCIDRs = append(cp.exemptCIDRs, pf)
		}
	}
	for _, ep := range p.ExemptPaths {
		cp.exemptPaths = append(cp.exemptPaths, compilePattern(ep))
	}
	return cp
}

func parsePrefix(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err == nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

// Decision is the outcome of a check.
type Decision struct {
	// Limited is true when the request must be refused.
	Limited bool
	// Rule names the exhausted rule.
	Rule string
	// Wait is how long until the rule allows a request again.
	Wait   time.Duration
	policy string
}

// Check spends a token of every rule matching r for client and reports
// whether the request is over a limit. It does not allocate.
func (p *Policy) Check(l *Limiter, r *http.Request, client netip.Addr, now time.Time) Decision {
	if p == nil {
		return Decision{}
	}
	for _, pf := range p.exemptCIDRs {
		if pf.Contains(client) {
			return Decision{}
		}
	}
	reqPath := cleanPath(r.URL.Path)
	for _, ep := range p.exemptPaths {
		if ep.match(reqPath) {
			return Decision{}
		}
	}
	for i := range p.rules {
		rl := &p.rules[i]
		if !rl.matches(r.Method, reqPath) {
			continue
		}
		key := p.key(l, rl, r, client)
		if ok, _, wait := l.take(key, rl.interval, rl.burst, now); !ok {
			return Decision{Limited: true, Rule: rl.name, Wait: wait, policy: rl.policy}
		}
	}
	return Decision{}
}

func (rl *rule) matches(method, p string) bool {
	if len(rl.methods) > 0 {
		found := false
		for _, m := range rl.methods {
			if m == method {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return rl.path.s == "" || rl.path.match(p)
}

// key hashes (site, rule, client key) with the limiter's secret seed, so
// clients cannot aim collisions at someone else's bucket.
func (p *Policy) key(l *Limiter, rl *rule, r *http.Request, client netip.Addr) uint64 {
	var h maphash.Hash
	h.SetSeed(l.seed)
	h.WriteString(p.site)
	h.WriteByte(0)
	h.WriteString(rl.name)
	var v string
	switch rl.kind {
	case keyHeader:
		if vv := r.Header[rl.keyName]; len(vv) > 0 {
			v = vv[0]
		}
	case keyCookie:
		v = cookieValue(r.Header["Cookie"], rl.keyName)
	}
	if v != "" {
		h.WriteByte(byte(rl.kind))
		h.WriteString(v)
	} else {
		if client.Is6() {
			// One IPv6 client usually holds a whole /64: count it as one.
			client = netip.PrefixFrom(client, 64).Masked().Addr()
		}
		a := client.As16()
		h.WriteByte(byte(keyIP))
		h.Write(a[:])
	}
	return h.Sum64()
}

// cookieValue finds a cookie in Cookie header lines without allocating.
func cookieValue(lines []string, name string) string {
	for _, line := range lines {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			if k, v, ok := strings.Cut(part, "="); ok && k == name {
				return strings.Trim(v, `"`)
			}
		}
	}
	return ""
}

// cleanPath normalises a path the way an origin might ("//a/./b" is
// "/a/b"), so a rule cannot be dodged by spelling the path differently. A
// clean path is returned as it is, without allocating.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if !strings.Contains(p, "//") && !strings.Contains(p, "/.") {
		return p
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// SetHeaders writes the 429 headers: Retry-After, and RateLimit-Policy and
// RateLimit as in draft-ietf-httpapi-ratelimit-headers.
func (d Decision) SetHeaders(h http.Header) {
	secs := int((d.Wait + time.Second - 1) / time.Second)
	secs = max(secs, 1)
	s := strconv.Itoa(secs)
	h.Set("Retry-After", s)
	h.Set("RateLimit-Policy", d.policy)
	h.Set("RateLimit", strconv.Quote(d.Rule)+";r=0;t="+s)
}
