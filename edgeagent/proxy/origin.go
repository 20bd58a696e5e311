package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/rampart-edge/rampart/edgeagent/catalog"
	"github.com/rampart-edge/rampart/edgeagent/internal/rawsock"
)

// The origin client speaks HTTP/1.1 to origins over pooled keep-alive
// connections, synchronously in the request's goroutine. net/http's
// Transport hands every request to a read and a write goroutine per
// connection; on a proxy that handoff costs more than the request itself
// (measured: ~45% of nginx's throughput with Transport). nginx, HAProxy and
// Varnish all speak HTTP/1.1 upstream too.

// originPool is the idle connections to one origin (scheme, address and TLS
// settings).
type originPool struct {
	addr    string
	dialer  *net.Dialer
	tlsConf *tls.Config // nil for http
	cfg     *Config

	mu   sync.Mutex
	idle []*originConn
}

type originConn struct {
	c        net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	pool     *originPool
	lastUsed time.Time
}

const (
	maxIdlePerOrigin = 1024
	idleTimeout      = 90 * time.Second
	bodyReadTimeout  = 120 * time.Second
)

type pools struct {
	cfg Config
	m   sync.Map // pool key → *originPool
}

func (ps *pools) get(o *catalog.Origin) (*originPool, error) {
	key := o.Scheme + "\x00" + o.Addr + "\x00" + o.TLSKey
	if p, ok := ps.m.Load(key); ok {
		return p.(*originPool), nil
	}
	p := &originPool{addr: o.Addr, cfg: &ps.cfg, dialer: &net.Dialer{Timeout: ps.cfg.DialTimeout, KeepAlive: 30 * time.Second}}
	if !ps.cfg.AllowPrivateOrigins {
		p.dialer.Control = refusePrivate
	}
	if o.TLS != nil {
		tc := &tls.Config{ServerName: o.TLS.ServerName, InsecureSkipVerify: o.TLS.InsecureSkipVerify, MinVersion: tls.VersionTLS12,
			NextProtos: []string{"http/1.1"}, ClientSessionCache: tls.NewLRUClientSessionCache(256)}
		if tc.ServerName == "" {
			host, _, _ := net.SplitHostPort(o.Addr)
			tc.ServerName = host
		}
		if o.TLS.CAPEM != "" {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM([]byte(o.TLS.CAPEM)) {
				return nil, fmt.Errorf("origin %s: ca_pem holds no certificate", o.Addr)
			}
			tc.RootCAs = pool
		}
		if ps.cfg.OriginClientCert != nil {
			tc.Certificates = []tls.Certificate{*ps.cfg.OriginClientCert}
		}
		p.tlsConf = tc
	}
	actual, _ := ps.m.LoadOrStore(key, p)
	return actual.(*originPool), nil
}

func (ps *pools) closeIdle() {
	ps.m.Range(func(_, v any) bool {
		p := v.(*originPool)
		p.mu.Lock()
		idle := p.idle
		p.idle = nil
		p.mu.Unlock()
		for _, c := range idle {
			c.c.Close()
		}
		return true
	})
}

func (p *originPool) take() *originConn {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for n := len(p.idle); n > 0; n = len(p.idle) {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		if now.Sub(c.lastUsed) < idleTimeout {
			return c
		}
		go c.c.Close()
	}
	return nil
}

func (p *originPool) put(c *originConn) {
	c.lastUsed = time.Now()
	p.mu.Lock()
	if len(p.idle) < maxIdlePerOrigin {
		p.idle = append(p.idle, c)
		c = nil
	}
	// Drop the oldest connection when it has been idle too long, so a pool
	// that shrank does not hold sockets the origin has long closed.
	var stale *originConn
	if len(p.idle) > 1 && time.Since(p.idle[0].lastUsed) > idleTimeout {
		stale = p.idle[0]
		p.idle = p.idle[1:]
	}
	p.mu.Unlock()
	if c != nil {
		c.c.Close()
	}
	if stale != nil {
		stale.c.Close()
	}
}

func (p *originPool) dial(ctx context.Context) (*originConn, error) {
	c, err := p.dialer.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, err
	}
	c = rawsock.Wrap(c)
	if p.tlsConf != nil {
		tc := tls.Client(c, p.tlsConf)
		hctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("origin TLS handshake: %w", err)
		}
		c = tc
	}
	return &originConn{c: c, br: bufio.NewReaderSize(c, 16<<10), bw: bufio.NewWriterSize(c, 16<<10), pool: p}, nil
}

// errDialed marks errors that happened before the request reached the
// origin, so another origin may be tried.
type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// roundTrip sends req and reads the response head. The response body
// returns the connection to the pool once read to the end.
func (p *originPool) roundTrip(req *http.Request, replayable bool) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		var c *originConn
		if attempt == 0 {
			c = p.take() // a retry always gets a fresh connection
			// A request that may not be sent twice only goes on an idle
			// connection the origin has visibly not closed.
			for c != nil && (!replayable || !isIdempotent(req.Method)) && !c.alive() {
				c.c.Close()
				c = p.take()
			}
		}
		reused := c != nil
		if c == nil {
			var err error
			if c, err = p.dial(req.Context()); err != nil {
				return nil, &dialError{err}
			}
		}
		resp, err := c.exchange(req, p.cfg.ResponseHeaderTimeout)
		if err == nil {
			return resp, nil
		}
		c.c.Close()
		// An idle connection the origin closed while we held it fails on
		// first use; try again on a fresh connection. A request that is
		// not idempotent is sent again only when writing it failed: once
		// it was written the origin may have acted on it.
		var we *writeError
		if reused && replayable && attempt == 0 && isStaleConnError(err) &&
			(isIdempotent(req.Method) || errors.As(err, &we)) {
			if req.GetBody != nil {
				if req.Body, err = req.GetBody(); err != nil {
					return nil, err
				}
			}
			continue
		}
		return nil, err
	}
}

// writeError is a failure to send the request (the origin cannot have
// received all of it).
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

func isIdempotent(m string) bool {
	return isSafeMethod(m) || m == http.MethodPut || m == http.MethodDelete
}

// alive reports whether an idle connection is still open: a peek at the
// socket that must not block finds neither an EOF nor stray bytes. (A read
// with a deadline already past would not tell: Go fails it before asking
// the kernel.)
func (c *originConn) alive() bool {
	if c.br.Buffered() > 0 {
		return false
	}
	nc := c.c
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn() // a close_notify is bytes too: not alive
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true // cannot tell; the retry rules still apply
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = rerr == syscall.EAGAIN || rerr == syscall.EWOULDBLOCK
		return true // never wait
	})
	return err == nil && alive
}

func isStaleConnError(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func (c *originConn) exchange(req *http.Request, headerTimeout time.Duration) (*http.Response, error) {
	if err := c.c.SetDeadline(time.Now().Add(headerTimeout)); err != nil {
		return nil, err
	}
	if err := writeRequest(c.bw, req); err != nil {
		return nil, &writeError{fmt.Errorf("write request to origin: %w", err)}
	}
	if err := c.bw.Flush(); err != nil {
		return nil, &writeError{fmt.Errorf("write request to origin: %w", err)}
	}
	for {
		// The usual response is parsed from the buffer once its first
		// bytes are in (readBufferedResponse); any other is left to
		// http.ReadResponse.
		if c.br.Buffered() == 0 {
			// The request was only just written: as before a client's
			// next request (h1's readRequest), the other goroutines run
			// before a read that would most likely find nothing.
			runtime.Gosched()
		}
		if _, err := c.br.Peek(1); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF // as http.ReadResponse says it
			}
			return nil, fmt.Errorf("read response from origin: %w", err)
		}
		resp := readBufferedResponse(c.br, req)
		if resp == nil {
			var err error
			if resp, err = http.ReadResponse(c.br, req); err != nil {
				return nil, fmt.Errorf("read response from origin: %w", err)
			}
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
			continue // informational responses are not forwarded yet
		}
		if err := c.c.SetReadDeadline(time.Now().Add(bodyReadTimeout)); err != nil {
			resp.Body.Close()
			return nil, err
		}
		resp.Body = &poolBody{rc: resp.Body, conn: c, keep: !resp.Close && !req.Close, armed: time.Now()}
		return resp, nil
	}
}

// poolBody returns its connection to the pool when the body was read to
// the end, and closes it otherwise.
type poolBody struct {
	rc    io.ReadCloser
	conn  *originConn
	keep  bool
	eof   bool
	done  bool
	armed time.Time // when the read deadline was last pushed back
}

func (b *poolBody) Read(p []byte) (int, error) {
	// The deadline bounds silence, not the whole body: long streams stay
	// up as long as the origin keeps sending.
	if now := time.Now(); now.Sub(b.armed) > bodyReadTimeout/2 {
		b.armed = now
		b.conn.c.SetReadDeadline(now.Add(bodyReadTimeout))
	}
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *poolBody) Close() error {
	if b.done {
		return nil
	}
	b.done = true
	if !b.eof {
		// Closing first keeps rc.Close from draining the rest of the body.
		b.conn.c.Close()
		b.rc.Close()
		return nil
	}
	// Bytes after the body (an origin that sent more than its
	// Content-Length) would be read as the next response: never reuse.
	if err := b.rc.Close(); err != nil || !b.keep || b.conn.br.Buffered() > 0 {
		b.conn.c.Close()
		return err
	}
	b.conn.pool.put(b.conn)
	return nil
}
