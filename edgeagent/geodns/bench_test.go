package geodns

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// BenchmarkHandle measures the query path without sockets: parse, place the
// client, choose a region, encode.
func BenchmarkHandle(b *testing.B) {
	s := newTestServer(b, testConfig(), "shop.example.com")
	site := "shop.example.com." + testZone
	for _, c := range []struct {
		name string
		q    *dns.Msg
		src  string
	}{
		{"A/ECS", query(site, dns.TypeA, "10.2.3.0/24", false), "127.0.0.1"},
		{"A/resolver", query(site, dns.TypeA, "", false), "10.3.0.53"},
		{"A/view", query(site, dns.TypeA, "", false), "127.0.2.1"},
		{"NXDOMAIN", query("nope."+testZone, dns.TypeA, "", true), "127.0.0.1"},
		{"REFUSED", query("example.com.", dns.TypeA, "", false), "127.0.0.1"},
	} {
		b.Run(c.name, func(b *testing.B) {
			pkt, _ := c.q.Pack()
			src := netip.MustParseAddr(c.src)
			r := s.newResponder()
			b.ReportAllocs()
			for b.Loop() {
				if r.handle(pkt, src, true) == nil {
					b.Fatal("no answer")
				}
			}
		})
	}
}

// BenchmarkAnswerCached is the UDP path when the packet cache holds the
// answer (a resolver repeating a question).
func BenchmarkAnswerCached(b *testing.B) {
	s := newTestServer(b, testConfig(), "shop.example.com")
	pkt, _ := query("shop.example.com."+testZone, dns.TypeA, "10.2.3.0/24", false).Pack()
	src := netip.MustParseAddr("127.0.0.1")
	r := s.newResponder()
	r.cache = newPacketCache()
	b.ReportAllocs()
	for b.Loop() {
		if r.answer(pkt, src) == nil {
			b.Fatal("no answer")
		}
	}
}
