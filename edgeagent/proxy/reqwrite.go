package proxy

import (
	"bufio"
	"net/http"
	"slices"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// writeRequest writes req to w as req.Write does. The requests most
// proxied, a GET or HEAD without body, are written here, byte for byte as
// net/http would write them (TestWriteRequestMatchesNetHTTP), without its
// allocations (a transfer writer, a sorted copy of the header, a replacer
// per value): it was 2–3% of the edge's CPU per request. Anything else —
// a body, trailers, a Host or target that net/http would rewrite or
// refuse — is left to req.Write.
func writeRequest(w *bufio.Writer, req *http.Request) error {
	if !plainRequest(req) {
		return req.Write(w)
	}
	path := req.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	if hasCTL(path) || hasCTL(req.URL.RawQuery) {
		return req.Write(w) // refused there, with its error
	}
	w.WriteString(req.Method)
	w.WriteByte(' ')
	w.WriteString(path)
	if req.URL.ForceQuery || req.URL.RawQuery != "" {
		w.WriteByte('?')
		w.WriteString(req.URL.RawQuery)
	}
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(req.Host)
	w.WriteString("\r\n")
	ua := "Go-http-client/1.1"
	if vv, ok := req.Header["User-Agent"]; ok {
		ua = ""
		if len(vv) > 0 {
			ua = vv[0]
		}
	}
	if ua != "" {
		w.WriteString("User-Agent: ")
		writeFieldValue(w, ua)
		w.WriteString("\r\n")
	}
	// The header's keys in order, as Header.writeSubset writes them.
	var buf [32]string
	keys := buf[:0]
	for k := range req.Header {
		if !reqWriteExcluded(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !httpguts.ValidHeaderFieldName(k) {
			continue // dropped, as net/http drops it
		}
		for _, v := range req.Header[k] {
			w.WriteString(k)
			w.WriteString(": ")
			writeFieldValue(w, v)
			w.WriteString("\r\n")
		}
	}
	_, err := w.WriteString("\r\n")
	return err
}

// plainRequest reports whether req is a GET or HEAD without body,
// trailers or Connection: close, whose Host net/http would send as it is
// (ASCII host characters, no IPv6 zone) and whose URL is a path.
func plainRequest(req *http.Request) bool {
	if req.Method != http.MethodGet && req.Method != http.MethodHead ||
		(req.Body != nil && req.Body != http.NoBody) || req.ContentLength != 0 ||
		req.Trailer != nil || req.TransferEncoding != nil || req.Close ||
		req.URL == nil || req.URL.Opaque != "" || req.Host == "" {
		return false
	}
	for i := 0; i < len(req.Host); i++ {
		c := req.Host[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_') {
			return false
		}
	}
	return true
}

// reqWriteExcluded are the keys Request.Write writes itself or not at all.
func reqWriteExcluded(k string) bool {
	switch k {
	case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer":
		return true
	}
	return false
}

// writeFieldValue writes v as net/http does: CR and LF become spaces,
// then leading and trailing ASCII space is trimmed.
func writeFieldValue(w *bufio.Writer, v string) {
	if strings.ContainsAny(v, "\r\n") {
		b := []byte(v)
		for i, c := range b {
			if c == '\r' || c == '\n' {
				b[i] = ' '
			}
		}
		v = string(b)
	}
	w.WriteString(strings.Trim(v, " \t\r\n"))
}

// hasCTL reports whether s holds an ASCII control byte or DEL.
func hasCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			return true
		}
	}
	return false
}
