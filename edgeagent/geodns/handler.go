package geodns

import (
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
	"github.com/rampart-edge/rampart/edgeagent/catalog"
)

// Kinds of names in the zone.
const (
	nameApex uint8 = iota + 1
	nameNS         // an in-zone nameserver (glue)
	nameSite       // a site's edge name
	nameENT        // an empty non-terminal: exists, holds no records
)

// nameIndex is the zone's names for one catalog snapshot, rebuilt when the
// snapshot changes.
type nameIndex struct {
	snap  *catalog.Snapshot
	names map[string]uint8
}

func (s *Server) index() *nameIndex {
	var snap *catalog.Snapshot
	if s.cat != nil {
		snap = s.cat.Load()
	}
	if idx := s.names.Load(); idx != nil && idx.snap == snap {
		return idx
	}
	idx := &nameIndex{snap: snap, names: map[string]uint8{s.zone: nameApex}}
	add := func(name string, kind uint8) {
		idx.names[name] = kind
		// Every name between it and the apex exists too (RFC 8020).
		for p := name; ; {
			i := strings.IndexByte(p, '.')
			if i < 0 || i+1 >= len(p) {
				return
			}
			p = p[i+1:]
			if _, ok := idx.names[p]; ok || len(p) <= len(s.zone) {
				return
			}
			idx.names[p] = nameENT
		}
	}
	for name := range s.glue {
		add(name, nameNS)
	}
	if snap != nil {
		for _, h := range snap.Hostnames() {
			name := s.EdgeName(h)
			if len(name) <= 254 { // longer names cannot be queried
				add(name, nameSite)
			}
		}
	}
	s.names.Store(idx)
	return idx
}

// responder answers queries. Each UDP worker and TCP connection has its own,
// so the messages, records and buffers it reuses are never shared.
type responder struct {
	s        *Server
	req      dns.Msg
	resp     dns.Msg
	opt      dns.OPT
	ecs      dns.EDNS0_SUBNET
	optList  [1]dns.EDNS0
	hinfo    dns.HINFO
	a        []dns.A
	aaaa     []dns.AAAA
	rrs      []dns.RR
	ns       []dns.RR
	extra    []dns.RR
	v4, v6   []net.IP
	buf      []byte
	frame    []byte
	udp      bool
	limit    int
	cache    *packetCache // UDP workers only
	question [1]dns.Question
}

func (s *Server) newResponder() *responder {
	return &responder{s: s, buf: make([]byte, 0, 4096)}
}

// handle answers one query packet from src. It returns the response (valid
// until the next call) or nil to send nothing.
func (r *responder) handle(pkt []byte, src netip.Addr, udp bool) []byte {
	// A header we cannot read, or a response: never answer (no loops, no
	// reflection of junk).
	if len(pkt) < 12 || pkt[2]&0x80 != 0 {
		return nil
	}
	r.udp, r.limit = udp, 512
	req, resp := &r.req, &r.resp
	if err := req.Unpack(pkt); err != nil {
		return r.formErr(pkt)
	}
	*resp = dns.Msg{
		MsgHdr: dns.MsgHdr{
			Id: req.Id, Response: true, Opcode: req.Opcode,
			RecursionDesired: req.RecursionDesired, CheckingDisabled: req.CheckingDisabled,
		},
		Compress: true,
		Answer:   r.rrs[:0],
		Ns:       r.ns[:0],
		Extra:    r.extra[:0],
	}
	if len(req.Question) == 1 {
		r.question[0] = req.Question[0]
		resp.Question = r.question[:]
	}
	if req.Opcode != dns.OpcodeQuery {
		resp.Rcode = dns.RcodeNotImplemented
		return r.pack()
	}

	// EDNS: one OPT at most, version 0; the client subnet when sent.
	var reqOpt *dns.OPT
	for _, rr := range req.Extra {
		if o, ok := rr.(*dns.OPT); ok {
			if reqOpt != nil {
				resp.Rcode = dns.RcodeFormatError
				return r.pack()
			}
			reqOpt = o
		}
	}
	client, ecsBits := src, -1
	var ecs *dns.EDNS0_SUBNET
	if reqOpt != nil {
		r.limit = min(max(int(reqOpt.UDPSize()), 512), int(r.s.udpSize))
		r.opt = dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		r.opt.SetUDPSize(r.s.udpSize)
		r.opt.SetDo(reqOpt.Do())
		resp.Extra = append(resp.Extra, &r.opt)
		if reqOpt.Version() != 0 {
			resp.Rcode = dns.RcodeBadVers
			resp.Question = nil
			return r.pack()
		}
		for _, o := range reqOpt.Option {
			e, ok := o.(*dns.EDNS0_SUBNET)
			if !ok {
				continue
			}
			if ecs != nil {
				resp.Rcode = dns.RcodeFormatError
				return r.pack()
			}
			ecs = e
		}
		if ecs != nil {
			r.ecs = dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: ecs.Family, SourceNetmask: ecs.SourceNetmask, Address: ecs.Address}
			r.optList[0] = &r.ecs
			r.opt.Option = r.optList[:]
			if ecs.SourceNetmask > 0 {
				if a, ok := netip.AddrFromSlice(ecs.Address); ok {
					if p, err := a.Unmap().Prefix(int(ecs.SourceNetmask)); err == nil {
						client, ecsBits = p.Addr(), int(ecs.SourceNetmask)
					}
				}
			}
		}
	}
	if len(req.Question) != 1 {
		resp.Rcode = dns.RcodeFormatError
		return r.pack()
	}
	q := req.Question[0]
	if q.Qclass != dns.ClassINET {
		resp.Rcode = dns.RcodeRefused
		return r.pack()
	}
	name := lowerASCII(q.Name)
	if name != r.s.zone && !strings.HasSuffix(name, r.s.dotZone) {
		// Not ours, and we never recurse.
		resp.Rcode = dns.RcodeRefused
		return r.pack()
	}
	resp.Authoritative = true
	if q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR {
		resp.Rcode = dns.RcodeRefused
		return r.pack()
	}
	kind, ok := r.s.index().names[name]
	if !ok {
		resp.Rcode = dns.RcodeNameError
		r.negative()
		return r.pack()
	}
	if q.Qtype == dns.TypeANY && kind != nameENT {
		// RFC 8482: one small synthesized record instead of everything.
		r.hinfo = dns.HINFO{Hdr: r.s.hdr(q.Name, dns.TypeHINFO, r.s.zoneTTL), Cpu: "RFC8482"}
		resp.Answer = append(resp.Answer, &r.hinfo)
		return r.pack()
	}
	switch kind {
	case nameApex:
		switch q.Qtype {
		case dns.TypeSOA:
			resp.Answer = append(resp.Answer, r.s.soa)
		case dns.TypeNS:
			resp.Answer = append(resp.Answer, r.s.ns...)
			resp.Extra = append(resp.Extra, r.s.nsGlue...)
		}
	case nameNS:
		g := r.s.glue[name]
		r.addrAnswer(q, g.v4, g.v6, r.s.zoneTTL)
	case nameSite:
		if q.Qtype == dns.TypeA || q.Qtype == dns.TypeAAAA {
			scoped := r.choose(src, client, ecsBits >= 0)
			if scoped && ecs != nil {
				r.ecs.SourceScope = uint8(ecsBits)
			}
			r.addrAnswer(q, r.v4, r.v6, r.s.ttl)
		}
	}
	if len(resp.Answer) == 0 {
		r.negative() // NODATA
	}
	return r.pack()
}

// addrAnswer appends the A or AAAA records for q from the address lists.
func (r *responder) addrAnswer(q dns.Question, v4, v6 []net.IP, ttl uint32) {
	resp := &r.resp
	switch q.Qtype {
	case dns.TypeA:
		r.a = r.a[:0]
		for _, ip := range v4 {
			r.a = append(r.a, dns.A{Hdr: r.s.hdr(q.Name, dns.TypeA, ttl), A: ip})
		}
		for i := range r.a {
			resp.Answer = append(resp.Answer, &r.a[i])
		}
	case dns.TypeAAAA:
		r.aaaa = r.aaaa[:0]
		for _, ip := range v6 {
			r.aaaa = append(r.aaaa, dns.AAAA{Hdr: r.s.hdr(q.Name, dns.TypeAAAA, ttl), AAAA: ip})
		}
		for i := range r.aaaa {
			resp.Answer = append(resp.Answer, &r.aaaa[i])
		}
	}
}

// negative puts the SOA in the authority section (NXDOMAIN and NODATA).
func (r *responder) negative() {
	r.resp.Ns = append(r.resp.Ns[:0], r.s.soa)
}

// choose fills r.v4 and r.v6 with the answer for a client: a view's, else
// the first healthy region of the client's preference list, else every
// healthy public region, else (nothing is healthy: fail open) every public
// region's known addresses. It reports whether the answer depended on the
// client subnet (for the ECS scope).
func (r *responder) choose(src, client netip.Addr, hasECS bool) (scoped bool) {
	s := r.s
	st := s.st.Load()
	r.v4, r.v6 = r.v4[:0], r.v6[:0]
	vi, ok := s.viewTable.lookup(src)
	if !ok && hasECS {
		vi, ok = s.viewTable.lookup(client)
		scoped = ok
	}
	if ok {
		v := &s.views[vi]
		if len(v.v4)+len(v.v6) > 0 {
			r.v4, r.v6 = append(r.v4, v.v4...), append(r.v6, v.v6...)
			return scoped
		}
		for _, ri := range v.pref {
			if rs := &st.regions[ri]; rs.healthy {
				r.v4, r.v6 = append(r.v4, rs.v4...), append(r.v6, rs.v6...)
				return scoped
			}
		}
	}
	pref := -1
	if p, ok := s.routes.lookup(client); ok {
		pref = p
	} else if s.geo != nil {
		pref = s.geo.lookup(client)
	}
	if pref < 0 {
		pref = s.defPref
	}
	for _, ri := range s.prefs[pref] {
		if rs := &st.regions[ri]; rs.healthy {
			r.v4, r.v6 = append(r.v4, rs.v4...), append(r.v6, rs.v6...)
			return hasECS
		}
	}
	for _, ri := range s.public {
		if rs := &st.regions[ri]; rs.healthy {
			r.v4, r.v6 = append(r.v4, rs.v4...), append(r.v6, rs.v6...)
		}
	}
	if len(r.v4)+len(r.v6) == 0 {
		for _, ri := range s.public {
			rs := &st.regions[ri]
			r.v4, r.v6 = append(r.v4, rs.known4...), append(r.v6, rs.known6...)
		}
	}
	return hasECS
}

// pack encodes the response, truncating it for UDP when it does not fit
// the client's buffer (the client then retries over TCP).
func (r *responder) pack() []byte {
	resp := &r.resp
	out, err := resp.PackBuffer(r.buf[:cap(r.buf)])
	if err != nil {
		return nil
	}
	if r.udp && len(out) > r.limit {
		resp.Truncate(r.limit)
		if out, err = resp.PackBuffer(r.buf[:cap(r.buf)]); err != nil {
			return nil
		}
	}
	r.rrs, r.ns, r.extra = resp.Answer[:0], resp.Ns[:0], resp.Extra[:0]
	if cap(out) > cap(r.buf) {
		r.buf = out[:0]
	}
	return out
}

// truncated re-encodes the last response as an empty one with TC set: what
// the rate limiter sends instead of dropping, now and then.
func (r *responder) truncated() []byte {
	resp := &r.resp
	resp.Truncated = true
	resp.Answer, resp.Ns = nil, nil
	if len(resp.Extra) > 0 {
		resp.Extra = resp.Extra[len(resp.Extra)-1:]
		if _, ok := resp.Extra[0].(*dns.OPT); !ok {
			resp.Extra = nil
		}
	}
	out, err := resp.PackBuffer(r.buf[:cap(r.buf)])
	if err != nil {
		return nil
	}
	return out
}

// formErr answers a packet that does not parse with a bare FORMERR header
// (never larger than the query).
func (r *responder) formErr(pkt []byte) []byte {
	out := append(r.buf[:0], pkt[:12]...)
	out[2] = 0x80 | pkt[2]&0x79 // QR, opcode and RD kept
	out[3] = dns.RcodeFormatError
	clear(out[4:12])
	return out
}

// lowerASCII lower-cases a name, allocating only when it has upper case.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
