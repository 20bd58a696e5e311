// Package h1 is the edge's HTTP/1.1 server: a connection loop that reads a
// request, runs the handler and writes the response, in the connection's own
// goroutine.
//
// Go's net/http server does more per request than an edge can afford on a
// cache hit: it starts a background read on the connection after every
// request head (a goroutine hand-off and an extra read syscall per request),
// builds a cancellable context per request, sorts the response headers and
// writes them through three layers of buffers. On this machine a trivial
// handler served 34–36k requests a second through net/http and 53–59k
// through a loop of http.ReadRequest and a buffered writer (docs/bench.md).
//
// The loop keeps net/http's request parsing (http.ReadRequest, the same
// code net/http's server uses) and its checks after it (Host, header
// validity, Expect), and the parts of its response writing that protect a
// client (CR/LF in header values, Content-Length accounting, a Date
// header). What it leaves out on purpose: the request context is not
// cancelled when the client goes away mid-request (no background read; a
// dead client is noticed at the next write), Content-Type is never sniffed
// (a proxy passes the origin's headers through), and headers are written in
// map order.
//
// Connections that negotiated HTTP/2 (a *tls.Conn from the edge's TLS
// listener) are handed to Go's HTTP/2 server (Server.H2).
package h1

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/rampart-edge/rampart/edgeagent/internal/httphead"
)

// Server serves HTTP/1.x on the connections of a listener.
type Server struct {
	Handler           http.Handler
	ReadHeaderTimeout time.Duration // from a request's first byte to the end of its head; 0: none
	IdleTimeout       time.Duration // between requests on a connection; 0: ReadHeaderTimeout
	MaxHeaderBytes    int           // 0: http.DefaultMaxHeaderBytes
	// ConnContext, if set, derives the context of a connection's requests
	// from the server's (as http.Server.ConnContext).
	ConnContext func(ctx context.Context, c net.Conn) context.Context
	// ConnState, if set, is told about connection state changes (as
	// http.Server.ConnState).
	ConnState func(net.Conn, http.ConnState)
	// H2, if set, serves connections that negotiated "h2" over TLS. Its
	// TLSConfig must offer "h2" (that is what turns HTTP/2 on for it).
	H2 *http.Server
	// Log receives handler panics and accept errors; nil: slog.Default().
	Log *slog.Logger

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	h2ln      *chanListener
	shutdown  atomic.Bool
	done      chan struct{} // closed by the first Shutdown/Close
	doneOnce  sync.Once
}

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = http.ErrServerClosed

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

func (s *Server) init() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		s.done = make(chan struct{})
		s.listeners = map[net.Listener]struct{}{}
		s.conns = map[*conn]struct{}{}
	}
}

// Serve accepts connections on ln until it is closed or the server shuts
// down; it always returns a non-nil error (ErrServerClosed after Shutdown).
func (s *Server) Serve(ln net.Listener) error {
	s.init()
	if s.shutdown.Load() {
		return ErrServerClosed
	}
	s.mu.Lock()
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()
	baseCtx := context.Background()
	var delay time.Duration
	for {
		rw, err := ln.Accept()
		if err != nil {
			if s.shutdown.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// As net/http: back off on temporary accept errors (EMFILE).
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log().Warn("accept", "err", err, "retry_in", delay)
				select {
				case <-time.After(delay):
				case <-s.done:
				}
				continue
			}
			return err
		}
		delay = 0
		if tc, ok := rw.(*tls.Conn); ok && tc.ConnectionState().NegotiatedProtocol == "h2" {
			s.serveH2(tc)
			continue
		}
		ctx := baseCtx
		if s.ConnContext != nil {
			ctx = s.ConnContext(ctx, rw)
		}
		c := s.newConn(rw, ctx)
		if c == nil {
			continue
		}
		go c.serve()
	}
}

// serveH2 passes an h2 connection to Go's HTTP/2 server, started on the
// first one.
func (s *Server) serveH2(tc *tls.Conn) {
	if s.H2 == nil {
		tc.Close()
		return
	}
	s.mu.Lock()
	if s.h2ln == nil {
		s.h2ln = newChanListener(tc.LocalAddr())
		ln := s.h2ln
		go func() {
			if err := s.H2.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
				s.log().Error("serve h2", "err", err)
			}
		}()
	}
	ln := s.h2ln
	s.mu.Unlock()
	if !ln.deliver(tc) {
		tc.Close()
	}
}

func (s *Server) newConn(rw net.Conn, ctx context.Context) *conn {
	c := &conn{srv: s, rw: rw, ctx: ctx, remoteAddr: rw.RemoteAddr().String(), started: time.Now()}
	if tl, ok := rw.(interface{ TLSState() *tls.ConnectionState }); ok {
		c.tlsState = tl.TLSState()
	}
	s.mu.Lock()
	if s.shutdown.Load() {
		s.mu.Unlock()
		rw.Close()
		return nil
	}
	s.conns[c] = struct{}{}
	c.state.Store(int32(http.StateNew))
	s.mu.Unlock()
	s.setState(c, http.StateNew)
	return c
}

func (s *Server) setState(c *conn, st http.ConnState) {
	c.state.Store(int32(st))
	if s.ConnState != nil {
		s.ConnState(c.rw, st)
	}
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Shutdown stops accepting, closes idle connections, lets requests in
// flight finish (their connections then close) and waits for them, or for
// ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.shutdown.Store(true)
	s.doneOnce.Do(func() { close(s.done) })
	var err error
	s.mu.Lock()
	for ln := range s.listeners {
		if cerr := ln.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) {
			err = cerr
		}
	}
	h2ln := s.h2ln
	s.mu.Unlock()
	if h2ln != nil {
		h2ln.Close()
	}
	if s.H2 != nil {
		if herr := s.H2.Shutdown(ctx); herr != nil && err == nil {
			err = herr
		}
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.closeIdle() {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// closeIdle closes idle and new connections and reports whether none are
// left.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		st := http.ConnState(c.state.Load())
		if st == http.StateIdle || (st == http.StateNew && time.Since(c.started) > 5*time.Second) {
			c.rw.Close()
		}
	}
	return len(s.conns) == 0
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	s.init()
	s.shutdown.Store(true)
	s.doneOnce.Do(func() { close(s.done) })
	s.mu.Lock()
	var err error
	for ln := range s.listeners {
		if cerr := ln.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) {
			err = cerr
		}
	}
	for c := range s.conns {
		c.rw.Close()
	}
	h2ln := s.h2ln
	s.mu.Unlock()
	if h2ln != nil {
		h2ln.Close()
	}
	if s.H2 != nil {
		s.H2.Close()
	}
	return err
}

var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4<<10) }}
)

// conn is one client connection.
type conn struct {
	srv        *Server
	rw         net.Conn
	ctx        context.Context
	remoteAddr string
	tlsState   *tls.ConnectionState
	started    time.Time
	state      atomic.Int32

	resp        response // reused for each request
	lr          limitedReader
	deadlineSet bool // a read deadline may be pending
	br          *bufio.Reader
	bw          *bufio.Writer
	hijacked    bool
}

// limitedReader bounds how much of a request head is read.
type limitedReader struct {
	r      io.Reader
	remain int64
	hit    bool
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.remain <= 0 {
		l.hit = true
		return 0, errTooLarge
	}
	if int64(len(p)) > l.remain {
		p = p[:l.remain]
	}
	n, err := l.r.Read(p)
	l.remain -= int64(n)
	return n, err
}

var errTooLarge = errors.New("request head too large")

// lingerTimeout bounds the wait for a client to close after the server
// half-closed (net/http waits 500 ms).
const lingerTimeout = 500 * time.Millisecond

// noLimit is the read limit outside of request heads.
const noLimit = 1<<63 - 1

func (c *conn) maxHeaderBytes() int64 {
	if c.srv.MaxHeaderBytes > 0 {
		return int64(c.srv.MaxHeaderBytes)
	}
	return http.DefaultMaxHeaderBytes
}

func (c *conn) serve() {
	defer func() {
		if err := recover(); err != nil && err != http.ErrAbortHandler {
			buf := make([]byte, 64<<10)
			buf = buf[:runtime.Stack(buf, false)]
			c.srv.log().Error("handler panic", "remote", c.remoteAddr, "panic", fmt.Sprint(err), "stack", string(buf))
		}
		if !c.hijacked {
			c.close()
			c.srv.setState(c, http.StateClosed)
		}
		c.srv.forget(c)
	}()

	c.lr.r = c.rw
	c.br = readerPool.Get().(*bufio.Reader)
	c.br.Reset(&c.lr)
	c.bw = writerPool.Get().(*bufio.Writer)
	c.bw.Reset(c.rw)
	first := true
	for {
		req, err := c.readRequest(first)
		first = false
		if err != nil {
			c.answerReadError(err)
			return
		}
		c.srv.setState(c, http.StateActive)
		w := c.newResponse(req)
		if req.RequestURI == "*" && req.Method == http.MethodOptions {
			// As net/http: OPTIONS * is the server's, not the handler's.
			w.header.Set("Content-Length", "0")
		} else {
			c.srv.Handler.ServeHTTP(w, req)
		}
		if c.hijacked {
			return
		}
		if !w.finish() {
			return
		}
		if c.srv.shutdown.Load() {
			return
		}
		c.srv.setState(c, http.StateIdle)
	}
}

// close flushes and closes the connection, half-closing it first so a
// client still sending a request body reads the response rather than a
// reset (as net/http's closeWriteAndWait).
func (c *conn) close() {
	if c.bw != nil {
		c.bw.Flush()
		c.bw.Reset(nil)
		writerPool.Put(c.bw)
		c.bw = nil
	}
	if cw, ok := c.rw.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		// Closing with unread input resets the connection, and the client
		// may lose the response it has not read yet: wait (briefly) for
		// the client to close its side, reading what it still sends.
		c.rw.SetReadDeadline(time.Now().Add(lingerTimeout))
		io.CopyN(io.Discard, c.rw, maxDrain)
	}
	c.rw.Close()
	if c.br != nil {
		c.br.Reset(nil)
		readerPool.Put(c.br)
		c.br = nil
	}
}

// headBuffered reports whether a whole request head is in the read buffer.
func (c *conn) headBuffered() bool {
	b, _ := c.br.Peek(c.br.Buffered())
	return bytes.Contains(b, []byte("\r\n\r\n")) || bytes.Contains(b, []byte("\n\n"))
}

// requestError is a request the server answers itself.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func (c *conn) readRequest(first bool) (*http.Request, error) {
	s := c.srv
	// Wait for the request's first byte under the idle timeout, then read
	// its head under the header timeout. A head that arrived whole needs
	// no second deadline (setting one costs a timer update per request).
	deadline := c.deadlineSet
	if c.br.Buffered() == 0 {
		if d := s.IdleTimeout; d > 0 && !first {
			c.rw.SetReadDeadline(time.Now().Add(d))
			deadline = true
		} else if d := s.ReadHeaderTimeout; d > 0 {
			c.rw.SetReadDeadline(time.Now().Add(d))
			deadline = true
		}
		c.lr.remain = c.maxHeaderBytes() + 4096 // the slack net/http gives
		// Nothing of the next request is here yet, and a read now would
		// most likely find nothing either (the client has only just got
		// the last response): the other goroutines run first. Under load
		// that saves a read that fails and a round through the poller a
		// request (the edge made 3.6 reads a proxied request, nginx 2);
		// when there is nothing else to run it returns at once.
		runtime.Gosched()
		if _, err := c.br.Peek(1); err != nil {
			return nil, err
		}
	}
	if d := s.ReadHeaderTimeout; d > 0 && !c.headBuffered() {
		c.rw.SetReadDeadline(time.Now().Add(d))
		deadline = true
	}
	c.lr.remain = c.maxHeaderBytes() + 4096 - int64(c.br.Buffered())
	c.lr.hit = false
	req, err := readRequest(c.br)
	if err != nil {
		if c.lr.hit {
			return nil, &requestError{http.StatusRequestHeaderFieldsTooLarge, "request header too large"}
		}
		return nil, err
	}
	c.lr.remain = noLimit
	if deadline && req.ContentLength != 0 {
		// The body is read without a deadline (the handler may set one);
		// a request without a body leaves the deadline to the next wait,
		// which sets its own.
		c.rw.SetReadDeadline(time.Time{})
		deadline = false
	}
	c.deadlineSet = deadline

	// The checks net/http's server makes after parsing.
	if req.ProtoMajor != 1 {
		return nil, &requestError{http.StatusHTTPVersionNotSupported, "unsupported protocol version"}
	}
	// http.ReadRequest has moved the Host field to req.Host (a second Host
	// field is refused by edgeagent/framing, which sees every head).
	if req.ProtoAtLeast(1, 1) && req.Host == "" && req.Method != http.MethodConnect {
		return nil, &requestError{http.StatusBadRequest, "missing required Host header"}
	}
	if !httpguts.ValidHostHeader(req.Host) {
		return nil, &requestError{http.StatusBadRequest, "malformed Host header"}
	}
	if ex := req.Header["Expect"]; len(ex) > 0 && !(req.ProtoAtLeast(1, 1) && httphead.HasToken(ex, "100-continue")) {
		return nil, &requestError{http.StatusExpectationFailed, "unsupported Expect"}
	}
	req.RemoteAddr = c.remoteAddr
	req.TLS = c.tlsState
	if c.ctx != context.Background() {
		// WithContext's copy does not escape: set the context in place.
		*req = *req.WithContext(c.ctx)
	}
	return req, nil
}

// answerReadError answers a request that could not be read, as net/http
// does, or says nothing when the client just went away.
func (c *conn) answerReadError(err error) {
	var re *requestError
	switch {
	case errors.As(err, &re):
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return
		}
		re = &requestError{http.StatusBadRequest, err.Error()} // a head past the limit is readRequest's 431
	}
	c.rw.SetWriteDeadline(time.Now().Add(2 * time.Second))
	body := strconv.Itoa(re.status) + " " + http.StatusText(re.status) + ": " + re.msg
	fmt.Fprintf(c.bw, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s",
		re.status, http.StatusText(re.status), len(body), body)
	c.bw.Flush()
}

// chanListener is a net.Listener fed connections by Serve: how an h2
// connection reaches Go's HTTP/2 server.
type chanListener struct {
	addr   net.Addr
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *chanListener) deliver(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.closed:
		return false
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }
