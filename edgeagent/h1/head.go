package h1

import (
	"bufio"
	"bytes"
	"net/http"
	"net/url"

	"golang.org/x/net/http/httpguts"

	"github.com/rampart-edge/rampart/edgeagent/internal/httphead"
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
	n := httphead.Fields(raw[nl+1:], maxFastFields, func(name, _ []byte) bool {
		return !httphead.EqualFold(name, "Content-Length") && !httphead.EqualFold(name, "Transfer-Encoding") &&
			!httphead.EqualFold(name, "Trailer")
	})
	if n < 0 {
		return nil
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
	// As http.ReadRequest: the Host field becomes req.Host; a second one
	// is refused.
	var hosts int
	if req.Host, hosts = httphead.AddFields(req.Header, head[nl+1:], n, true); hosts > 1 {
		return nil
	}
	// As http.ReadRequest (fixPragmaCacheControl, shouldClose).
	if p := req.Header["Pragma"]; len(p) > 0 && p[0] == "no-cache" {
		if _, ok := req.Header["Cache-Control"]; !ok {
			req.Header["Cache-Control"] = []string{"no-cache"}
		}
	}
	conn := req.Header["Connection"]
	hasClose := httphead.HasToken(conn, "close")
	if minor == 0 {
		req.Close = hasClose || !httphead.HasToken(conn, "keep-alive")
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
