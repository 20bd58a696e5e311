package framing

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"
)

// TLSListener terminates TLS in front of an http.Server so the plaintext of
// HTTP/1.1 connections can be followed: a connection that negotiated h2 is
// returned as the *tls.Conn (the server runs HTTP/2 on it as with
// ServeTLS), any other as a Conn over the *tls.Conn. Serve it with
// http.Server.Serve, the server's TLSConfig set to the same configuration
// (its "h2" in NextProtos is what turns HTTP/2 on), and ConnContext and
// ConnState set to this package's.
//
// Handshakes run in their own goroutines, each bounded by HandshakeTimeout,
// so a slow client never holds up Accept.
type TLSListener struct {
	inner            net.Listener
	cfg              *tls.Config
	handshakeTimeout time.Duration
	maxHeaderBytes   int

	start     sync.Once
	conns     chan net.Conn
	errs      chan error
	closed    chan struct{}
	closeOnce sync.Once
}

// NewTLSListener wraps inner. cfg's NextProtos should list "h2" and
// "http/1.1"; handshakeTimeout 0 is 10 s; maxHeaderBytes is the server's.
func NewTLSListener(inner net.Listener, cfg *tls.Config, handshakeTimeout time.Duration, maxHeaderBytes int) *TLSListener {
	if handshakeTimeout <= 0 {
		handshakeTimeout = 10 * time.Second
	}
	return &TLSListener{inner: inner, cfg: cfg, handshakeTimeout: handshakeTimeout, maxHeaderBytes: maxHeaderBytes,
		conns: make(chan net.Conn), errs: make(chan error), closed: make(chan struct{})}
}

// Accept returns the next connection whose handshake succeeded.
func (l *TLSListener) Accept() (net.Conn, error) {
	l.start.Do(func() { go l.acceptLoop() })
	select {
	case c := <-l.conns:
		return c, nil
	case err := <-l.errs:
		return nil, err
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *TLSListener) acceptLoop() {
	for {
		raw, err := l.inner.Accept()
		if err != nil {
			select {
			case l.errs <- err:
			case <-l.closed:
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		go l.handshake(raw)
	}
}

func (l *TLSListener) handshake(raw net.Conn) {
	tc := tls.Server(raw, l.cfg)
	ctx, cancel := context.WithTimeout(context.Background(), l.handshakeTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		tc.Close()
		return
	}
	var c net.Conn = tc
	if st := tc.ConnectionState(); st.NegotiatedProtocol != "h2" {
		fc := NewConn(tc, l.maxHeaderBytes)
		fc.tlsState = &st
		c = fc
	}
	select {
	case l.conns <- c:
	case <-l.closed:
		c.Close()
	}
}

// Close stops accepting; connections already returned stay open.
func (l *TLSListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.inner.Close()
}

// Addr is the inner listener's address.
func (l *TLSListener) Addr() net.Addr { return l.inner.Addr() }
