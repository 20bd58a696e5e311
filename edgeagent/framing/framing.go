// Package framing closes the request-smuggling gap Go's HTTP/1.1 server
// leaves open: it reads a request with both Content-Length and
// Transfer-Encoding: chunked as chunked and deletes the length (RFC 9112
// §6.3 allows that), folds obs-fold header lines, and ignores
// Transfer-Encoding on HTTP/1.0, so a handler cannot see that a request's
// framing was ambiguous — the very requests a front proxy and the edge may
// split differently.
//
// Conn wraps an accepted connection and follows HTTP/1.1 message framing
// of the bytes the server reads from it (request head, then a
// Content-Length or chunked body, then the next head; pipelining
// included), with the same rules as Go's server. It numbers the requests
// and notes the first one whose framing is ambiguous; Admit, called once
// per request by the top handler, refuses that request and every later one
// on the connection, so nothing behind an ambiguous request is served.
// Memory is one partial line per connection, bounded like the server's
// own header limit.
//
// HTTP/2 is not affected (its frames carry lengths); TLSListener hands
// connections that negotiated h2 to the server untouched.
package framing

import (
	"bytes"
	"context"
	"crypto/tls"
	"math"
	"net"
	"net/http"
	"sync/atomic"
)

// Why a connection's requests are refused.
const (
	// ReasonAmbiguous is a head with both Content-Length and
	// Transfer-Encoding, Transfer-Encoding on HTTP/1.0, or an obs-fold line.
	ReasonAmbiguous = "ambiguous framing"
	// ReasonMalformed is framing the server cannot follow either (a bad
	// chunk size, an invalid length, a line over the limit); the server
	// fails the request itself and closes the connection.
	ReasonMalformed = "malformed framing"
)

// parser states.
const (
	stHead    = iota // reading a request head, line by line
	stLength         // a Content-Length body: left bytes to go
	stChunk          // a chunk-size line
	stData           // chunk data: left bytes to go
	stDataEnd        // the CRLF after chunk data: crlf bytes seen
	stTrailer        // trailer lines after the last chunk
	stStopped        // framing no longer followed (refused or hijacked)
)

// maxChunkLine is Go's limit on a chunk-size line (net/http/internal).
const maxChunkLine = 4096

// Conn follows the request framing of the bytes read from it.
type Conn struct {
	net.Conn
	tlsState *tls.ConnectionState // set when the connection is TLS with HTTP/1.1

	// Read by Admit on the handler side.
	refuseFrom atomic.Uint64 // the first refused request number; MaxUint64: none
	reason     atomic.Pointer[string]
	served     atomic.Uint64
	hijacked   atomic.Bool

	// Parser state: only touched by Read, which the server never calls
	// from two goroutines at once.
	st        int
	left      uint64 // stLength, stData: bytes left
	crlf      int    // stDataEnd: bytes of "\r\n" seen
	line      []byte // a partial line carried over between reads
	headBytes int    // bytes of the current head (or trailer) so far
	maxHead   int
	next      uint64 // the number the next counted request gets (from 1)
	h         head
	onHead    func(num uint64, requestLine string) // tests: each numbered head
}

// head is what one request head said about framing.
type head struct {
	lines      int
	http10     bool
	optionsAll bool   // OPTIONS *: Go's server answers it without the handler
	line1      []byte // the request line, kept only for onHead
	cl         []byte
	clCount    int
	clConflict bool
	teCount    int
	te         []byte
	hostCount  int
	fold       bool
}

// NewConn wraps c. maxHeaderBytes is the server's MaxHeaderBytes (0: Go's
// default); a head longer than the server accepts stops the parser, and the
// server refuses it anyway.
func NewConn(c net.Conn, maxHeaderBytes int) *Conn {
	if maxHeaderBytes <= 0 {
		maxHeaderBytes = http.DefaultMaxHeaderBytes
	}
	fc := &Conn{Conn: c, maxHead: maxHeaderBytes + 8192, next: 1}
	fc.refuseFrom.Store(math.MaxUint64)
	return fc
}

// Read reads from the connection and follows the framing of what it read.
func (c *Conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.st != stStopped {
		if c.hijacked.Load() {
			c.st, c.line = stStopped, nil
		} else {
			c.feed(p[:n])
		}
	}
	return n, err
}

// CloseWrite half-closes the connection when the wrapped one can (TCP,
// TLS), so the server's lingering close still works under the wrapper: a
// refused client reads its 400 before the connection is reset.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Refused reports why requests on c are refused, or "" while none is.
func (c *Conn) Refused() string {
	if r := c.reason.Load(); r != nil {
		return *r
	}
	return ""
}

// refuse marks request number from and every later one as refused, and
// stops following the framing.
func (c *Conn) refuse(from uint64, reason string) {
	if from < c.refuseFrom.Load() {
		c.reason.Store(&reason)
		c.refuseFrom.Store(from)
	}
	c.st, c.line = stStopped, nil
}

// feed runs the parser over b.
func (c *Conn) feed(b []byte) {
	for len(b) > 0 {
		switch c.st {
		case stLength:
			k := uint64(len(b))
			if k > c.left {
				k = c.left
			}
			c.left -= k
			b = b[k:]
			if c.left == 0 {
				c.startHead()
			}
		case stData:
			k := uint64(len(b))
			if k > c.left {
				k = c.left
			}
			c.left -= k
			b = b[k:]
			if c.left == 0 {
				c.st, c.crlf = stDataEnd, 0
			}
		case stDataEnd:
			if b[0] != "\r\n"[c.crlf] {
				c.refuse(c.next, ReasonMalformed)
				return
			}
			b = b[1:]
			if c.crlf++; c.crlf == 2 {
				c.st = stChunk
			}
		case stHead, stChunk, stTrailer:
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				if c.grow(len(b)) {
					c.line = append(c.line, b...)
				}
				return
			}
			if !c.grow(i + 1) {
				return
			}
			ln := b[:i+1]
			if len(c.line) > 0 {
				c.line = append(c.line, ln...)
				ln = c.line
			}
			b = b[i+1:]
			c.onLine(ln)
			c.line = c.line[:0]
		default: // stStopped
			return
		}
	}
}

// grow accounts for k more bytes of the current line, refusing a line or
// head past the limit.
func (c *Conn) grow(k int) bool {
	limit := c.maxHead
	if c.st == stChunk {
		limit = maxChunkLine + 2
		if len(c.line)+k > limit {
			c.refuse(c.next, ReasonMalformed)
			return false
		}
		return true
	}
	if c.headBytes += k; c.headBytes > limit {
		c.refuse(c.next, ReasonMalformed)
		return false
	}
	return true
}

func (c *Conn) startHead() {
	c.st, c.headBytes, c.h = stHead, 0, head{cl: c.h.cl[:0], te: c.h.te[:0]}
}

// onLine handles one complete line, its "\n" included.
func (c *Conn) onLine(ln []byte) {
	switch c.st {
	case stChunk:
		c.chunkLine(ln)
	case stTrailer:
		if isBlank(ln) {
			c.startHead()
		}
	case stHead:
		if isBlank(ln) {
			if c.h.lines == 0 {
				// Go's server refuses an empty request line.
				c.refuse(c.next, ReasonMalformed)
				return
			}
			c.endHead()
			return
		}
		c.headerLine(trimEOL(ln))
	}
}

func isBlank(ln []byte) bool {
	return len(ln) == 1 || (len(ln) == 2 && ln[0] == '\r')
}

// trimEOL drops "\n" or "\r\n", as Go's line reader does.
func trimEOL(ln []byte) []byte {
	ln = ln[:len(ln)-1]
	if len(ln) > 0 && ln[len(ln)-1] == '\r' {
		ln = ln[:len(ln)-1]
	}
	return ln
}

func (c *Conn) headerLine(ln []byte) {
	h := &c.h
	h.lines++
	if h.lines == 1 {
		// method SP request-target SP version, split like Go's server.
		method, rest, _ := bytes.Cut(ln, []byte{' '})
		target, proto, _ := bytes.Cut(rest, []byte{' '})
		h.http10 = string(proto) == "HTTP/1.0"
		h.optionsAll = string(method) == "OPTIONS" && string(target) == "*"
		if c.onHead != nil {
			h.line1 = append(h.line1[:0], ln...)
		}
		return
	}
	if ln[0] == ' ' || ln[0] == '\t' {
		h.fold = true
		return
	}
	key, value, ok := bytes.Cut(ln, []byte{':'})
	if !ok {
		return // Go's server refuses the head
	}
	switch len(key) {
	case len("Host"):
		if equalFold(key, "host") {
			h.hostCount++
		}
	case len("Content-Length"):
		if !equalFold(key, "content-length") {
			return
		}
		value = trimOWS(value)
		if h.clCount == 0 {
			h.cl = append(h.cl[:0], value...)
		} else if !bytes.Equal(h.cl, value) {
			h.clConflict = true
		}
		h.clCount++
	case len("Transfer-Encoding"):
		if !equalFold(key, "transfer-encoding") {
			return
		}
		h.te = append(h.te[:0], trimOWS(value)...)
		h.teCount++
	}
}

// endHead numbers the request and sets up reading its body.
func (c *Conn) endHead() {
	h := &c.h
	num := c.next
	if !h.optionsAll {
		c.next++
		if c.onHead != nil {
			c.onHead(num, string(h.line1))
		}
	}
	// OPTIONS * never reaches the handler: a bad one refuses what follows.
	if h.fold || (h.teCount > 0 && (h.clCount > 0 || h.http10)) {
		c.refuse(num, ReasonAmbiguous)
		return
	}
	switch {
	case h.clConflict || h.teCount > 1 || h.hostCount > 1:
		c.refuse(num, ReasonMalformed) // Go's server answers 400 or 501 and closes
	case h.teCount == 1:
		if !equalFold(h.te, "chunked") {
			c.refuse(num, ReasonMalformed)
			return
		}
		c.st, c.line = stChunk, c.line[:0]
	case h.clCount > 0:
		n, ok := parseLength(h.cl)
		switch {
		case !ok:
			c.refuse(num, ReasonMalformed)
		case n > 0:
			c.st, c.left = stLength, n
		default:
			c.startHead()
		}
	default:
		c.startHead()
	}
}

// chunkLine reads a chunk-size line like Go's chunked reader: CRLF-ended
// with no other CR, trailing spaces and any extension dropped, 1-16 hex
// digits.
func (c *Conn) chunkLine(ln []byte) {
	if len(ln) < 2 || ln[len(ln)-2] != '\r' || bytes.IndexByte(ln, '\r') != len(ln)-2 {
		c.refuse(c.next, ReasonMalformed)
		return
	}
	ln = ln[:len(ln)-2]
	for len(ln) > 0 && (ln[len(ln)-1] == ' ' || ln[len(ln)-1] == '\t') {
		ln = ln[:len(ln)-1]
	}
	ln, _, _ = bytes.Cut(ln, []byte{';'})
	if len(ln) == 0 || len(ln) > 16 {
		c.refuse(c.next, ReasonMalformed)
		return
	}
	var n uint64
	for _, d := range ln {
		switch {
		case '0' <= d && d <= '9':
			d -= '0'
		case 'a' <= d && d <= 'f':
			d -= 'a' - 10
		case 'A' <= d && d <= 'F':
			d -= 'A' - 10
		default:
			c.refuse(c.next, ReasonMalformed)
			return
		}
		n = n<<4 | uint64(d)
	}
	if n == 0 {
		c.st, c.headBytes = stTrailer, 0
		return
	}
	c.st, c.left = stData, n
}

// parseLength parses a Content-Length value as Go's server does: decimal
// digits only, at most 63 bits.
func parseLength(v []byte) (uint64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	var n uint64
	for _, d := range v {
		if d < '0' || d > '9' || n > (math.MaxInt64-9)/10 {
			return 0, false
		}
		n = n*10 + uint64(d-'0')
	}
	return n, true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold compares b with lower, an ASCII lower-case string.
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i, x := range b {
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if x != lower[i] {
			return false
		}
	}
	return true
}

type ctxKey struct{}

// TLSState is the connection's TLS state when it is TLS, else nil.
func (c *Conn) TLSState() *tls.ConnectionState { return c.tlsState }

// ConnContext is an http.Server ConnContext: it makes the connection known
// to Admit.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if fc, ok := c.(*Conn); ok {
		return context.WithValue(ctx, ctxKey{}, fc)
	}
	return ctx
}

// ConnState is an http.Server ConnState hook: a hijacked connection
// (a WebSocket) stops being parsed as HTTP.
func ConnState(c net.Conn, s http.ConnState) {
	if fc, ok := c.(*Conn); ok && s == http.StateHijacked {
		fc.hijacked.Store(true)
	}
}

// Admit counts r against its connection and reports whether it may be
// served; when not, reason says why. The top handler calls it exactly once
// per request. For a TLS connection served over HTTP/1.1 by TLSListener it
// also sets r.TLS, which the server cannot see under the wrapper.
// Requests from other connections (HTTP/2) are always admitted.
func Admit(r *http.Request) (ok bool, reason string) {
	fc, _ := r.Context().Value(ctxKey{}).(*Conn)
	if fc == nil {
		return true, ""
	}
	if r.TLS == nil && fc.tlsState != nil {
		r.TLS = fc.tlsState
	}
	if n := fc.served.Add(1); n >= fc.refuseFrom.Load() {
		return false, fc.Refused()
	}
	return true, ""
}

// Listener wraps every accepted connection in a Conn.
type Listener struct {
	net.Listener
	// MaxHeaderBytes is the server's MaxHeaderBytes.
	MaxHeaderBytes int
	onHead         func(*Conn, uint64, string) // tests
}

// Accept returns the next connection, wrapped.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	fc := NewConn(c, l.MaxHeaderBytes)
	if l.onHead != nil {
		fc.onHead = func(num uint64, line string) { l.onHead(fc, num, line) }
	}
	return fc, nil
}
