package cache

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Directives is a parsed Cache-Control (or CDN-Cache-Control,
// Surrogate-Control) field. Durations are -1 when absent.
type Directives struct {
	MaxAge, SMaxAge           time.Duration
	StaleWhileRevalidate      time.Duration
	StaleIfError              time.Duration
	MaxStale, MinFresh        time.Duration
	MaxStaleAny               bool // max-stale without a value
	NoStore, NoCache, Private bool
	Public                    bool
	MustRevalidate            bool
	ProxyRevalidate           bool
	MustUnderstand            bool
	OnlyIfCached              bool
	NoTransform               bool
	Immutable                 bool
	present                   bool
}

// Present reports whether the field was there at all.
func (d Directives) Present() bool { return d.present }

// ParseDirectives parses every line of a Cache-Control style field. Unknown
// directives are ignored; a duplicated directive keeps the first value (RFC
// 9111 §4.2.1 says duplicates make the response stale; both readings are
// allowed, and the first keeps a cache from trusting a later, longer one).
// A malformed delta-seconds value makes the directive count as 0 for
// freshness (stale), which is the conservative reading.
func ParseDirectives(lines []string) Directives {
	d := Directives{MaxAge: -1, SMaxAge: -1, StaleWhileRevalidate: -1, StaleIfError: -1, MaxStale: -1, MinFresh: -1}
	if len(lines) == 0 {
		return d
	}
	d.present = true
	var seenBuf [16]string // no allocation for the usual handful of directives
	seen := seenBuf[:0]
	for _, line := range lines {
		for len(line) > 0 {
			var item string
			item, line = nextItem(line)
			name, val, hasVal := strings.Cut(item, "=")
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" {
				continue
			}
			val = strings.TrimSpace(val)
			if slices.Contains(seen, name) {
				continue
			}
			seen = append(seen, name)
			switch name {
			case "max-age":
				d.MaxAge = deltaSeconds(val, hasVal)
			case "s-maxage":
				d.SMaxAge = deltaSeconds(val, hasVal)
			case "stale-while-revalidate":
				d.StaleWhileRevalidate = deltaSeconds(val, hasVal)
			case "stale-if-error":
				d.StaleIfError = deltaSeconds(val, hasVal)
			case "max-stale":
				if hasVal {
					d.MaxStale = deltaSeconds(val, hasVal)
				} else {
					d.MaxStaleAny = true
				}
			case "min-fresh":
				d.MinFresh = deltaSeconds(val, hasVal)
			case "no-store":
				d.NoStore = true
			case "no-cache":
				// Qualified no-cache="field" is treated as unqualified
				// (RFC 9111 §5.2.2.4 allows it).
				d.NoCache = true
			case "private":
				// The same for private="field": the whole response is private.
				d.Private = true
			case "public":
				d.Public = true
			case "must-revalidate":
				d.MustRevalidate = true
			case "proxy-revalidate":
				d.ProxyRevalidate = true
			case "must-understand":
				d.MustUnderstand = true
			case "only-if-cached":
				d.OnlyIfCached = true
			case "no-transform":
				d.NoTransform = true
			case "immutable":
				d.Immutable = true
			}
		}
	}
	return d
}

// nextItem splits off one comma-separated item, honouring quoted strings.
func nextItem(s string) (item, rest string) {
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && inQuote:
			i++
		case c == '"':
			inQuote = !inQuote
		case c == ',' && !inQuote:
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// maxDelta caps delta-seconds (RFC 9111 §1.2.2: 2^31 on overflow).
const maxDelta = 2147483648 * time.Second

func deltaSeconds(v string, hasVal bool) time.Duration {
	if !hasVal {
		return 0
	}
	v = strings.Trim(v, `"`)
	if v == "" {
		return 0
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n > 2147483648 {
		return maxDelta
	}
	return time.Duration(n) * time.Second
}

// parseHTTPDate reads an HTTP-date; ok is false when it is missing or invalid.
func parseHTTPDate(v string) (time.Time, bool) {
	if v == "" {
		return time.Time{}, false
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// parseAge reads the Age header (RFC 9111 §5.1): the first member of a
// list, a non-negative integer of seconds. Anything else — a value that is
// not an integer, or the field sent on more than one line — makes the
// response count as stale (ok false).
func parseAge(h http.Header) (age time.Duration, ok bool) {
	vs := h["Age"]
	if len(vs) == 0 {
		return 0, true
	}
	if len(vs) > 1 {
		return 0, false
	}
	v := vs[0]
	if i := strings.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n > 2147483648 {
		return maxDelta, true
	}
	return time.Duration(n) * time.Second, true
}

// SurrogateTarget is this cache's device token in Surrogate-Capability and
// in targeted Surrogate-Control directives ("max-age=60;rampart").
const SurrogateTarget = "rampart"

// SurrogateCapability is the Surrogate-Capability request header the edge
// sends to origins (Edge Architecture Specification 1.0).
const SurrogateCapability = SurrogateTarget + `="Surrogate/1.0"`

// surrogateLines keeps the Surrogate-Control directives meant for this
// cache: those targeted at SurrogateTarget when there are any, else the
// untargeted ones.
func surrogateLines(lines []string) []string {
	var mine, general []string
	for _, line := range lines {
		for len(line) > 0 {
			var item string
			item, line = nextItem(line)
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			d, target, targeted := strings.Cut(item, ";")
			switch {
			case !targeted:
				general = append(general, d)
			case strings.TrimSpace(target) == SurrogateTarget || strings.TrimSpace(target) == "":
				mine = append(mine, d)
			}
		}
	}
	if len(mine) > 0 {
		return []string{strings.Join(mine, ", ")}
	}
	if len(general) > 0 {
		return []string{strings.Join(general, ", ")}
	}
	return nil
}
