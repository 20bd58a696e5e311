package spec

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// CacheStatus is one member of a Cache-Status header (RFC 9211): what one
// cache on the path did with the request.
type CacheStatus struct {
	Cache string
	// Hit: the response was served from this cache.
	Hit bool
	// Fwd is why the request went forward ("miss", "stale", "uri-miss", …).
	Fwd       string
	FwdStatus int
	// TTL is the remaining freshness in seconds (negative when stale);
	// HasTTL says whether it was given.
	TTL    int
	HasTTL bool
	Stored bool
	Params map[string]string
}

// ParseCacheStatus parses the Cache-Status field lines as an RFC 8941
// structured list: comma-separated members, each a token or string naming
// the cache, followed by ";key[=value]" parameters. A bare key is the
// boolean true ("hit"); "?0" is false.
func ParseCacheStatus(lines []string) ([]CacheStatus, error) {
	p := &sfParser{s: strings.Join(lines, ",")}
	var out []CacheStatus
	p.skipSP()
	if p.done() {
		return nil, nil
	}
	for {
		cs, err := p.member()
		if err != nil {
			return nil, fmt.Errorf("Cache-Status %q: %w", p.s, err)
		}
		out = append(out, cs)
		p.skipOWS()
		if p.done() {
			return out, nil
		}
		if p.s[p.i] != ',' {
			return nil, fmt.Errorf("Cache-Status %q: expected \",\" at byte %d", p.s, p.i)
		}
		p.i++
		p.skipOWS()
		if p.done() {
			return nil, fmt.Errorf("Cache-Status %q: trailing comma", p.s)
		}
	}
}

// FindCacheStatus returns the member for the named cache; the last one when the name
// appears more than once (the one closest to the client).
func FindCacheStatus(list []CacheStatus, cache string) (CacheStatus, bool) {
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].Cache == cache {
			return list[i], true
		}
	}
	return CacheStatus{}, false
}

type sfParser struct {
	s string
	i int
}

func (p *sfParser) done() bool { return p.i >= len(p.s) }

func (p *sfParser) skipSP() {
	for !p.done() && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *sfParser) skipOWS() {
	for !p.done() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *sfParser) member() (CacheStatus, error) {
	var cs CacheStatus
	name, err := p.bareItem()
	if err != nil {
		return cs, err
	}
	cs.Cache = name
	cs.Params = map[string]string{}
	for !p.done() && p.s[p.i] == ';' {
		p.i++
		p.skipSP()
		key, err := p.key()
		if err != nil {
			return cs, err
		}
		val := "?1"
		if !p.done() && p.s[p.i] == '=' {
			p.i++
			if val, err = p.bareItem(); err != nil {
				return cs, fmt.Errorf("parameter %s: %w", key, err)
			}
		}
		cs.Params[key] = val
		switch key {
		case "hit":
			cs.Hit = val == "?1"
		case "stored":
			cs.Stored = val == "?1"
		case "fwd":
			cs.Fwd = val
		case "fwd-status":
			cs.FwdStatus, _ = strconv.Atoi(val)
		case "ttl":
			n, err := strconv.Atoi(val)
			if err != nil {
				return cs, fmt.Errorf("ttl %q is not an integer", val)
			}
			cs.TTL, cs.HasTTL = n, true
		}
	}
	return cs, nil
}

// key parses an RFC 8941 key: lcalpha or "*", then lcalpha, digits, "_-.*".
func (p *sfParser) key() (string, error) {
	start := p.i
	if p.done() || !(p.s[p.i] >= 'a' && p.s[p.i] <= 'z' || p.s[p.i] == '*') {
		return "", fmt.Errorf("expected a parameter key at byte %d", p.i)
	}
	for !p.done() {
		c := p.s[p.i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("_-.*", c) >= 0 {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i], nil
}

// bareItem parses a token, string, integer/decimal or boolean and returns
// its value (strings unquoted).
func (p *sfParser) bareItem() (string, error) {
	if p.done() {
		return "", fmt.Errorf("expected an item at byte %d", p.i)
	}
	switch c := p.s[p.i]; {
	case c == '"':
		var b strings.Builder
		p.i++
		for !p.done() {
			c := p.s[p.i]
			p.i++
			switch {
			case c == '\\':
				if p.done() || (p.s[p.i] != '"' && p.s[p.i] != '\\') {
					return "", fmt.Errorf("bad escape in string at byte %d", p.i)
				}
				b.WriteByte(p.s[p.i])
				p.i++
			case c == '"':
				return b.String(), nil
			case c < 0x20 || c > 0x7e:
				return "", fmt.Errorf("bad character in string at byte %d", p.i-1)
			default:
				b.WriteByte(c)
			}
		}
		return "", fmt.Errorf("unterminated string")
	case c == '?':
		if p.i+1 < len(p.s) && (p.s[p.i+1] == '0' || p.s[p.i+1] == '1') {
			p.i += 2
			return p.s[p.i-2 : p.i], nil
		}
		return "", fmt.Errorf("bad boolean at byte %d", p.i)
	case c == '-' || c >= '0' && c <= '9':
		start := p.i
		p.i++
		for !p.done() && (p.s[p.i] >= '0' && p.s[p.i] <= '9' || p.s[p.i] == '.') {
			p.i++
		}
		return p.s[start:p.i], nil
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '*':
		start := p.i
		for !p.done() && isTokenChar(p.s[p.i]) {
			p.i++
		}
		return p.s[start:p.i], nil
	default:
		return "", fmt.Errorf("unexpected %q at byte %d", c, p.i)
	}
}

func isTokenChar(c byte) bool {
	return c > 0x20 && c < 0x7f && strings.IndexByte("\"(),;<=>?@[\\]{}", c) < 0 || c == ':' || c == '/'
}

// describeCache summarises what a response says about caching, for failure
// messages.
func describeCache(h http.Header) string {
	parts := []string{}
	for _, k := range []string{"Cache-Status", "Age", "Cache-Control", "Expires"} {
		if v := h.Values(k); len(v) > 0 {
			parts = append(parts, k+": "+strings.Join(v, ", "))
		}
	}
	if len(parts) == 0 {
		return "no Cache-Status, Age, Cache-Control or Expires"
	}
	return strings.Join(parts, "; ")
}

// Cachability is what RFC 9111 lets a cache do with a response.
type Cachability struct {
	// Storable: the cache may store the response.
	Storable bool
	// Lifetime is the freshness lifetime (§4.2.1); zero when the response
	// must be revalidated before every reuse.
	Lifetime time.Duration
	// Why names the directive or header that decided.
	Why string
}

// Cachable reports whether it can be reused without asking the origin.
func (c Cachability) Cachable() bool { return c.Storable && c.Lifetime > 0 }

// cacheableStatus are the status codes RFC 9110 §15.1 calls heuristically
// cacheable; others need explicit freshness to be stored.
var cacheableStatus = map[int]bool{200: true, 203: true, 204: true, 206: true, 300: true, 301: true, 308: true,
	404: true, 405: true, 410: true, 414: true, 501: true}

// ReadCachability reads a GET response's Cache-Control, Expires and Date as
// a shared cache (a CDN, shared=true) or a private one (a browser) would,
// RFC 9111 §3 and §4.2.1. Heuristic freshness is not counted: a response
// without explicit freshness is reported with a zero lifetime.
func ReadCachability(status int, h http.Header, shared bool) Cachability {
	cc := parseCacheControl(h.Values("Cache-Control"))
	if _, ok := cc["no-store"]; ok {
		return Cachability{Why: "Cache-Control: no-store"}
	}
	if v, ok := cc["private"]; ok && shared && v == "" {
		// A qualified private="field" only withholds those fields.
		return Cachability{Why: "Cache-Control: private"}
	}
	_, public := cc["public"]
	_, hasMaxAge := cc["max-age"]
	_, hasSMaxAge := cc["s-maxage"]
	if !cacheableStatus[status] && !public && !hasMaxAge && !(shared && hasSMaxAge) && h.Get("Expires") == "" {
		return Cachability{Why: fmt.Sprintf("status %d is not cacheable without explicit freshness", status)}
	}
	c := Cachability{Storable: true}
	if _, ok := cc["no-cache"]; ok {
		c.Why = "Cache-Control: no-cache (stored, but revalidated before every use)"
		return c
	}
	seconds := func(k string) (time.Duration, bool) {
		v, ok := cc[k]
		if !ok {
			return 0, false
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, true // an invalid value means stale (§4.2.1)
		}
		return time.Duration(n) * time.Second, true
	}
	if shared {
		if d, ok := seconds("s-maxage"); ok {
			c.Lifetime, c.Why = d, "Cache-Control: s-maxage="+cc["s-maxage"]
			return c
		}
	}
	if d, ok := seconds("max-age"); ok {
		c.Lifetime, c.Why = d, "Cache-Control: max-age="+cc["max-age"]
		return c
	}
	if exp := h.Get("Expires"); exp != "" {
		e, err := http.ParseTime(exp)
		if err != nil {
			c.Why = "Expires: " + exp + " (invalid, so already stale)"
			return c
		}
		date, err := http.ParseTime(h.Get("Date"))
		if err != nil {
			date = time.Now()
		}
		if d := e.Sub(date); d > 0 {
			c.Lifetime = d
		}
		c.Why = "Expires: " + exp
		return c
	}
	c.Why = "no max-age, s-maxage or Expires (only heuristic freshness)"
	return c
}

// parseCacheControl returns the directives (lower-cased) and their values
// (unquoted).
func parseCacheControl(lines []string) map[string]string {
	out := map[string]string{}
	for _, line := range lines {
		for _, d := range splitQuoted(line) {
			d = strings.TrimSpace(d)
			if d == "" {
				continue
			}
			k, v, _ := strings.Cut(d, "=")
			out[strings.ToLower(strings.TrimSpace(k))] = strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return out
}

// splitQuoted splits on commas outside quoted strings.
func splitQuoted(s string) []string {
	var out []string
	inQ, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			inQ = !inQ
		case '\\':
			if inQ {
				i++
			}
		case ',':
			if !inQ {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}
