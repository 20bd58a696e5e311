// Package connlimit decides at accept time which connections a listener
// keeps: connections from blocked networks are closed, and so is one that
// would take a client address over its cap of open connections. Both
// happen before any TLS or HTTP work. Memory is one map entry
// per address that has a connection open, so it is bounded by the open
// connections themselves.
package connlimit

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Config says which connections to refuse.
type Config struct {
	// MaxPerAddr is how many connections one address may hold open; 0 is
	// no cap.
	MaxPerAddr int
	// Exempt, when set, names addresses without a cap (trusted proxies,
	// which carry many clients' connections).
	Exempt func(netip.Addr) bool
	// Blocked, when set, names addresses whose connections are closed at
	// once (a blocklist).
	Blocked func(netip.Addr) bool
}

// Listener wraps a net.Listener with a blocklist and a per-address cap.
type Listener struct {
	net.Listener
	max     int
	exempt  func(netip.Addr) bool
	blocked func(netip.Addr) bool

	mu       sync.Mutex
	open     map[netip.Addr]int
	refused  atomic.Uint64
	blockedN atomic.Uint64
	accepted atomic.Uint64
}

// New wraps ln.
func New(ln net.Listener, cfg Config) *Listener {
	return &Listener{Listener: ln, max: cfg.MaxPerAddr, exempt: cfg.Exempt, blocked: cfg.Blocked, open: map[netip.Addr]int{}}
}

// Blocked returns how many connections were closed for the blocklist.
func (l *Listener) Blocked() uint64 { return l.blockedN.Load() }

// Refused returns how many connections were closed for the cap.
func (l *Listener) Refused() uint64 { return l.refused.Load() }

// Open returns how many connections addr has open.
func (l *Listener) Open(addr netip.Addr) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open[addr.Unmap()]
}

// Accept returns the next connection within the cap; connections over it
// are closed here and never returned.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return c, err
		}
		ta, ok := c.RemoteAddr().(*net.TCPAddr)
		if !ok {
			return c, nil
		}
		addr := ta.AddrPort().Addr().Unmap()
		if l.blocked != nil && l.blocked(addr) {
			l.blockedN.Add(1)
			c.Close()
			continue
		}
		if l.max <= 0 || (l.exempt != nil && l.exempt(addr)) {
			return c, nil
		}
		l.mu.Lock()
		n := l.open[addr]
		if n >= l.max {
			l.mu.Unlock()
			l.refused.Add(1)
			c.Close()
			continue
		}
		l.open[addr] = n + 1
		l.mu.Unlock()
		l.accepted.Add(1)
		return &conn{Conn: c, l: l, addr: addr}, nil
	}
}

func (l *Listener) release(addr netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := l.open[addr] - 1; n > 0 {
		l.open[addr] = n
	} else {
		delete(l.open, addr)
	}
}

type conn struct {
	net.Conn
	l      *Listener
	addr   netip.Addr
	closed sync.Once
}

// CloseWrite half-closes the connection, so the HTTP server's lingering
// close works through the wrapper.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Close closes the connection and gives its slot back.
func (c *conn) Close() error {
	err := c.Conn.Close()
	c.closed.Do(func() { c.l.release(c.addr) })
	return err
}
