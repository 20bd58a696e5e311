// Package zoneserve answers DNS questions from a fixed set of records,
// authoritatively, over UDP and TCP: a stand-in for a DNS provider's
// nameserver in tests and migrations (serve an imported zone, then check it
// with an edge spec).
package zoneserve

import (
	"errors"
	"net"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// Server serves records for the zones their names fall in.
type Server struct {
	records map[string][]dns.RR // lower-case owner name → records
	udp     *dns.Server
	tcp     *dns.Server
	addr    string
	closeMu sync.Once
}

// New indexes the records; nothing is listening yet.
func New(records []dns.RR) *Server {
	s := &Server{records: map[string][]dns.RR{}}
	for _, rr := range records {
		n := strings.ToLower(rr.Header().Name)
		s.records[n] = append(s.records[n], rr)
	}
	return s
}

// Start listens on addr (host:port, port 0 for a free one) over UDP and
// TCP on the same port and serves in the background.
func (s *Server) Start(addr string) error {
	var pc net.PacketConn
	var ln net.Listener
	var err error
	// With port 0 the UDP port is free but the same TCP port may not be
	// (another process): try a few ports.
	for range 10 {
		if pc, err = net.ListenPacket("udp", addr); err != nil {
			return err
		}
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
		if _, port, _ := net.SplitHostPort(addr); port != "0" {
			return err
		}
	}
	if err != nil {
		return err
	}
	s.addr = pc.LocalAddr().String()
	h := dns.HandlerFunc(s.serve)
	s.udp = &dns.Server{PacketConn: pc, Handler: h}
	s.tcp = &dns.Server{Listener: ln, Handler: h}
	started := make(chan struct{}, 2)
	s.udp.NotifyStartedFunc = func() { started <- struct{}{} }
	s.tcp.NotifyStartedFunc = func() { started <- struct{}{} }
	go s.udp.ActivateAndServe()
	go s.tcp.ActivateAndServe()
	<-started
	<-started
	return nil
}

// Addr is the host:port served (UDP and TCP).
func (s *Server) Addr() string { return s.addr }

// Close stops both listeners.
func (s *Server) Close() error {
	var err error
	s.closeMu.Do(func() {
		if s.udp != nil {
			err = errors.Join(s.udp.Shutdown(), s.tcp.Shutdown())
		}
	})
	return err
}

// serve answers from the records: the name's records of the type (or a
// CNAME and what it points to within the data), NODATA with the SOA when
// the name exists without that type, NXDOMAIN when it does not exist.
func (s *Server) serve(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	for range 8 { // CNAME chain, bounded
		rrs, ok := s.records[name]
		if !ok {
			break
		}
		var next string
		for _, rr := range rrs {
			t := rr.Header().Rrtype
			if t == q.Qtype || q.Qtype == dns.TypeANY {
				m.Answer = append(m.Answer, rr)
			} else if c, isC := rr.(*dns.CNAME); isC {
				m.Answer = append(m.Answer, rr)
				next = strings.ToLower(c.Target)
			}
		}
		if next == "" || q.Qtype == dns.TypeCNAME {
			break
		}
		name = next
	}
	if len(m.Answer) == 0 {
		if _, ok := s.records[strings.ToLower(q.Name)]; !ok {
			m.Rcode = dns.RcodeNameError
		}
		if soa := s.soaFor(q.Name); soa != nil {
			m.Ns = append(m.Ns, soa)
		}
	}
	if opt := req.IsEdns0(); opt != nil {
		m.SetEdns0(opt.UDPSize(), false)
	}
	if _, ok := w.LocalAddr().(*net.UDPAddr); ok {
		size := 512
		if opt := req.IsEdns0(); opt != nil {
			size = int(opt.UDPSize())
		}
		m.Truncate(size)
	}
	w.WriteMsg(m)
}

// soaFor finds the SOA of the closest enclosing zone in the data.
func (s *Server) soaFor(name string) dns.RR {
	labels := dns.SplitDomainName(name)
	for i := range labels {
		for _, rr := range s.records[strings.ToLower(dns.Fqdn(strings.Join(labels[i:], ".")))] {
			if rr.Header().Rrtype == dns.TypeSOA {
				return rr
			}
		}
	}
	return nil
}
