package h1

import (
	"bufio"
	"bytes"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// readRequest reads a request head as http.ReadRequest does. The common
// case — a GET-like request without a body whose whole head is already
// buffered, in plain origin form, with ordinary fields — is parsed here
// from the buffer with a handful of allocations (one string for the head,
// the Request, its URL and Header); anything else, and anything this parser
// is not sure about, goes to http.ReadRequest, which sees the same bytes
// (nothing is consumed until the fast path has accepted the head).
func readRequest(br *bufio.Reader) (*http.Request, error) {
	if req := parseBufferedHead(br); req != nil {
		return req, nil
	}
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, err
	}
	// http.ReadRequest keeps a field named "Transfer-Encoding " (space
	// before the colon) as a field of that name; net/http's server then
	// refuses it, and so does this one. The fast path only takes tokens.
	for k, vv := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return nil, &requestError{http.StatusBadRequest, "invalid header name"}
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return nil, &requestError{http.StatusBadRequest, "invalid header value"}
			}
		}
	}
	return req, nil
}

// maxFastFields bounds the fields the fast path handles.
const maxFastFields = 64

// fastMethods are the methods the fast path accepts.
var fastMethods = []string{"GET", "HEAD", "DELETE", "OPTIONS"}

// parseBufferedHead parses the head at the start of br's buffer, or
// returns nil (consuming nothing) when it is not the simple case.
func parseBufferedHead(br *bufio.Reader) *http.Request {
	buf, _ := br.Peek(br.Buffered())
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		return nil
	}
	raw := buf[:end+2] // through the last field's CRLF
	if bytes.IndexByte(raw, '\n') != bytes.Index(raw, []byte("\r\n"))+1 {
		return nil // the request line must end with CRLF
	}

	// The request line: METHOD SP origin-form SP HTTP/1.x.
	nl := bytes.IndexByte(raw, '\n')
	line := raw[:nl-1]
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 < 0 {
		return nil
	}
	sp2 := bytes.IndexByte(line[sp1+1:], ' ')
	if sp2 < 0 {
		return nil
	}
	sp2 += sp1 + 1
	method, target, proto := line[:sp1], line[sp1+1:sp2], line[sp2+1:]
	var minor int
	switch string(proto) {
	case "HTTP/1.1":
		minor = 1
	case "HTTP/1.0":
	default:
		return nil
	}
	if len(target) == 0 || target[0] != '/' || !plainTarget(target) {
		return nil
	}
	methodOK := false
	for _, m := range fastMethods {
		methodOK = methodOK || string(method) == m
	}
	if !methodOK {
		return nil
	}

	// The fields: "Name: value" CRLF each, names tokens, values without
	// control bytes; no folding, no body framing.
	fields := raw[nl+1:]
	n := bytes.Count(fields, []byte("\n"))
	if n > maxFastFields || bytes.Count(fields, []byte("\r\n")) != n {
		return nil
	}
	for rest := fields; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		ln := rest[:i-1]
		rest = rest[i+1:]
		colon := bytes.IndexByte(ln, ':')
		if colon <= 0 || !tokenBytes(ln[:colon]) || !valueBytes(ln[colon+1:]) {
			return nil
		}
		switch {
		case equalFoldASCII(ln[:colon], "Content-Length"), equalFoldASCII(ln[:colon], "Transfer-Encoding"),
			equalFoldASCII(ln[:colon], "Trailer"):
			return nil
		}
	}

	// Accepted: build the request from one string of the head.
	head := string(raw)
	methodS := head[:sp1]
	targetS := head[sp1+1 : sp2]
	u, err := url.ParseRequestURI(targetS)
	if err != nil {
		return nil // http.ReadRequest reports it
	}
	req := &http.Request{
		Method:     methodS,
		URL:        u,
		Proto:      head[sp2+1 : nl-1],
		ProtoMajor: 1,
		ProtoMinor: minor,
		Header:     make(http.Header, n),
		Body:       http.NoBody,
		RequestURI: targetS,
	}
	values := make([]string, n)
	host, haveHost := "", false
	for pos, k := nl+1, 0; pos < len(head); k++ {
		i := strings.IndexByte(head[pos:], '\n')
		ln := head[pos : pos+i-1]
		pos += i + 1
		colon := strings.IndexByte(ln, ':')
		name := canonicalName(ln[:colon])
		value := strings.Trim(ln[colon+1:], " \t")
		if name == "Host" {
			if haveHost {
				return nil // http.ReadRequest refuses a second Host
			}
			host, haveHost = value, true
			continue // as http.ReadRequest: the Host field becomes req.Host
		}
		if vv := req.Header[name]; vv != nil {
			req.Header[name] = append(vv, value)
			continue
		}
		values[k] = value
		req.Header[name] = values[k : k+1 : k+1]
	}
	req.Host = host
	// As http.ReadRequest (fixPragmaCacheControl, shouldClose).
	if p := req.Header["Pragma"]; len(p) > 0 && p[0] == "no-cache" {
		if _, ok := req.Header["Cache-Control"]; !ok {
			req.Header["Cache-Control"] = []string{"no-cache"}
		}
	}
	conn := req.Header["Connection"]
	hasClose := hasToken(conn, "close")
	if minor == 0 {
		req.Close = hasClose || !hasToken(conn, "keep-alive")
	} else {
		req.Close = hasClose
	}
	br.Discard(end + 4)
	return req
}

// plainTarget reports whether an origin-form target has only visible
// ASCII bytes.
func plainTarget(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// tokenBytes reports whether b is a field name (an RFC 9110 token).
func tokenBytes(b []byte) bool {
	for _, c := range b {
		if !isToken[c] {
			return false
		}
	}
	return len(b) > 0
}

// valueBytes reports whether a field value has no control bytes but
// horizontal tab (net/textproto's rule) and no obs-text (left to
// http.ReadRequest).
func valueBytes(b []byte) bool {
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

func equalFoldASCII(b []byte, s string) bool {
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

// canonicalName is http.CanonicalHeaderKey without allocating for a name
// that already is canonical (the usual case).
func canonicalName(s string) string {
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
