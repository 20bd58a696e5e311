package geodns

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestAnswers(t *testing.T) {
	s := newTestServer(t, testConfig(), "shop.example.com", "www.example.org")
	site := "shop.example.com." + testZone
	cases := []struct {
		name    string
		q       *dns.Msg
		src     string
		rcode   int
		aa      bool
		answer  []string // addresses, or record types when no address
		authSOA bool
		scope   int
	}{
		{"SOA at the apex", query(testZone, dns.TypeSOA, "", false), "127.0.0.1", dns.RcodeSuccess, true, []string{"SOA"}, false, -1},
		{"NS at the apex", query(testZone, dns.TypeNS, "", false), "127.0.0.1", dns.RcodeSuccess, true, []string{"NS", "NS"}, false, -1},
		{"in-zone nameserver A (glue)", query("ns1."+testZone, dns.TypeA, "", false), "127.0.0.1", dns.RcodeSuccess, true, []string{"127.0.1.1"}, false, -1},
		{"in-zone nameserver AAAA", query("ns1."+testZone, dns.TypeAAAA, "", false), "127.0.0.1", dns.RcodeSuccess, true, []string{"::1"}, false, -1},
		{"site A by ECS: nyc3", query(site, dns.TypeA, "10.1.2.0/24", false), "127.0.0.1", dns.RcodeSuccess, true, []string{"192.0.2.1"}, false, 24},
		{"site A by ECS: ams3", query(site, dns.TypeA, "10.2.9.0/24", false), "127.0.0.1", dns.RcodeSuccess, true, []string{"192.0.2.2"}, false, 24},
		{"site A by ECS: syd1", query(site, dns.TypeA, "10.3.0.0/16", false), "127.0.0.1", dns.RcodeSuccess, true, []string{"192.0.2.3"}, false, 16},
		{"site A by resolver address, no ECS", query(site, dns.TypeA, "", true), "10.2.0.53", dns.RcodeSuccess, true, []string{"192.0.2.2"}, false, -1},
		{"ECS /0 means the resolver address", query(site, dns.TypeA, "0.0.0.0/0", false), "10.3.0.53", dns.RcodeSuccess, true, []string{"192.0.2.3"}, false, 0},
		{"a hidden region is not public", query(site, dns.TypeA, "10.4.0.0/24", false), "127.0.0.1", dns.RcodeSuccess, true, []string{"192.0.2.3"}, false, 24},
		{"unplaced client: default (first region)", query(site, dns.TypeA, "", false), "198.51.100.1", dns.RcodeSuccess, true, []string{"192.0.2.1"}, false, -1},
		{"site AAAA", query(site, dns.TypeAAAA, "10.1.0.0/24", false), "127.0.0.1", dns.RcodeSuccess, true, []string{"2001:db8::1"}, false, 24},
		{"site AAAA where the region has none: NODATA", query(site, dns.TypeAAAA, "10.2.0.0/24", false), "127.0.0.1", dns.RcodeSuccess, true, nil, true, 24},
		{"site MX: NODATA", query(site, dns.TypeMX, "", false), "127.0.0.1", dns.RcodeSuccess, true, nil, true, -1},
		{"name case is kept", query(strings.ToUpper(site), dns.TypeA, "", false), "10.1.0.1", dns.RcodeSuccess, true, []string{"192.0.2.1"}, false, -1},
		{"ANY is minimal (RFC 8482)", query(site, dns.TypeANY, "", false), "127.0.0.1", dns.RcodeSuccess, true, []string{"HINFO"}, false, -1},
		{"empty non-terminal: NODATA", query("example.com."+testZone, dns.TypeA, "", false), "127.0.0.1", dns.RcodeSuccess, true, nil, true, -1},
		{"unknown site: NXDOMAIN", query("nope.example.com."+testZone, dns.TypeA, "", false), "127.0.0.1", dns.RcodeNameError, true, nil, true, -1},
		{"out of zone: REFUSED, no recursion", query("shop.example.com.", dns.TypeA, "", false), "127.0.0.1", dns.RcodeRefused, false, nil, false, -1},
		{"zone transfer: REFUSED", query(testZone, dns.TypeAXFR, "", false), "127.0.0.1", dns.RcodeRefused, true, nil, false, -1},
		{"view by source address", query(site, dns.TypeA, "", false), "127.0.2.9", dns.RcodeSuccess, true, []string{"192.0.2.99"}, false, -1},
		{"view by ECS sets the scope", query(site, dns.TypeA, "10.99.1.0/24", false), "127.0.0.1", dns.RcodeSuccess, true, []string{"192.0.2.99"}, false, 24},
		{"view by source ignores ECS (scope 0)", query(site, dns.TypeA, "10.2.0.0/24", false), "127.0.2.9", dns.RcodeSuccess, true, []string{"192.0.2.99"}, false, 0},
		{"view with fixed addresses", query(site, dns.TypeA, "10.98.0.0/24", false), "127.0.0.1", dns.RcodeSuccess, true, []string{"203.0.113.7"}, false, 24},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := ask(t, s, c.q, c.src, true)
			if resp.Rcode != c.rcode || resp.Authoritative != c.aa || resp.RecursionAvailable {
				t.Fatalf("rcode %s aa %v ra %v, want %s aa %v", dns.RcodeToString[resp.Rcode], resp.Authoritative, resp.RecursionAvailable, dns.RcodeToString[c.rcode], c.aa)
			}
			got := addrs(resp)
			if len(got) == 0 {
				for _, rr := range resp.Answer {
					got = append(got, dns.TypeToString[rr.Header().Rrtype])
				}
			}
			if !slices.Equal(got, c.answer) {
				t.Errorf("answer %v, want %v", got, c.answer)
			}
			for _, rr := range resp.Answer {
				if rr.Header().Name != c.q.Question[0].Name {
					t.Errorf("owner %q, want the query's %q", rr.Header().Name, c.q.Question[0].Name)
				}
			}
			if hasSOA := len(resp.Ns) == 1 && resp.Ns[0].Header().Rrtype == dns.TypeSOA; hasSOA != c.authSOA {
				t.Errorf("authority %v, want SOA: %v", resp.Ns, c.authSOA)
			}
			if got := scope(resp); got != c.scope {
				t.Errorf("ECS scope %d, want %d", got, c.scope)
			}
		})
	}
}

func TestAnswerDetails(t *testing.T) {
	s := newTestServer(t, testConfig(), "shop.example.com")
	site := "shop.example.com." + testZone

	resp := ask(t, s, query(site, dns.TypeA, "", false), "10.1.0.1", true)
	if ttl := resp.Answer[0].Header().Ttl; ttl != 20 {
		t.Errorf("edge answer TTL %d, want the short default 20", ttl)
	}
	resp = ask(t, s, query(testZone, dns.TypeNS, "", false), "127.0.0.1", true)
	if len(resp.Extra) != 2 || addrs(&dns.Msg{Answer: resp.Extra})[0] != "127.0.1.1" {
		t.Errorf("NS answer glue %v", resp.Extra)
	}
	resp = ask(t, s, query("nope."+testZone, dns.TypeA, "", false), "127.0.0.1", true)
	soa := resp.Ns[0].(*dns.SOA)
	if soa.Ns != "ns1."+testZone || soa.Mbox != "hostmaster."+testZone || soa.Minttl != 60 {
		t.Errorf("SOA %v", soa)
	}

	// EDNS: the OPT comes back with our buffer size and the DO bit.
	q := query(site, dns.TypeA, "", true)
	q.IsEdns0().SetDo()
	resp = ask(t, s, q, "127.0.0.1", true)
	if o := resp.IsEdns0(); o == nil || o.UDPSize() != 1232 || !o.Do() {
		t.Errorf("OPT %v", resp.IsEdns0())
	}
	q = query(site, dns.TypeA, "", true)
	q.IsEdns0().SetVersion(1)
	if resp = ask(t, s, q, "127.0.0.1", true); resp.Rcode != dns.RcodeBadVers {
		t.Errorf("EDNS version 1: %s, want BADVERS", dns.RcodeToString[resp.Rcode])
	}
	q = query(testZone, dns.TypeSOA, "", false)
	q.Opcode = dns.OpcodeNotify
	if resp = ask(t, s, q, "127.0.0.1", true); resp.Rcode != dns.RcodeNotImplemented {
		t.Errorf("NOTIFY: %s, want NOTIMP", dns.RcodeToString[resp.Rcode])
	}
	q = query(testZone, dns.TypeSOA, "", false)
	q.Question[0].Qclass = dns.ClassCHAOS
	if resp = ask(t, s, q, "127.0.0.1", true); resp.Rcode != dns.RcodeRefused {
		t.Errorf("CHAOS: %s, want REFUSED", dns.RcodeToString[resp.Rcode])
	}
	q = query(testZone, dns.TypeSOA, "", false)
	q.Question = append(q.Question, q.Question[0])
	if resp = ask(t, s, q, "127.0.0.1", true); resp.Rcode != dns.RcodeFormatError {
		t.Errorf("two questions: %s, want FORMERR", dns.RcodeToString[resp.Rcode])
	}
	// A response is never answered; a short packet neither.
	q = query(testZone, dns.TypeSOA, "", false)
	q.Response = true
	pkt, _ := q.Pack()
	if out := s.newResponder().handle(pkt, netipAddr("127.0.0.1"), true); out != nil {
		t.Errorf("answered a response")
	}
	if out := s.newResponder().handle(pkt[:11], netipAddr("127.0.0.1"), true); out != nil {
		t.Errorf("answered a short packet")
	}
	// Garbage after a valid header: a bare FORMERR no larger than the query.
	junk := append([]byte{0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}, 0xff, 0xff)
	out := s.newResponder().handle(junk, netipAddr("127.0.0.1"), true)
	var m dns.Msg
	if out == nil || len(out) > len(junk) || m.Unpack(out) != nil || m.Rcode != dns.RcodeFormatError || m.Id != 0xbeef || !m.Response {
		t.Errorf("junk: %x (%v)", out, m.MsgHdr)
	}
}

func TestTruncationAndTCP(t *testing.T) {
	cfg := testConfig()
	for i := range 60 {
		cfg.Regions[0].Addrs = append(cfg.Regions[0].Addrs, fmt.Sprintf("198.18.0.%d", i+1))
	}
	s := newTestServer(t, cfg, "shop.example.com")
	site := "shop.example.com." + testZone
	q := query(site, dns.TypeA, "", false)
	pkt, _ := q.Pack()
	out := s.newResponder().handle(pkt, netipAddr("10.1.0.1"), true)
	if len(out) > 512 {
		t.Fatalf("UDP answer of %d bytes to a client without EDNS", len(out))
	}
	resp := ask(t, s, q, "10.1.0.1", true)
	if !resp.Truncated || len(resp.Answer) >= 61 {
		t.Errorf("UDP: TC %v with %d answers", resp.Truncated, len(resp.Answer))
	}
	resp = ask(t, s, query(site, dns.TypeA, "", true), "10.1.0.1", true)
	if resp.Truncated || len(resp.Answer) != 61 {
		t.Errorf("UDP with EDNS 1232: TC %v with %d answers", resp.Truncated, len(resp.Answer))
	}
	resp = ask(t, s, q, "10.1.0.1", false)
	if resp.Truncated || len(resp.Answer) != 61 {
		t.Errorf("TCP: TC %v with %d answers", resp.Truncated, len(resp.Answer))
	}
}

func TestCatalogChangesAreServed(t *testing.T) {
	cfg := testConfig()
	cat := testCatalog(t, "shop.example.com")
	s, err := New(cfg, cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	name := "new.example.com." + testZone
	if resp := ask(t, s, query(name, dns.TypeA, "", false), "10.1.0.1", true); resp.Rcode != dns.RcodeNameError {
		t.Fatalf("before: %s", dns.RcodeToString[resp.Rcode])
	}
	cat.Replace("sites", map[string][]byte{"new.example.com": siteJSON(t, "new.example.com")})
	if resp := ask(t, s, query(name, dns.TypeA, "", false), "10.1.0.1", true); resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 {
		t.Fatalf("after: %v", resp)
	}
	if resp := ask(t, s, query("shop.example.com."+testZone, dns.TypeA, "", false), "10.1.0.1", true); resp.Rcode != dns.RcodeNameError {
		t.Fatalf("removed site: %s", dns.RcodeToString[resp.Rcode])
	}
}

func TestHealthFromHeartbeats(t *testing.T) {
	cfg := testConfig()
	cfg.Health = ""
	cfg.Window = Duration(10 * time.Second)
	for i := range cfg.Regions {
		cfg.Regions[i].Addrs = nil // addresses from heartbeats
	}
	s := newTestServer(t, cfg, "shop.example.com")
	site := "shop.example.com." + testZone
	t0 := time.Now()
	at := func(d time.Duration) { s.st.Store(s.health.compute(t0.Add(d))) }
	hear := func(d time.Duration, region, node, addr string, healthy bool) {
		subj, body := beat(t, region, node, addr, healthy)
		if !s.health.observe(subj, body, t0.Add(d)) {
			t.Fatalf("heartbeat %s ignored", subj)
		}
		at(d)
	}
	answer := func(subnet string) []string {
		return addrs(ask(t, s, query(site, dns.TypeA, subnet, false), "127.0.0.1", true))
	}

	// Nothing heard yet: nothing to answer with.
	if got := answer("10.2.0.0/24"); len(got) != 0 {
		t.Fatalf("before any heartbeat: %v", got)
	}
	hear(0, "nyc3", "nyc3-a", "127.0.1.1:8443", true)
	hear(0, "ams3", "ams3-a", "127.0.1.2:8443", true)
	hear(0, "ams3", "ams3-b", "[::ffff:127.0.1.22]:8443", true)
	hear(0, "syd1", "syd1-a", "0.0.0.0:8443", true) // no usable address
	if got := answer("10.2.0.0/24"); !slices.Equal(got, []string{"127.0.1.2", "127.0.1.22"}) {
		t.Fatalf("ams3 client: %v", got)
	}
	if got := s.Healthy(); !slices.Equal(got, []string{"nyc3", "ams3"}) {
		t.Errorf("healthy %v (syd1 has no address)", got)
	}
	// ams3-b reports unhealthy: withdrawn at once.
	hear(time.Second, "ams3", "ams3-b", "127.0.1.22:8443", false)
	if got := answer("10.2.0.0/24"); !slices.Equal(got, []string{"127.0.1.2"}) {
		t.Fatalf("after ams3-b unhealthy: %v", got)
	}
	// ams3-a falls silent: past the window the client goes to its next
	// preference, nyc3; nyc3 kept beating.
	hear(8*time.Second, "nyc3", "nyc3-a", "127.0.1.1:8443", true)
	at(10*time.Second + time.Millisecond)
	if got := answer("10.2.0.0/24"); !slices.Equal(got, []string{"127.0.1.1"}) {
		t.Fatalf("ams3 silent: %v", got)
	}
	// syd1's client has no healthy preference left: every healthy region.
	hear(9*time.Second, "syd1", "syd1-a", "127.0.1.3:8443", false)
	at(10*time.Second + time.Millisecond)
	if got := answer("10.3.0.0/24"); !slices.Equal(got, []string{"127.0.1.1"}) {
		t.Fatalf("syd1 down: %v", got)
	}
	// Everything silent: fail open with every known address.
	at(19 * time.Second)
	if got := answer("10.3.0.0/24"); len(got) != 4 {
		t.Fatalf("all down: %v", got)
	}
	// ams3-a comes back.
	hear(20*time.Second, "ams3", "ams3-a", "127.0.1.2:8443", true)
	if got := answer("10.2.0.0/24"); !slices.Equal(got, []string{"127.0.1.2"}) {
		t.Fatalf("ams3 back: %v", got)
	}

	// Beats that do not match their subject, or are for unknown regions,
	// or are not heartbeats, are ignored.
	subj, body := beat(t, "nyc3", "nyc3-x", "127.0.9.9:1", true)
	for _, c := range []struct{ subj, body string }{
		{"edge.hb.ams3.nyc3-x", string(body)},
		{"edge.hb.lon1.lon1-a", string(body)},
		{subj, "{"},
		{subj, `{"v":2,"region":"nyc3","node":"nyc3-x","healthy":true}`},
		{"edge.hb.nyc3", string(body)},
	} {
		if s.health.observe(c.subj, []byte(c.body), t0) {
			t.Errorf("accepted %s %s", c.subj, c.body)
		}
	}
}

func TestConfigValidateNamesTheField(t *testing.T) {
	cases := []struct {
		field string
		edit  func(*Config)
	}{
		{"addr", func(c *Config) { c.Addr = "nope" }},
		{"zone", func(c *Config) { c.Zone = "" }},
		{"nameservers", func(c *Config) { c.Nameservers = nil }},
		{"nameservers[0].addrs", func(c *Config) { c.Nameservers[0].Addrs = nil }},
		{"nameservers[1].addrs", func(c *Config) { c.Nameservers[1].Addrs = []string{"x"} }},
		{"regions", func(c *Config) { c.Regions = nil }},
		{"regions[1].name", func(c *Config) { c.Regions[1].Name = "Bad" }},
		{"regions[2].name", func(c *Config) { c.Regions[2].Name = "nyc3" }},
		{"regions[0].addrs", func(c *Config) { c.Regions[0].Addrs = []string{"1.2.3"} }},
		{"regions[1].addrs", func(c *Config) { c.Regions[1].Addrs = nil }}, // static health needs them
		{"health", func(c *Config) { c.Health = "ping" }},
		{"window", func(c *Config) { c.Window = -1 }},
		{"routes[0].cidr", func(c *Config) { c.Routes[0].CIDR = "10.1.0.0" }},
		{"routes[1].regions[0]", func(c *Config) { c.Routes[1].Regions = []string{"lon1"} }},
		{"countries", func(c *Config) { c.Countries = map[string][]string{"usa": {"nyc3"}} }},
		{"continents.EU[0]", func(c *Config) { c.Continents = map[string][]string{"EU": {"fra1"}} }},
		{"default[0]", func(c *Config) { c.Default = []string{"fra1"} }},
		{"views[0].sources[1]", func(c *Config) { c.Views[0].Sources[1] = "x" }},
		{"views[1]", func(c *Config) { c.Views[1].Addrs = nil }},
		{"rate_limit.exempt[0]", func(c *Config) { c.RateLimit.Exempt = []string{"x"} }},
		{"udp_size", func(c *Config) { c.UDPSize = 100 }},
	}
	for _, c := range cases {
		cfg := testConfig()
		c.edit(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), c.field+":") {
			t.Errorf("%s: got %v", c.field, err)
		}
	}
	cfg := testConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}
