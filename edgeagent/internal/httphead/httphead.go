// Package httphead holds the byte-level checks of HTTP/1.x head fields
// that the edge's own parsers share: the server's request head
// (edgeagent/h1) and the proxy's origin response head (edgeagent/proxy).
// Each accepts only what net/http would read the same way; whatever else
// the callers leave to net/http.
package httphead

import (
	"bytes"
	"net/http"
	"strings"
)

// Token reports whether b is a field name (an RFC 9110 token).
func Token(b []byte) bool {
	for _, c := range b {
		if !isToken[c] {
			return false
		}
	}
	return len(b) > 0
}

// Value reports whether a field value has no control bytes but horizontal
// tab (net/textproto's rule) and no obs-text (left to net/http).
func Value(b []byte) bool {
	for _, c := range b {
		if (c < ' ' && c != '\t') || c >= 0x7f {
			return false
		}
	}
	return true
}

var isToken = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// EqualFold reports whether b is s but for ASCII case.
func EqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c, d := b[i], s[i]
		if c|0x20 != d|0x20 {
			return false
		}
	}
	return true
}

// CanonicalName is http.CanonicalHeaderKey without allocating for a name
// that already is canonical (the usual case).
func CanonicalName(s string) string {
	upper := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			return http.CanonicalHeaderKey(s)
		}
		upper = c == '-'
	}
	return s
}

// HasToken reports whether a comma-separated list field (Connection,
// Expect) names token, in any case.
func HasToken(vv []string, token string) bool {
	for _, v := range vv {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// Fields checks the fields of a head — fields is what follows its first
// line, through the last field's CRLF: "Name: value" CRLF each, names
// tokens, values without control bytes, no folding, at most max of them —
// and calls each with every field's name and value (as after the colon),
// stopping at the first false. It returns how many fields there are, or
// -1 when they are not all so or each refused one.
func Fields(fields []byte, max int, each func(name, value []byte) bool) int {
	n := bytes.Count(fields, []byte("\n"))
	if n > max || bytes.Count(fields, []byte("\r\n")) != n {
		return -1
	}
	for rest := fields; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		ln := rest[:i-1]
		rest = rest[i+1:]
		colon := bytes.IndexByte(ln, ':')
		if colon <= 0 || !Token(ln[:colon]) || !Value(ln[colon+1:]) || !each(ln[:colon], ln[colon+1:]) {
			return -1
		}
	}
	return n
}

// AddFields adds the n fields Fields accepted, now in a string, to h as
// net/textproto does: canonical names, values without the spaces and tabs
// around them, in order; the single values share one backing array. With
// takeHost the Host fields are not added: the last one's value and their
// number are returned (http.ReadRequest makes the field req.Host).
func AddFields(h http.Header, fields string, n int, takeHost bool) (host string, hosts int) {
	values := make([]string, n)
	for pos, k := 0, 0; pos < len(fields); k++ {
		i := strings.IndexByte(fields[pos:], '\n')
		ln := fields[pos : pos+i-1]
		pos += i + 1
		colon := strings.IndexByte(ln, ':')
		name := CanonicalName(ln[:colon])
		value := strings.Trim(ln[colon+1:], " \t")
		if takeHost && name == "Host" {
			host, hosts = value, hosts+1
			continue
		}
		if vv := h[name]; vv != nil {
			h[name] = append(vv, value)
			continue
		}
		values[k] = value
		h[name] = values[k : k+1 : k+1]
	}
	return host, hosts
}
