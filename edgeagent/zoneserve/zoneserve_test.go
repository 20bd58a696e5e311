package zoneserve

import (
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestAnswers(t *testing.T) {
	var rrs []dns.RR
	for _, s := range []string{
		"example.test. 3600 IN SOA ns1.example.test. h.example.test. 1 7200 3600 1209600 300",
		"www.example.test. 60 IN CNAME web.example.test.",
		"web.example.test. 60 IN A 192.0.2.1",
		"big.example.test. 60 IN TXT \"" + strings.Repeat("x", 250) + "\"",
	} {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		rrs = append(rrs, rr)
	}
	for i := range 6 { // more than 512 bytes of TXT
		rr, _ := dns.NewRR("big.example.test. 60 IN TXT \"" + strings.Repeat(string(rune('a'+i)), 250) + "\"")
		rrs = append(rrs, rr)
	}
	s := New(rrs)
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ask := func(network, name string, qtype uint16, edns bool) *dns.Msg {
		t.Helper()
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		if edns {
			m.SetEdns0(4096, false)
		}
		resp, _, err := (&dns.Client{Net: network, Timeout: 2 * time.Second}).Exchange(m, s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if r := ask("udp", "WWW.example.test.", dns.TypeA, false); len(r.Answer) != 2 || !r.Authoritative || r.Answer[1].(*dns.A).A.String() != "192.0.2.1" {
		t.Fatalf("CNAME chase: %v", r)
	}
	if r := ask("tcp", "web.example.test.", dns.TypeMX, false); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 || len(r.Ns) != 1 {
		t.Fatalf("NODATA: %v", r)
	}
	if r := ask("udp", "nope.example.test.", dns.TypeA, false); r.Rcode != dns.RcodeNameError || len(r.Ns) != 1 {
		t.Fatalf("NXDOMAIN: %v", r)
	}
	if r := ask("udp", "big.example.test.", dns.TypeTXT, false); !r.Truncated {
		t.Fatalf("a large UDP answer without EDNS must be truncated: %d answers", len(r.Answer))
	}
	if r := ask("tcp", "big.example.test.", dns.TypeTXT, false); r.Truncated || len(r.Answer) != 7 {
		t.Fatalf("TCP: tc=%v %d answers", r.Truncated, len(r.Answer))
	}
	if r := ask("udp", "big.example.test.", dns.TypeTXT, true); r.Truncated || len(r.Answer) != 7 {
		t.Fatalf("EDNS 4096: tc=%v %d answers", r.Truncated, len(r.Answer))
	}
}
