package h1

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rampart-edge/rampart/edgeagent/internal/httphead"
)

// maxDrain is how much of a request body the handler left unread is read
// and thrown away to keep the connection (net/http's figure).
const maxDrain = 256 << 10

// drainTimeout bounds the wait for the rest of an unread request body.
const drainTimeout = 2 * time.Second

// holdBytes is how much body a handler may write without Content-Length
// before the head must go out chunked; a response that ends within it gets
// a Content-Length instead.
const holdBytes = 4 << 10

// response is the http.ResponseWriter of one request.
type response struct {
	c      *conn
	req    *http.Request
	body   io.ReadCloser // the request body as read, whatever the handler does to req.Body
	header http.Header

	status      int
	wroteHeader bool // the final status is set
	headSent    bool // the head is in the write buffer
	isHead      bool
	bodyOK      bool  // the status allows a body
	length      int64 // Content-Length of the response, -1 while unknown
	written     int64
	chunked     bool
	closeAfter  bool // Connection: close (also how an HTTP/1.0 body of unknown length ends)
	hold        []byte
	wire        []byte // SetWireFields
	wireDate    bool
	expect      *expectContinue
	err         error // a write to the client failed
}

func (c *conn) newResponse(req *http.Request) *response {
	// One response per connection, reset for each request: a handler
	// must not use its ResponseWriter after returning (as with net/http).
	w := &c.resp
	header, hold := w.header, w.hold[:0]
	if header == nil {
		header = make(http.Header, 8)
	} else {
		clear(header)
	}
	*w = response{c: c, req: req, body: req.Body, header: header, hold: hold, length: -1,
		isHead: req.Method == http.MethodHead, closeAfter: req.Close}
	if req.Body != nil && req.Body != http.NoBody {
		// Closing net/http's request body reads it to the end, however
		// long; here Close only stops the handler's reads, and finish
		// drains a bounded amount.
		req.Body = &closeGuard{r: req.Body}
		if req.ProtoAtLeast(1, 1) && req.ContentLength != 0 && httphead.HasToken(req.Header["Expect"], "100-continue") {
			w.expect = &expectContinue{w: w, r: req.Body}
			req.Body = w.expect
		}
	}
	return w
}

// closeGuard is a request body whose Close does not drain it.
type closeGuard struct {
	r      io.Reader
	closed bool
}

func (g *closeGuard) Read(p []byte) (int, error) {
	if g.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	return g.r.Read(p)
}

func (g *closeGuard) Close() error {
	g.closed = true
	return nil
}

// expectContinue sends "100 Continue" when the handler first reads the body.
type expectContinue struct {
	w    *response
	r    io.ReadCloser
	sent bool
}

func (e *expectContinue) Read(p []byte) (int, error) {
	if !e.sent {
		e.sent = true
		if !e.w.headSent && e.w.err == nil {
			e.w.c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
			if err := e.w.c.bw.Flush(); err != nil {
				e.w.err = err
			}
		}
	}
	return e.r.Read(p)
}

func (e *expectContinue) Close() error { return e.r.Close() }

func (w *response) Header() http.Header { return w.header }

// WireFields is implemented by this server's ResponseWriter: a cache hit
// passes its stored fields already serialised instead of copying them
// into Header.
type WireFields interface {
	// SetWireFields adds fields ("Name: value\r\n" each, names valid,
	// values without CR or LF) to the head, after Header's; hasDate says
	// they include Date. Call it before WriteHeader.
	SetWireFields(fields []byte, hasDate bool)
}

// SetWireFields implements WireFields.
func (w *response) SetWireFields(fields []byte, hasDate bool) {
	if !w.wroteHeader {
		w.wire, w.wireDate = fields, hasDate
	}
}

func (w *response) WriteHeader(code int) {
	if w.wroteHeader || w.c.hijacked {
		return
	}
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.writeInformational(code)
		return
	}
	w.wroteHeader, w.status = true, code
	w.bodyOK = code != http.StatusNoContent && code != http.StatusNotModified && code >= 200
	if cl := w.header.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
			w.length = n
		} else {
			w.header.Del("Content-Length")
		}
	}
	if httphead.HasToken(w.header["Connection"], "close") {
		w.closeAfter = true
	}
}

// writeInformational sends a 1xx response (103 Early Hints) at once.
func (w *response) writeInformational(code int) {
	bw := w.c.bw
	writeStatus(bw, code)
	w.writeFields(bw, false)
	bw.WriteString("\r\n")
	if err := bw.Flush(); err != nil {
		w.err = err
	}
}

func (w *response) Write(p []byte) (int, error) {
	if w.c.hijacked {
		return 0, http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !w.bodyOK {
		return 0, http.ErrBodyNotAllowed
	}
	if w.length >= 0 && w.written+int64(len(p)) > w.length {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if w.isHead {
		return len(p), nil
	}
	if w.err != nil {
		return 0, w.err
	}
	if !w.headSent {
		if w.length < 0 && len(w.hold)+len(p) <= holdBytes {
			w.hold = append(w.hold, p...)
			return len(p), nil
		}
		w.startBody()
	}
	w.writeBody(p)
	if w.err != nil {
		return 0, w.err
	}
	return len(p), nil
}

func (w *response) WriteString(s string) (int, error) {
	// The buffer copies p before returning, so no string copy is needed
	// beyond this conversion's.
	return w.Write([]byte(s))
}

func (w *response) writeBody(p []byte) {
	if len(p) == 0 || w.err != nil {
		return
	}
	bw := w.c.bw
	if w.chunked {
		bw.WriteString(strconv.FormatInt(int64(len(p)), 16))
		bw.WriteString("\r\n")
		bw.Write(p)
		_, w.err = bw.WriteString("\r\n")
		return
	}
	_, w.err = bw.Write(p)
}

// startBody sends the head and the body held so far.
func (w *response) startBody() {
	w.sendHead()
	hold := w.hold
	w.hold = nil
	w.writeBody(hold)
}

// sendHead writes the status line and header fields, deciding the body's
// framing if the handler did not.
func (w *response) sendHead() {
	if w.headSent {
		return
	}
	w.headSent = true
	if w.c.srv.shutdown.Load() {
		w.closeAfter = true
	}
	if w.bodyOK && w.length < 0 && !w.isHead {
		if w.req.ProtoAtLeast(1, 1) {
			w.chunked = true
		} else {
			w.closeAfter = true
		}
	}
	bw := w.c.bw
	writeStatus(bw, w.status)
	w.writeFields(bw, w.chunked)
	bw.Write(w.wire)
	if _, ok := w.header["Date"]; !ok && !w.wireDate {
		bw.WriteString("Date: ")
		bw.Write(httpDate())
		bw.WriteString("\r\n")
	}
	if w.chunked {
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if w.closeAfter {
		if !httphead.HasToken(w.header["Connection"], "close") {
			bw.WriteString("Connection: close\r\n")
		}
	} else if !w.req.ProtoAtLeast(1, 1) {
		bw.WriteString("Connection: keep-alive\r\n")
	}
	_, w.err = bw.WriteString("\r\n")
}

var statusLines [600]string

func init() {
	for code := 100; code < len(statusLines); code++ {
		if text := http.StatusText(code); text != "" {
			statusLines[code] = "HTTP/1.1 " + strconv.Itoa(code) + " " + text + "\r\n"
		}
	}
}

func writeStatus(bw *bufio.Writer, code int) {
	if code < len(statusLines) && statusLines[code] != "" {
		bw.WriteString(statusLines[code])
		return
	}
	bw.WriteString("HTTP/1.1 " + strconv.Itoa(code) + " status code " + strconv.Itoa(code) + "\r\n")
}

// writeFields writes the handler's header fields. Values have CR and LF
// replaced by spaces (a response header never splits); Transfer-Encoding
// is the server's to write; Trailer only when the body is chunked.
func (w *response) writeFields(bw *bufio.Writer, chunked bool) {
	for k, vv := range w.header {
		switch {
		case k == "Transfer-Encoding", strings.HasPrefix(k, http.TrailerPrefix):
			continue
		case k == "Trailer" && !chunked:
			continue
		case k == "Content-Length" && !w.bodyOK && w.status != http.StatusNotModified && w.status >= 200:
			continue
		case !validFieldName(k):
			continue
		}
		for _, v := range vv {
			bw.WriteString(k)
			bw.WriteString(": ")
			writeFieldValue(bw, v)
			bw.WriteString("\r\n")
		}
	}
}

func validFieldName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c <= ' ' || c == ':' || c >= 0x7f {
			return false
		}
	}
	return true
}

func writeFieldValue(bw *bufio.Writer, v string) {
	if strings.IndexByte(v, '\r') < 0 && strings.IndexByte(v, '\n') < 0 {
		bw.WriteString(strings.TrimSpace(v))
		return
	}
	bw.WriteString(strings.TrimSpace(strings.NewReplacer("\r", " ", "\n", " ").Replace(v)))
}

// Flush sends what the handler wrote so far.
func (w *response) Flush() { _ = w.FlushError() }

// FlushError is Flush reporting a failed write (http.ResponseController).
func (w *response) FlushError() error {
	if w.c.hijacked {
		return http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headSent {
		w.startBody()
	}
	if w.err != nil {
		return w.err
	}
	w.err = w.c.bw.Flush()
	return w.err
}

// Hijack hands the connection to the handler (a WebSocket).
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c := w.c
	if c.hijacked {
		return nil, nil, http.ErrHijacked
	}
	if w.wroteHeader && !w.headSent {
		w.FlushError()
	}
	if err := c.bw.Flush(); err != nil {
		return nil, nil, err
	}
	c.hijacked = true
	c.rw.SetDeadline(time.Time{})
	c.srv.setState(c, http.StateHijacked)
	rw := bufio.NewReadWriter(c.br, c.bw)
	// The buffers now belong to the handler: not back to the pools.
	c.br, c.bw = nil, nil
	return c.rw, rw, nil
}

// SetReadDeadline sets the connection's read deadline (request body reads).
func (w *response) SetReadDeadline(t time.Time) error { return w.c.rw.SetReadDeadline(t) }

// SetWriteDeadline sets the connection's write deadline.
func (w *response) SetWriteDeadline(t time.Time) error { return w.c.rw.SetWriteDeadline(t) }

// EnableFullDuplex is a no-op: the body can always be read while writing.
func (w *response) EnableFullDuplex() error { return nil }

// finish completes the response after the handler returned and reports
// whether the connection can serve another request.
func (w *response) finish() bool {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	// The rest of an unread request body is read and dropped, up to a
	// limit, so the next request can be found; past it (or when a client
	// waits for 100 Continue that was never sent) the connection closes.
	if !w.closeAfter && !w.drainBody() {
		w.closeAfter = true
	}
	if !w.headSent {
		if w.length < 0 && w.bodyOK && !(w.isHead && w.written == 0) {
			w.length = w.written
			w.header["Content-Length"] = []string{strconv.FormatInt(w.written, 10)}
		}
		w.startBody()
	}
	if w.chunked && w.err == nil {
		bw := w.c.bw
		bw.WriteString("0\r\n")
		w.writeTrailers(bw)
		_, w.err = bw.WriteString("\r\n")
	}
	if w.bodyOK && !w.isHead && w.length >= 0 && w.written < w.length {
		// Short of the declared length: the client would read the next
		// response as this one's body.
		w.closeAfter = true
	}
	if w.err == nil {
		w.err = w.c.bw.Flush()
	}
	return w.err == nil && !w.closeAfter
}

func (w *response) drainBody() bool {
	if w.body == nil || w.body == http.NoBody {
		return true
	}
	if w.expect != nil && !w.expect.sent {
		// The client may be waiting to send it: the body is unknown.
		return false
	}
	// A client that declared a body and does not send it is not waited
	// for long.
	w.c.rw.SetReadDeadline(time.Now().Add(drainTimeout))
	n, err := io.CopyN(io.Discard, w.body, maxDrain+1)
	w.c.rw.SetReadDeadline(time.Time{})
	return errors.Is(err, io.EOF) && n <= maxDrain
}

// writeTrailers writes the trailer fields: those declared in Trailer and
// set after the head, and those set with http.TrailerPrefix.
func (w *response) writeTrailers(bw *bufio.Writer) {
	for _, decl := range w.header["Trailer"] {
		for _, k := range strings.Split(decl, ",") {
			k = http.CanonicalHeaderKey(strings.TrimSpace(k))
			for _, v := range w.header[k] {
				if validFieldName(k) {
					bw.WriteString(k + ": ")
					writeFieldValue(bw, v)
					bw.WriteString("\r\n")
				}
			}
		}
	}
	for k, vv := range w.header {
		if !strings.HasPrefix(k, http.TrailerPrefix) {
			continue
		}
		k = strings.TrimPrefix(k, http.TrailerPrefix)
		if !validFieldName(k) {
			continue
		}
		for _, v := range vv {
			bw.WriteString(k + ": ")
			writeFieldValue(bw, v)
			bw.WriteString("\r\n")
		}
	}
}

// httpDate is the current time as an HTTP-date, formatted once a second.
func httpDate() []byte {
	now := time.Now()
	sec := now.Unix()
	if d := cachedDate.Load(); d != nil && d.sec == sec {
		return d.text
	}
	d := &dateText{sec: sec, text: now.UTC().AppendFormat(nil, http.TimeFormat)}
	cachedDate.Store(d)
	return d.text
}

type dateText struct {
	sec  int64
	text []byte
}

var cachedDate atomic.Pointer[dateText]
