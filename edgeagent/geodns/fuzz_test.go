package geodns

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// FuzzHandle feeds arbitrary packets to the query handler, over UDP and
// TCP. Whatever comes in, the handler must not panic, and when it answers
// the answer parses, is a response to the same ID, is no bigger than the
// client allows over UDP, and is FORMERR when the query did not parse.
// The seed corpus is below and in testdata/fuzz/FuzzHandle.
func FuzzHandle(f *testing.F) {
	site := "shop.example.com." + testZone
	seeds := []*dns.Msg{
		query(site, dns.TypeA, "10.1.2.0/24", false),
		query(site, dns.TypeAAAA, "2001:db8::/48", false),
		query(site, dns.TypeANY, "", true),
		query(testZone, dns.TypeNS, "", false),
		query(testZone, dns.TypeSOA, "", true),
		query("ns1."+testZone, dns.TypeA, "", false),
		query("x.example.com."+testZone, dns.TypeTXT, "", false),
		query("example.org.", dns.TypeA, "", false),
		query(site, dns.TypeA, "", false),
	}
	for _, m := range seeds {
		pkt, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(pkt, true)
	}
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}, true)
	f.Add([]byte{0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc0, 0x0c}, false)

	cfg := testConfig()
	cfg.Health = ""
	s := newTestServer(f, cfg, "shop.example.com", "www.example.org")
	// One region healthy by heartbeat, so every answer path is live.
	subj, body := beat(f, "ams3", "ams3-a", "127.0.1.2:443", true)
	s.HandleHeartbeat(subj, body)
	src := netip.MustParseAddr("10.2.3.4")
	r := s.newResponder()
	r.cache = newPacketCache()

	f.Fuzz(func(t *testing.T, pkt []byte, udp bool) {
		// UDP goes through the packet cache, as the server does.
		var out []byte
		if udp {
			out = r.answer(pkt, src)
		} else {
			out = r.handle(pkt, src, false)
		}
		if out == nil {
			return
		}
		var resp dns.Msg
		if err := resp.Unpack(out); err != nil {
			t.Fatalf("response does not parse: %v\n%x", err, out)
		}
		if !resp.Response || resp.Id != uint16(pkt[0])<<8|uint16(pkt[1]) {
			t.Fatalf("bad response header %v", resp.MsgHdr)
		}
		var req dns.Msg
		if req.Unpack(pkt) != nil {
			if resp.Rcode != dns.RcodeFormatError || len(out) > len(pkt) {
				t.Fatalf("unparseable query answered %s, %d bytes", dns.RcodeToString[resp.Rcode], len(out))
			}
			return
		}
		limit := 512
		if o := req.IsEdns0(); o != nil {
			limit = max(limit, min(int(o.UDPSize()), 1232))
		}
		if udp && len(out) > limit {
			t.Fatalf("UDP response of %d bytes, limit %d", len(out), limit)
		}
	})
}
