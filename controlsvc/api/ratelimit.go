package api

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Rate-limit keys: what identifies one client of a rule.
const (
	RateLimitKeyIP     = "ip"     // the real client IP (the default)
	RateLimitKeyHeader = "header" // a request header, e.g. an API key
	RateLimitKeyCookie = "cookie" // a cookie, e.g. a session
)

// Rate-limit bounds.
const (
	MaxRateLimitRules   = 64
	MaxRateLimitExempt  = 1000
	MaxRateLimitRate    = 1_000_000
	MaxRateLimitBurst   = 1_000_000
	MaxRateLimitPeriod  = 24 * time.Hour
	DefaultRateLimitPer = "1s"
)

// RateLimitPolicy holds the site's rate limits. Limits are counted per edge
// node, not shared across a region: a client spread over n nodes by DNS or
// anycast can get up to n times a rule's rate. Every rule whose method and
// path match a request applies; the request is refused (429) when any of
// them is exhausted.
type RateLimitPolicy struct {
	Rules []RateLimitRule `json:"rules,omitempty"`
	// ExemptCIDRs are clients (addresses or CIDR prefixes) no rule applies
	// to, e.g. monitoring.
	ExemptCIDRs []string `json:"exempt_cidrs,omitempty"`
	// ExemptPaths no rule applies to (health checks): exact paths, or
	// prefixes ending in "*".
	ExemptPaths []string `json:"exempt_paths,omitempty"`
}

// RateLimitRule is one token bucket per key: Rate requests per Period, with
// up to Burst at once.
type RateLimitRule struct {
	// Name identifies the rule in the RateLimit-Policy header and the
	// access log; empty means "rule<index>". Letters, digits, - and _.
	Name string `json:"name,omitempty"`
	// Methods the rule applies to (upper case); empty means all.
	Methods []string `json:"methods,omitempty"`
	// Path is an exact path, or a prefix ending in "*"; empty means all.
	Path string `json:"path,omitempty"`
	// Key is "ip" (default), "header" or "cookie"; KeyName names the header
	// or cookie. A request without that header or cookie is keyed by its
	// client IP, so leaving it out does not escape the limit. IP keys
	// count an IPv6 client by its /64.
	Key     string `json:"key,omitempty"`
	KeyName string `json:"key_name,omitempty"`
	// Rate is how many requests are allowed per Period (a Go duration, 1s to
	// 24h; empty means "1s").
	Rate   int    `json:"rate"`
	Period string `json:"period,omitempty"`
	// Burst is how many requests may come at once; 0 means Rate.
	Burst int `json:"burst,omitempty"`
}

// RuleName returns the rule's effective name.
func (r RateLimitRule) RuleName(i int) string {
	if r.Name != "" {
		return r.Name
	}
	return fmt.Sprintf("rule%d", i)
}

// PeriodDuration returns the effective period; call it on validated rules.
func (r RateLimitRule) PeriodDuration() time.Duration {
	p := r.Period
	if p == "" {
		p = DefaultRateLimitPer
	}
	d, _ := time.ParseDuration(p)
	return d
}

// EffectiveBurst returns Burst, or Rate when Burst is 0.
func (r RateLimitRule) EffectiveBurst() int {
	if r.Burst == 0 {
		return r.Rate
	}
	return r.Burst
}

func (p RateLimitPolicy) validate(add addFunc) {
	if len(p.Rules) > MaxRateLimitRules {
		add("rate_limit.rules", "%d rules, the limit is %d", len(p.Rules), MaxRateLimitRules)
	}
	names := map[string]bool{}
	for i, r := range p.Rules {
		prefix := fmt.Sprintf("rate_limit.rules[%d]", i)
		r.validate(prefix, add)
		n := r.RuleName(i)
		if names[n] {
			add(prefix+".name", "%q is used by an earlier rule", n)
		}
		names[n] = true
	}
	if len(p.ExemptCIDRs) > MaxRateLimitExempt {
		add("rate_limit.exempt_cidrs", "%d entries, the limit is %d", len(p.ExemptCIDRs), MaxRateLimitExempt)
	}
	for i, c := range p.ExemptCIDRs {
		if !validAddrOrPrefix(c) {
			add(fmt.Sprintf("rate_limit.exempt_cidrs[%d]", i), "%q is not an address or CIDR prefix", c)
		}
	}
	if len(p.ExemptPaths) > MaxRateLimitExempt {
		add("rate_limit.exempt_paths", "%d entries, the limit is %d", len(p.ExemptPaths), MaxRateLimitExempt)
	}
	for i, ep := range p.ExemptPaths {
		if err := validatePathPattern(ep); err != nil {
			add(fmt.Sprintf("rate_limit.exempt_paths[%d]", i), "%v", err)
		}
	}
}

func (r RateLimitRule) validate(prefix string, add addFunc) {
	if r.Name != "" && (len(r.Name) > 32 || strings.Trim(r.Name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "") {
		add(prefix+".name", "1-32 letters, digits, - or _")
	}
	for j, m := range r.Methods {
		if m == "" || len(m) > 20 || strings.Trim(m, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
			add(fmt.Sprintf("%s.methods[%d]", prefix, j), "%q is not an upper-case method", m)
		}
	}
	if r.Path != "" {
		if err := validatePathPattern(r.Path); err != nil {
			add(prefix+".path", "%v", err)
		}
	}
	switch r.Key {
	case "", RateLimitKeyIP:
		if r.KeyName != "" {
			add(prefix+".key_name", "only used with key \"header\" or \"cookie\"")
		}
	case RateLimitKeyHeader, RateLimitKeyCookie:
		if r.KeyName == "" || len(r.KeyName) > 64 || !isToken(r.KeyName) {
			add(prefix+".key_name", "the %s name is required (an HTTP token, at most 64 characters)", r.Key)
		}
	default:
		add(prefix+".key", "must be %q, %q or %q, not %q", RateLimitKeyIP, RateLimitKeyHeader, RateLimitKeyCookie, r.Key)
	}
	if r.Rate < 1 || r.Rate > MaxRateLimitRate {
		add(prefix+".rate", "must be 1 to %d", MaxRateLimitRate)
	}
	if r.Burst < 0 || r.Burst > MaxRateLimitBurst {
		add(prefix+".burst", "must be 0 to %d", MaxRateLimitBurst)
	}
	if r.Period != "" {
		d, err := time.ParseDuration(r.Period)
		if err != nil || d < time.Second || d > MaxRateLimitPeriod {
			add(prefix+".period", "must be a duration from 1s to 24h, like \"1m\", not %q", r.Period)
		}
	}
}

// validatePathPattern checks an exact path or a prefix ending in "*".
func validatePathPattern(p string) error {
	switch {
	case !strings.HasPrefix(p, "/"):
		return fmt.Errorf("must start with /")
	case strings.Contains(strings.TrimSuffix(p, "*"), "*"):
		return fmt.Errorf("\"*\" is only allowed at the end")
	}
	return nil
}

func validAddrOrPrefix(s string) bool {
	if strings.Contains(s, "/") {
		_, err := netip.ParsePrefix(s)
		return err == nil
	}
	_, err := netip.ParseAddr(s)
	return err == nil
}

// isToken reports whether s is an RFC 9110 token.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return s != ""
}
