package cache

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/rampart-edge/rampart/controlsvc/api"
)

// SitePolicy is a site's CachePolicy compiled for the request path.
type SitePolicy struct {
	off            bool
	rules          []rule
	keyParams      []string // nil: keep all
	ignoreParams   []string
	sessionCookies []string
}

type rule struct {
	prefix   string
	isPrefix bool
	bypass   bool
	policy   Policy
}

// Compile turns a validated CachePolicy into a SitePolicy.
func Compile(p api.CachePolicy) *SitePolicy {
	sp := &SitePolicy{
		off:            p.Off,
		keyParams:      p.KeyParams,
		ignoreParams:   append(slices.Clone(api.DefaultCacheIgnoredParams), p.IgnoreParams...),
		sessionCookies: p.SessionCookies,
	}
	for _, r := range p.Rules {
		ttl, swr, sie := r.Durations()
		prefix, isPrefix := strings.CutSuffix(r.Path, "*")
		sp.rules = append(sp.rules, rule{
			prefix: prefix, isPrefix: isPrefix,
			bypass: r.EffectiveAction() == api.CacheBypass,
			policy: Policy{Aggressive: r.EffectiveAction() == api.CacheAggressive, TTL: ttl, SWR: swr, SIE: sie, Heuristic: r.Heuristic},
		})
	}
	return sp
}

// Off reports whether the site does not use the cache at all.
func (sp *SitePolicy) Off() bool { return sp == nil || sp.off }

// Decision is what the cache does with one request.
type Decision struct {
	// Use is false when the request bypasses the cache; Why says why.
	Use bool
	Why string
	Policy
	// Base is the key without the variant; Path the normalised path;
	// Query the normalised query, which is also what the origin gets.
	Base, Host, Path, Query string
}

// Decide resolves the rule for a request and computes its key. scheme is
// "http" or "https" and host the canonical site hostname.
func (sp *SitePolicy) Decide(r *http.Request, scheme, host string) Decision {
	if sp == nil || sp.off {
		return Decision{Why: "off"}
	}
	path := normalizePath(r.URL.EscapedPath())
	if hasDotSegment(path) {
		// Rules match the path as sent, but origins resolve "/static/../account"
		// to "/account": storing it under a "/static/*" rule would share one
		// user's page with everyone (web cache deception).
		return Decision{Why: "dot segment"}
	}
	var pol Policy
	for _, ru := range sp.rules {
		if (ru.isPrefix && strings.HasPrefix(path, ru.prefix)) || (!ru.isPrefix && path == ru.prefix) {
			if ru.bypass {
				return Decision{Why: "rule"}
			}
			pol = ru.policy
			break
		}
	}
	if _, ok := r.Header["Authorization"]; ok {
		return Decision{Why: "authorization"}
	}
	if len(sp.sessionCookies) > 0 && sp.hasSessionCookie(r) {
		return Decision{Why: "session cookie"}
	}
	q := sp.normalizeQuery(r.URL.RawQuery)
	base := scheme + "://" + host + path
	if q != "" {
		base += "?" + q
	}
	return Decision{Use: true, Policy: pol, Base: base, Host: host, Path: path, Query: q}
}

func (sp *SitePolicy) hasSessionCookie(r *http.Request) bool {
	for _, line := range r.Header["Cookie"] {
		for part := range strings.SplitSeq(line, ";") {
			name, _, _ := strings.Cut(strings.TrimSpace(part), "=")
			if matchName(sp.sessionCookies, name) {
				return true
			}
		}
	}
	return false
}

func matchName(patterns []string, name string) bool {
	for _, p := range patterns {
		if pre, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(name, pre) {
				return true
			}
		} else if p == name {
			return true
		}
	}
	return false
}

// normalizeQuery drops ignored (and, with KeyParams, unlisted) parameters
// and sorts the rest by name, keeping the order of repeated names. Values
// keep their encoding, normalised like paths.
func (sp *SitePolicy) normalizeQuery(raw string) string {
	if raw == "" {
		return ""
	}
	type kv struct{ name, pair string }
	var kept []kv
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		rawName, _, _ := strings.Cut(part, "=")
		name, err := url.QueryUnescape(rawName)
		if err != nil {
			name = rawName
		}
		if matchName(sp.ignoreParams, name) {
			continue
		}
		if sp.keyParams != nil && !matchName(sp.keyParams, name) {
			continue
		}
		kept = append(kept, kv{name, normalizeEscapes(part)})
	}
	slices.SortStableFunc(kept, func(a, b kv) int { return strings.Compare(a.name, b.name) })
	var b strings.Builder
	for i, p := range kept {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.pair)
	}
	return b.String()
}

// normalizePath normalises percent-encoding only (RFC 3986 §6.2.2): hex
// digits upper-cased, unreserved characters decoded. Dot segments are left
// alone: the origin sees the same path, so what it answers for "/a/../b"
// is stored under that key and cannot poison "/b".
func normalizePath(p string) string {
	if p == "" {
		return "/"
	}
	return normalizeEscapes(p)
}

// hasDotSegment reports whether a normalised path has a "." or ".."
// segment, counting the separators origins also split on (an encoded
// slash or backslash, a backslash) and ignoring ";params" (Tomcat reads
// "..;" as "..").
func hasDotSegment(p string) bool {
	if !strings.Contains(p, ".") {
		return false
	}
	start, end := 0, -1 // the segment, and where its ";params" begin
	for i := 0; i <= len(p); i++ {
		sep := 0
		switch {
		case i == len(p) || p[i] == '/' || p[i] == '\\':
			sep = 1
		case p[i] == '%' && i+2 < len(p) && (p[i+1:i+3] == "2F" || p[i+1:i+3] == "5C"):
			sep = 3
		case p[i] == ';' && end < 0:
			end = i
		}
		if sep == 0 {
			continue
		}
		if end < 0 {
			end = i
		}
		if seg := p[start:end]; seg == "." || seg == ".." {
			return true
		}
		i += sep - 1
		start, end = i+1, -1
	}
	return false
}

func normalizeEscapes(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			v := unhex(s[i+1])<<4 | unhex(s[i+2])
			if isUnreserved(v) {
				b.WriteByte(v)
			} else {
				b.WriteByte('%')
				b.WriteByte(upper(s[i+1]))
				b.WriteByte(upper(s[i+2]))
			}
			i += 2
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

func isUnreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// variantKey is the part of the key selected by Vary: each named request
// header's normalised value. Accept-Encoding is reduced to the set of
// codings the client accepts among those origins commonly send.
func variantKey(vary []string, h http.Header) string {
	if len(vary) == 0 {
		return ""
	}
	var b strings.Builder
	for _, f := range vary {
		b.WriteByte(0)
		b.WriteString(f)
		b.WriteByte('=')
		switch f {
		case "Accept-Encoding":
			b.WriteString(normalizeAcceptEncoding(h["Accept-Encoding"]))
			continue
		case "Accept-Language":
			b.WriteString(normalizeAcceptLanguage(h["Accept-Language"]))
			continue
		}
		// Combine lines and collapse whitespace around commas (RFC 9111
		// §4.1 allows normalising by the field's syntax).
		vs := h[f]
		for i, v := range vs {
			if i > 0 {
				b.WriteByte(',')
			}
			for j, part := range strings.Split(v, ",") {
				if j > 0 {
					b.WriteByte(',')
				}
				b.WriteString(strings.TrimSpace(part))
			}
		}
		if vs == nil {
			b.WriteByte(1) // absent differs from empty
		}
	}
	return b.String()
}

var knownEncodings = []string{"br", "deflate", "gzip", "zstd"}

func normalizeAcceptEncoding(lines []string) string {
	if len(lines) == 0 {
		return "-"
	}
	var accepted []string
	for _, l := range lines {
		for part := range strings.SplitSeq(l, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			if q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q="); ok && strings.Trim(q, "0.") == "" {
				continue // q=0: not acceptable
			}
			if coding == "x-gzip" {
				coding = "gzip"
			}
			if coding == "*" {
				accepted = append(accepted, knownEncodings...)
				continue
			}
			if slices.Contains(knownEncodings, coding) {
				accepted = append(accepted, coding)
			}
		}
	}
	slices.Sort(accepted)
	return strings.Join(slices.Compact(accepted), ",")
}

// normalizeAcceptLanguage lower-cases language ranges and sorts them with
// their weights, so "en, de" and "De, EN" select the same variant.
func normalizeAcceptLanguage(lines []string) string {
	if len(lines) == 0 {
		return "-"
	}
	var ranges []string
	for _, l := range lines {
		for part := range strings.SplitSeq(l, ",") {
			lang, params, _ := strings.Cut(part, ";")
			lang = strings.ToLower(strings.TrimSpace(lang))
			if lang == "" {
				continue
			}
			q := 1.0
			if v, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q="); ok {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					q = f
				}
			}
			ranges = append(ranges, lang+";q="+strconv.FormatFloat(q, 'f', -1, 64))
		}
	}
	slices.Sort(ranges)
	return strings.Join(ranges, ",")
}
