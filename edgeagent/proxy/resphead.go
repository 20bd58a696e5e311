package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net/http"

	"github.com/rampart-edge/rampart/edgeagent/internal/httphead"
)

// maxFastResponseFields bounds the fields readBufferedResponse handles.
const maxFastResponseFields = 64

// readBufferedResponse reads an origin's response head as http.ReadResponse
// does, for the common case: the whole head already buffered, HTTP/1.1, a
// final status with a body of one Content-Length, ordinary fields, no
// Transfer-Encoding, Trailer or Connection: close. It is parsed from the
// buffer with a handful of allocations (one string for the head, the
// Response, its Header and body); anything else, and anything this parser
// is not sure about, returns nil having consumed nothing, for
// http.ReadResponse to read the same bytes.
func readBufferedResponse(br *bufio.Reader, req *http.Request) *http.Response {
	if req.Method == http.MethodHead {
		return nil
	}
	buf, _ := br.Peek(br.Buffered())
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		return nil
	}
	raw := buf[:end+2] // through the last field's CRLF
	nl := bytes.IndexByte(raw, '\n')
	if nl != bytes.Index(raw, []byte("\r\n"))+1 {
		return nil // the status line must end with CRLF
	}

	// The status line: HTTP/1.1 SP 3DIGIT SP reason (the reason may be
	// empty, the space before it not).
	line := raw[:nl-1]
	if len(line) < 13 || string(line[:9]) != "HTTP/1.1 " || line[12] != ' ' {
		return nil
	}
	code := 0
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return nil
		}
		code = code*10 + int(c-'0')
	}
	if code < 200 || code == http.StatusNoContent || code == http.StatusNotModified {
		return nil // informational, or a status without a body
	}
	if !httphead.Value(line[13:]) {
		return nil
	}

	// The fields: "Name: value" CRLF each, names tokens, values without
	// control bytes; no folding.
	length := int64(-1)
	n := httphead.Fields(raw[nl+1:], maxFastResponseFields, func(name, value []byte) bool {
		switch {
		case httphead.EqualFold(name, "Content-Length"):
			if length >= 0 {
				return false // several: net/http checks they agree
			}
			length = contentLength(bytes.Trim(value, " \t"))
			return length >= 0
		case httphead.EqualFold(name, "Transfer-Encoding"), httphead.EqualFold(name, "Trailer"):
			return false
		case httphead.EqualFold(name, "Connection"):
			// net/http drops a close field and marks the response Close.
			for i := 0; i+5 <= len(value); i++ {
				if httphead.EqualFold(value[i:i+5], "close") {
					return false
				}
			}
			return true
		}
		return true
	})
	if n < 0 || length < 0 {
		return nil // or a body up to the connection's end
	}

	// Accepted: build the response from one string of the head.
	head := string(raw)
	resp := &http.Response{
		Status:        head[9 : nl-1],
		StatusCode:    code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        make(http.Header, n),
		ContentLength: length,
		Request:       req,
	}
	httphead.AddFields(resp.Header, head[nl+1:], n, false)
	// As http.ReadResponse (fixPragmaCacheControl).
	if p := resp.Header["Pragma"]; len(p) > 0 && p[0] == "no-cache" {
		if _, ok := resp.Header["Cache-Control"]; !ok {
			resp.Header["Cache-Control"] = []string{"no-cache"}
		}
	}
	br.Discard(end + 4)
	if length == 0 {
		resp.Body = http.NoBody
	} else {
		resp.Body = &lengthBody{br: br, remain: length}
	}
	return resp
}

// contentLength parses a Content-Length value of decimal digits, or
// returns -1.
func contentLength(b []byte) int64 {
	if len(b) == 0 || len(b) > 18 {
		return -1
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// lengthBody is a body of a known length read from the connection's
// reader, as net/http's: io.EOF with its last bytes, io.ErrUnexpectedEOF
// when the connection ends before them. Close does not drain it (the
// caller, poolBody, closes the connection of a body it did not read to
// the end).
type lengthBody struct {
	br     *bufio.Reader
	remain int64
	closed bool
}

func (b *lengthBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.remain <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.remain {
		p = p[:b.remain]
	}
	n, err := b.br.Read(p)
	b.remain -= int64(n)
	switch {
	case b.remain == 0:
		return n, io.EOF
	case err == io.EOF:
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

func (b *lengthBody) Close() error {
	b.closed = true
	return nil
}
