package api

import (
	"fmt"
	"strings"
	"time"
)

// Cache rule actions.
const (
	// CacheStandard follows RFC 9111: a response is stored only when its
	// headers make it cacheable by a shared cache (CDN-Cache-Control,
	// Surrogate-Control, s-maxage, max-age, Expires); one without freshness
	// information is stored only when the rule gives a DefaultTTL.
	CacheStandard = "standard"
	// CacheAggressive stores every cacheable response for the rule's TTL,
	// whatever freshness the origin gave (Cache-Control: private, no-store
	// and Set-Cookie still prevent storing).
	CacheAggressive = "aggressive"
	// CacheBypass never stores and never serves from the cache.
	CacheBypass = "bypass"
)

// Cache limits.
const (
	MaxCacheRules  = 100
	MaxCacheParams = 100
	MaxCacheTTL    = 365 * 24 * time.Hour
)

// DefaultCacheIgnoredParams are query parameters that never reach the cache
// key (marketing trackers). A trailing "*" is a prefix.
var DefaultCacheIgnoredParams = []string{"utm_*", "fbclid", "gclid"}

// CacheStatusName is the cache's name in the Cache-Status response header
// (RFC 9211), for example `Cache-Status: rampart; hit; ttl=42` or
// `Cache-Status: rampart; fwd=miss; stored`.
const CacheStatusName = "rampart"

// CachePolicy is the site's edge cache policy. The zero value caches what
// RFC 9111 allows a shared cache to store and nothing else.
//
// The cache key is scheme, host, the normalised path and the query with
// ignored parameters removed and the rest sorted; Vary is honoured
// (Accept-Encoding normalised to the encodings the edge knows). Requests with
// an Authorization header, or with a cookie named in SessionCookies, bypass
// the cache in both directions.
type CachePolicy struct {
	// Off disables the cache for the site: every request goes to the origin.
	Off bool `json:"off,omitempty"`
	// Rules pick an action by path; the first match wins. A request no rule
	// matches is "standard" with no default TTL.
	Rules []CacheRule `json:"rules,omitempty"`
	// KeyParams, when set, is the only query parameters kept in the key (an
	// allow list); the others are dropped from the key and from the request
	// the origin gets, so they cannot change a stored response. Empty keeps
	// every parameter that is not ignored.
	KeyParams []string `json:"key_params,omitempty"`
	// IgnoreParams are removed from the key in addition to
	// DefaultCacheIgnoredParams. A trailing "*" is a prefix.
	IgnoreParams []string `json:"ignore_params,omitempty"`
	// SessionCookies are cookie names whose presence makes a request bypass
	// the cache (logged-in users). A trailing "*" is a prefix.
	SessionCookies []string `json:"session_cookies,omitempty"`
}

// CacheRule is the cache behaviour for a path pattern.
type CacheRule struct {
	// Path is an exact path, or a prefix ending in "*".
	Path string `json:"path"`
	// Action is "standard" (default), "aggressive" or "bypass".
	Action string `json:"action,omitempty"`
	// TTL is a Go duration: with "aggressive" how long every cacheable
	// response is kept (required); with "standard" the freshness given to
	// responses that carry none (optional, the default TTL).
	TTL string `json:"ttl,omitempty"`
	// StaleWhileRevalidate and StaleIfError (Go durations) apply when the
	// origin's Cache-Control does not set them (RFC 5861).
	StaleWhileRevalidate string `json:"stale_while_revalidate,omitempty"`
	StaleIfError         string `json:"stale_if_error,omitempty"`
	// Heuristic lets "standard" responses without explicit freshness but with
	// Last-Modified stay fresh for 10% of their age, at most a day (RFC 9111
	// §4.2.2). Off by default: such responses are stored and revalidated on
	// every use.
	Heuristic bool `json:"heuristic,omitempty"`
}

// EffectiveAction returns the rule's action.
func (r CacheRule) EffectiveAction() string {
	if r.Action == "" {
		return CacheStandard
	}
	return r.Action
}

// Durations returns the rule's TTL, stale-while-revalidate and stale-if-error;
// zero where unset. Call it on validated rules.
func (r CacheRule) Durations() (ttl, swr, sie time.Duration) {
	parse := func(s string) time.Duration {
		d, _ := time.ParseDuration(s)
		return d
	}
	return parse(r.TTL), parse(r.StaleWhileRevalidate), parse(r.StaleIfError)
}

func (p CachePolicy) validate(add addFunc) {
	if len(p.Rules) > MaxCacheRules {
		add("cache.rules", "%d rules, the limit is %d", len(p.Rules), MaxCacheRules)
	}
	for i, r := range p.Rules {
		r.validate(fmt.Sprintf("cache.rules[%d]", i), add)
	}
	checkParams := func(field string, names []string, cookie bool) {
		if len(names) > MaxCacheParams {
			add(field, "%d entries, the limit is %d", len(names), MaxCacheParams)
		}
		for i, n := range names {
			bare := strings.TrimSuffix(n, "*")
			switch {
			case bare == "" || len(n) > 128:
				add(fmt.Sprintf("%s[%d]", field, i), "a name of 1-128 characters, optionally ending in \"*\"")
			case strings.Contains(bare, "*"):
				add(fmt.Sprintf("%s[%d]", field, i), "\"*\" is only allowed at the end")
			case cookie && !isToken(bare):
				add(fmt.Sprintf("%s[%d]", field, i), "%q is not a cookie name", n)
			case strings.ContainsAny(bare, "&=# \t\r\n"):
				add(fmt.Sprintf("%s[%d]", field, i), "%q is not a query parameter name", n)
			}
		}
	}
	checkParams("cache.key_params", p.KeyParams, false)
	checkParams("cache.ignore_params", p.IgnoreParams, false)
	checkParams("cache.session_cookies", p.SessionCookies, true)
}

func (r CacheRule) validate(prefix string, add addFunc) {
	if err := validatePathPattern(r.Path); err != nil {
		add(prefix+".path", "%v", err)
	}
	dur := func(field, v string) {
		if v == "" {
			return
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > MaxCacheTTL {
			add(prefix+"."+field, "must be a positive duration up to 8760h, like \"10m\", not %q", v)
		}
	}
	dur("ttl", r.TTL)
	dur("stale_while_revalidate", r.StaleWhileRevalidate)
	dur("stale_if_error", r.StaleIfError)
	switch r.Action {
	case "", CacheStandard:
	case CacheAggressive:
		if r.TTL == "" {
			add(prefix+".ttl", "required with action %q", CacheAggressive)
		}
	case CacheBypass:
		if r.TTL != "" || r.StaleWhileRevalidate != "" || r.StaleIfError != "" || r.Heuristic {
			add(prefix+".ttl", "not used with action %q", CacheBypass)
		}
	default:
		add(prefix+".action", "must be %q, %q or %q, not %q", CacheStandard, CacheAggressive, CacheBypass, r.Action)
	}
}

// PurgeRequest is the body of POST /api/v1/sites/{host}/purge. At least one
// of URLs, Prefixes, Tags or All is required.
type PurgeRequest struct {
	// URLs are paths with an optional query ("/a/b?x=1") or absolute URLs on
	// the site; every stored variant (Vary) and both schemes are purged.
	URLs []string `json:"urls,omitempty"`
	// Prefixes are path prefixes ("/static/"): every object whose path starts
	// with one is purged.
	Prefixes []string `json:"prefixes,omitempty"`
	// Tags purge objects whose response carried the tag in Surrogate-Key
	// (space separated) or Cache-Tag (comma separated).
	Tags []string `json:"tags,omitempty"`
	// All purges everything stored for the site.
	All bool `json:"all,omitempty"`
}

// Purge limits.
const (
	MaxPurgeItems = 1000
	MaxPurgeBytes = 256 << 10
)

// Validate checks a purge request.
func (p PurgeRequest) Validate() error {
	var errs FieldErrors
	add := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if len(p.URLs)+len(p.Prefixes)+len(p.Tags) == 0 && !p.All {
		add("", "give at least one of urls, prefixes, tags or all")
	}
	if n := len(p.URLs) + len(p.Prefixes) + len(p.Tags); n > MaxPurgeItems {
		add("", "%d items, the limit is %d per request", n, MaxPurgeItems)
	}
	for i, u := range p.URLs {
		if !strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			add(fmt.Sprintf("urls[%d]", i), "%q must be a path starting with / or an http(s) URL", u)
		}
	}
	for i, u := range p.Prefixes {
		if !strings.HasPrefix(u, "/") {
			add(fmt.Sprintf("prefixes[%d]", i), "%q must be a path starting with /", u)
		}
	}
	for i, t := range p.Tags {
		if t == "" || len(t) > 256 || strings.ContainsAny(t, " ,\t\r\n") {
			add(fmt.Sprintf("tags[%d]", i), "a tag is 1-256 characters without spaces or commas")
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// PurgeResult is the answer to a purge request: which edges confirmed it.
// The purge is stored before fan-out, so an edge that is listed as pending
// (down, partitioned) applies it when it reconnects.
type PurgeResult struct {
	ID        string     `json:"id"`
	Hostname  string     `json:"hostname"`
	Confirmed []PurgeAck `json:"confirmed"`
	// Pending are edges seen in heartbeats that did not answer in time.
	Pending []EdgeRef `json:"pending"`
}

// EdgeRef names one edge node.
type EdgeRef struct {
	Region string `json:"region"`
	Node   string `json:"node"`
}
