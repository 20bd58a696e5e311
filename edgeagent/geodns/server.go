// Package geodns is the edge's authoritative DNS server for the edge zone.
// It answers a site's edge name (its hostname followed by the zone, e.g.
// shop.example.com.edge.example.net, which the customer CNAMEs to) with the
// addresses of the nearest healthy region: the client is placed by its EDNS
// Client Subnet, else by the resolver's address, through an explicit CIDR
// table, then a MaxMind-format database and per-country/continent
// preferences, and health comes from the edges' heartbeats. It serves UDP
// and TCP with no recursion, truncation to TCP, minimal ANY (RFC 8482),
// response rate limiting and a packet cache for repeated questions.
package geodns

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/rampart-edge/rampart/edgeagent/catalog"
)

// Server is one GeoDNS server. New builds it, Listen binds (optional: Run
// binds when needed), Run serves until its context ends or Close is called.
type Server struct {
	log  *slog.Logger
	cat  *catalog.Catalog
	addr string

	zone      string // lower-case, fully qualified
	dotZone   string // "." + zone
	ttl       uint32
	zoneTTL   uint32
	negTTL    uint32
	udpSize   uint16
	maxConns  int
	soa       *dns.SOA
	ns        []dns.RR
	glue      map[string]glue // in-zone nameserver names → addresses
	nsGlue    []dns.RR        // additional section of an NS answer
	regions   []Region
	public    []int   // indexes of the regions public answers may use
	prefs     [][]int // preference lists (public regions only)
	defPref   int
	routes    prefixTable[int] // → prefs index
	countries map[string]int
	continent map[string]int
	geo       *geoDB
	views     []view
	viewTable prefixTable[int] // → views index
	rrl       *rateLimiter
	health    *health
	window    time.Duration

	st    atomic.Pointer[state]
	names atomic.Pointer[nameIndex]

	mu      sync.Mutex
	udp     *net.UDPConn
	tcp     *net.TCPListener
	conns   map[net.Conn]struct{}
	closed  bool
	closing chan struct{}
	wg      sync.WaitGroup
}

type glue struct{ v4, v6 []net.IP }

type view struct {
	name   string
	pref   []int // regions, hidden ones included
	v4, v6 []net.IP
}

// New checks cfg and builds the server. cat supplies the sites (their
// hostnames become edge names); log may be nil.
func New(cfg Config, cat *catalog.Catalog, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{
		log: log, cat: cat, addr: cfg.Addr,
		zone:      dns.Fqdn(strings.ToLower(cfg.Zone)),
		ttl:       orDefault(cfg.TTL, 20),
		zoneTTL:   orDefault(cfg.ZoneTTL, 3600),
		negTTL:    60,
		udpSize:   orDefault(cfg.UDPSize, 1232),
		maxConns:  orDefault(cfg.MaxTCPConns, 1024),
		regions:   cfg.Regions,
		glue:      map[string]glue{},
		countries: map[string]int{},
		continent: map[string]int{},
		window:    orDefault(time.Duration(cfg.Window), 10*time.Second),
		rrl:       newRateLimiter(cfg.RateLimit),
		conns:     map[net.Conn]struct{}{},
		closing:   make(chan struct{}),
	}
	s.dotZone = "." + s.zone
	s.negTTL = min(s.negTTL, s.zoneTTL)

	hostmaster := "hostmaster." + s.zone
	if cfg.Hostmaster != "" {
		hostmaster = dns.Fqdn(strings.ToLower(cfg.Hostmaster))
	}
	for _, ns := range cfg.Nameservers {
		name := dns.Fqdn(strings.ToLower(ns.Name))
		s.ns = append(s.ns, &dns.NS{Hdr: s.hdr(s.zone, dns.TypeNS, s.zoneTTL), Ns: name})
		if !dns.IsSubDomain(s.zone, name) {
			continue
		}
		var addrs []netip.Addr
		for _, a := range ns.Addrs {
			addrs = append(addrs, netip.MustParseAddr(a).Unmap())
		}
		g := glue{}
		g.v4, g.v6 = splitFamilies(addrs)
		s.glue[name] = g
		for _, ip := range g.v4 {
			s.nsGlue = append(s.nsGlue, &dns.A{Hdr: s.hdr(name, dns.TypeA, s.zoneTTL), A: ip})
		}
		for _, ip := range g.v6 {
			s.nsGlue = append(s.nsGlue, &dns.AAAA{Hdr: s.hdr(name, dns.TypeAAAA, s.zoneTTL), AAAA: ip})
		}
	}
	s.soa = &dns.SOA{
		Hdr: s.hdr(s.zone, dns.TypeSOA, s.zoneTTL),
		Ns:  dns.Fqdn(strings.ToLower(cfg.Nameservers[0].Name)), Mbox: hostmaster,
		Serial: orDefault(cfg.Serial, 1), Refresh: 7200, Retry: 3600, Expire: 1209600, Minttl: s.negTTL,
	}

	index := map[string]int{}
	for i, r := range cfg.Regions {
		index[r.Name] = i
		if !r.Hidden {
			s.public = append(s.public, i)
		}
	}
	// publicPref turns region names into a preference list of public regions.
	publicPref := func(names []string) int {
		var list []int
		for _, n := range names {
			if i := index[n]; !cfg.Regions[i].Hidden {
				list = append(list, i)
			}
		}
		s.prefs = append(s.prefs, list)
		return len(s.prefs) - 1
	}
	if len(cfg.Default) > 0 {
		s.defPref = publicPref(cfg.Default)
	} else {
		s.prefs = append(s.prefs, s.public)
		s.defPref = 0
	}
	for _, r := range cfg.Routes {
		s.routes.insert(netip.MustParsePrefix(r.CIDR), publicPref(r.Regions))
	}
	for code, list := range cfg.Countries {
		s.countries[code] = publicPref(list)
	}
	for code, list := range cfg.Continents {
		s.continent[code] = publicPref(list)
	}
	for i, v := range cfg.Views {
		vw := view{name: v.Name}
		for _, n := range v.Regions {
			vw.pref = append(vw.pref, index[n])
		}
		var addrs []netip.Addr
		for _, a := range v.Addrs {
			addrs = append(addrs, netip.MustParseAddr(a).Unmap())
		}
		vw.v4, vw.v6 = splitFamilies(addrs)
		s.views = append(s.views, vw)
		for _, src := range v.Sources {
			s.viewTable.insert(netip.MustParsePrefix(src), i)
		}
	}
	if cfg.GeoIPDB != "" {
		g, err := openGeoDB(cfg.GeoIPDB, s.geoPref)
		if err != nil {
			return nil, err
		}
		s.geo = g
	}
	s.health = newHealth(cfg.Regions, s.window, cfg.Health == HealthStatic)
	s.st.Store(s.health.compute(time.Now()))
	return s, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func (s *Server) hdr(name string, t uint16, ttl uint32) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
}

// geoPref is the preference list for a GeoIP record: its country's, else
// its continent's, else none (-1).
func (s *Server) geoPref(country, continent string) int {
	if i, ok := s.countries[country]; ok {
		return i
	}
	if i, ok := s.continent[continent]; ok {
		return i
	}
	return -1
}

// Zone returns the zone the server is authoritative for, fully qualified.
func (s *Server) Zone() string { return s.zone }

// EdgeName is the name a site's hostname is served under: the customer
// CNAMEs the hostname to it.
func (s *Server) EdgeName(hostname string) string {
	return strings.ToLower(strings.TrimSuffix(hostname, ".")) + s.dotZone
}

// HandleHeartbeat feeds one message from edge.hb.<region>.<node> (an
// api.Heartbeat) to the health tracker. Messages for regions not in the
// config, or whose body does not match the subject, are ignored.
func (s *Server) HandleHeartbeat(subject string, data []byte) {
	now := time.Now()
	if s.health.observe(subject, data, now) {
		s.st.Store(s.health.compute(now))
	}
}

// Healthy returns the names of the regions currently in service.
func (s *Server) Healthy() []string {
	var out []string
	for i, r := range s.st.Load().regions {
		if r.healthy {
			out = append(out, s.regions[i].Name)
		}
	}
	return out
}

// Listen binds the UDP socket and a TCP listener on the same port, so
// that Addr is known before Run.
func (s *Server) Listen() error {
	addr := s.addr
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.udp != nil || s.closed {
		return errors.New("geodns: already listening or closed")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("dns listen %s: %w", addr, err)
	}
	// With port 0 the TCP port the kernel picked for UDP may be taken:
	// try a few times.
	for attempt := 0; ; attempt++ {
		uc, err := net.ListenPacket("udp", net.JoinHostPort(host, port))
		if err != nil {
			return fmt.Errorf("dns listen udp %s: %w", addr, err)
		}
		udp := uc.(*net.UDPConn)
		// Room for bursts while workers are descheduled (the kernel caps it
		// at net.core.rmem_max).
		udp.SetReadBuffer(4 << 20)
		bound := strconvPort(udp.LocalAddr())
		tl, err := net.Listen("tcp", net.JoinHostPort(host, bound))
		if err != nil {
			udp.Close()
			if port == "0" && attempt < 10 {
				continue
			}
			return fmt.Errorf("dns listen tcp %s: %w", addr, err)
		}
		s.udp, s.tcp = udp, tl.(*net.TCPListener)
		return nil
	}
}

func strconvPort(a net.Addr) string {
	_, p, _ := net.SplitHostPort(a.String())
	return p
}

// Addr is the bound address (host:port), "" before Listen.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.udp == nil {
		return ""
	}
	return s.udp.LocalAddr().String()
}

// Run serves until ctx ends or Close is called; it binds first unless
// Listen was called. It returns once every worker has stopped.
func (s *Server) Run(ctx context.Context) error {
	if s.Addr() == "" {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	// Workers are added under the lock so Close never waits before they are
	// counted.
	udp, tcp := s.udp, s.tcp
	for range max(2, runtime.GOMAXPROCS(0)) {
		s.wg.Go(func() { s.serveUDP(udp) })
	}
	s.wg.Go(func() { s.serveTCP(tcp) })
	s.mu.Unlock()
	s.log.Info("dns listening", "addr", udp.LocalAddr().String(), "zone", s.zone)

	tick := time.NewTicker(min(s.window/4, time.Second))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			s.Close()
			return nil
		case <-s.closing:
			s.wg.Wait()
			return nil
		case now := <-tick.C:
			s.st.Store(s.health.compute(now))
		}
	}
}

// Close stops serving: it closes the sockets and open TCP connections and
// waits for the workers. The GeoIP database is closed too.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	close(s.closing)
	var err error
	if s.udp != nil {
		err = errors.Join(s.udp.Close(), s.tcp.Close())
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	if s.geo != nil {
		err = errors.Join(err, s.geo.close())
	}
	return err
}

func (s *Server) serveUDP(conn *net.UDPConn) {
	r := s.newResponder()
	r.cache = newPacketCache()
	buf := make([]byte, 4096)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // e.g. ICMP errors surfaced on the socket
		}
		src := from.Addr().Unmap()
		out := r.answer(buf[:n], src)
		if out == nil {
			continue
		}
		switch s.rrl.check(src, time.Now().UnixNano()) {
		case drop:
			continue
		case slipTC:
			// Encode this query's answer again (the cache may have
			// answered), then strip it down to a truncated header.
			if r.handle(buf[:n], src, true) == nil {
				continue
			}
			if out = r.truncated(); out == nil {
				continue
			}
		}
		conn.WriteToUDPAddrPort(out, from)
	}
}

const tcpIdle = 10 * time.Second

func (s *Server) serveTCP(ln *net.TCPListener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		s.mu.Lock()
		if s.closed || len(s.conns) >= s.maxConns {
			s.mu.Unlock()
			c.Close()
			continue
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Go(func() {
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			s.serveConn(c)
		})
	}
}

// serveConn answers length-prefixed queries (RFC 7766, pipelining
// included) until the client goes quiet or sends something unparseable.
func (s *Server) serveConn(c net.Conn) {
	src := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
	r := s.newResponder()
	var lenBuf [2]byte
	msg := make([]byte, 512)
	for {
		c.SetReadDeadline(time.Now().Add(tcpIdle))
		if _, err := io.ReadFull(c, lenBuf[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(lenBuf[:]))
		if n < 12 {
			return
		}
		if cap(msg) < n {
			msg = make([]byte, n)
		}
		if _, err := io.ReadFull(c, msg[:n]); err != nil {
			return
		}
		out := r.handle(msg[:n], src, false)
		if out == nil {
			return
		}
		frame := slices.Grow(r.frame[:0], 2+len(out))
		frame = binary.BigEndian.AppendUint16(frame, uint16(len(out)))
		frame = append(frame, out...)
		r.frame = frame
		c.SetWriteDeadline(time.Now().Add(tcpIdle))
		if _, err := c.Write(frame); err != nil {
			return
		}
	}
}
