package geodns

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestPacketCache(t *testing.T) {
	cfg := testConfig()
	cfg.Health = ""
	cat := testCatalog(t, "shop.example.com")
	s, err := New(cfg, cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := s.newResponder()
	r.cache = newPacketCache()
	src := netipAddr("127.0.0.1")
	ask := func(name string, id uint16, subnet string) *dns.Msg {
		t.Helper()
		q := query(name, dns.TypeA, subnet, false)
		q.Id = id
		pkt, _ := q.Pack()
		var m dns.Msg
		if err := m.Unpack(r.answer(pkt, src)); err != nil {
			t.Fatal(err)
		}
		if m.Id != id {
			t.Fatalf("id %d, want %d", m.Id, id)
		}
		return &m
	}
	site := "shop.example.com." + testZone
	hb := func(region, addr string) {
		subj, body := beat(t, region, region+"-a", addr, true)
		s.HandleHeartbeat(subj, body)
	}
	hb("ams3", "") // healthy, static addresses
	first := ask(site, 1, "10.2.0.0/24")
	if got := addrs(first); !slices.Equal(got, []string{"192.0.2.2"}) {
		t.Fatalf("first answer %v", got)
	}
	if len(r.cache.m) != 1 {
		t.Fatalf("%d cache entries", len(r.cache.m))
	}
	again := ask(site, 2, "10.2.0.0/24")
	if !slices.Equal(addrs(again), addrs(first)) || scope(again) != 24 {
		t.Fatalf("cached answer %v", again)
	}
	// Another subnet is another entry.
	if got := addrs(ask(site, 3, "10.1.0.0/24")); len(got) != 1 || got[0] != "192.0.2.2" {
		t.Fatalf("10.1 with only ams3 healthy: %v", got)
	}
	// A health change is seen at once, cache or not.
	hb("nyc3", "")
	if got := addrs(ask(site, 4, "10.1.0.0/24")); !slices.Equal(got, []string{"192.0.2.1"}) {
		t.Fatalf("after nyc3 came up: %v", got)
	}
	// So is a catalog change.
	name := "new.example.com." + testZone
	if m := ask(name, 5, ""); m.Rcode != dns.RcodeNameError {
		t.Fatalf("before: %v", m.Rcode)
	}
	cat.Replace("sites", map[string][]byte{"new.example.com": siteJSON(t, "new.example.com"), "shop.example.com": siteJSON(t, "shop.example.com")})
	if m := ask(name, 6, ""); m.Rcode != dns.RcodeSuccess {
		t.Fatalf("after: %v", m.Rcode)
	}
	// And expiry: past the window the region is withdrawn.
	s.st.Store(s.health.compute(time.Now().Add(11 * time.Second)))
	if got := addrs(ask(site, 7, "10.2.0.0/24")); len(got) != 3 {
		t.Fatalf("all silent, fail open: %v", got)
	}
	// Bounded: a flood of distinct queries never grows it past the limit.
	q := query(site, dns.TypeA, "", false)
	pkt, _ := q.Pack()
	for i := range 3 * cacheMaxEntries {
		r.answer(pkt, netip.AddrFrom4([4]byte{10, 200, byte(i >> 8), byte(i)}))
		if len(r.cache.m) > cacheMaxEntries {
			t.Fatalf("%d entries", len(r.cache.m))
		}
	}
	if len(r.cache.m) > cacheMaxEntries {
		t.Fatalf("%d entries", len(r.cache.m))
	}
}
