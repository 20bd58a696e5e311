package geodns

import (
	"encoding/json"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/catalog"
)

const testZone = "edge.rampart.test."

// testConfig has three regions with static addresses and a CIDR table:
// 10.1/16 → nyc3, 10.2/16 → ams3 then nyc3, 10.3/16 → syd1; a staff view
// for 10.99/16 and 127.0.2/24 that prefers syd1.
func testConfig() Config {
	return Config{
		Addr: "127.0.0.1:0",
		Zone: "edge.rampart.test",
		Nameservers: []Nameserver{
			{Name: "ns1.edge.rampart.test", Addrs: []string{"127.0.1.1", "::1"}},
			{Name: "ns.other.example"},
		},
		Regions: []Region{
			{Name: "nyc3", Addrs: []string{"192.0.2.1", "2001:db8::1"}},
			{Name: "ams3", Addrs: []string{"192.0.2.2"}},
			{Name: "syd1", Addrs: []string{"192.0.2.3"}},
			{Name: "canary", Addrs: []string{"192.0.2.99"}, Hidden: true},
		},
		Health: HealthStatic,
		Routes: []Route{
			{CIDR: "10.1.0.0/16", Regions: []string{"nyc3"}},
			{CIDR: "10.2.0.0/16", Regions: []string{"ams3", "nyc3"}},
			{CIDR: "10.3.0.0/16", Regions: []string{"syd1"}},
			{CIDR: "10.4.0.0/16", Regions: []string{"canary", "syd1"}},
		},
		Views: []View{
			{Name: "staff", Sources: []string{"10.99.0.0/16", "127.0.2.0/24"}, Regions: []string{"canary", "syd1"}},
			{Name: "fixed", Sources: []string{"10.98.0.0/16"}, Addrs: []string{"203.0.113.7"}},
		},
	}
}

func siteJSON(t testing.TB, host string) []byte {
	t.Helper()
	b, err := json.Marshal(api.Site{V: api.Version, Hostname: host, Origins: []api.Origin{{URL: "http://origin.example.net"}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testCatalog(t testing.TB, hosts ...string) *catalog.Catalog {
	t.Helper()
	cat := catalog.New(nil, nil)
	entries := map[string][]byte{}
	for _, h := range hosts {
		entries[h] = siteJSON(t, h)
	}
	if errs := cat.Replace(catalog.KindSite, entries); len(errs) > 0 {
		t.Fatal(errs)
	}
	return cat
}

func newTestServer(t testing.TB, cfg Config, hosts ...string) *Server {
	t.Helper()
	s, err := New(cfg, testCatalog(t, hosts...), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// query builds a query; subnet "" sends no ECS, and edns sends an OPT.
func query(name string, qtype uint16, subnet string, edns bool) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = false
	if edns || subnet != "" {
		m.SetEdns0(1232, false)
	}
	if subnet != "" {
		p := netip.MustParsePrefix(subnet)
		e := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: uint8(p.Bits()), Address: net.IP(p.Addr().AsSlice())}
		if p.Addr().Is6() {
			e.Family = 2
		}
		m.IsEdns0().Option = append(m.IsEdns0().Option, e)
	}
	return m
}

// ask runs a query through the handler as if it came from src.
func ask(t testing.TB, s *Server, m *dns.Msg, src string, udp bool) *dns.Msg {
	t.Helper()
	pkt, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	out := s.newResponder().handle(pkt, netip.MustParseAddr(src), udp)
	if out == nil {
		t.Fatalf("no response to %v", m.Question)
	}
	resp := new(dns.Msg)
	if err := resp.Unpack(out); err != nil {
		t.Fatalf("response does not parse: %v", err)
	}
	if resp.Id != m.Id || !resp.Response {
		t.Fatalf("bad response header: %v", resp.MsgHdr)
	}
	return resp
}

// addrs lists the A/AAAA addresses of an answer.
func addrs(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			out = append(out, rr.A.String())
		case *dns.AAAA:
			out = append(out, rr.AAAA.String())
		}
	}
	return out
}

// scope returns the ECS scope of a response, or -1 without ECS.
func scope(m *dns.Msg) int {
	if o := m.IsEdns0(); o != nil {
		for _, e := range o.Option {
			if s, ok := e.(*dns.EDNS0_SUBNET); ok {
				return int(s.SourceScope)
			}
		}
	}
	return -1
}

// beat is a heartbeat message body for region/node.
func beat(t testing.TB, region, node, httpsAddr string, healthy bool) (string, []byte) {
	t.Helper()
	b, err := json.Marshal(api.Heartbeat{V: api.Version, Region: region, Node: node, Healthy: healthy, HTTPSAddr: httpsAddr, Time: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return api.HeartbeatSubject(region, node), b
}

func netipAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
