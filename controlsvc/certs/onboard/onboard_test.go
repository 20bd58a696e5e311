package onboard

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// zone answers a few customer names the way their DNS would.
func zone(t *testing.T) string {
	t.Helper()
	a := func(name, ip string) dns.RR {
		return &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP(ip).To4()}
	}
	records := map[string][]dns.RR{
		"cname.example.": {&dns.CNAME{Hdr: dns.RR_Header{Name: "cname.example.", Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 60}, Target: "cname.example.edge.test."},
			a("cname.example.edge.test.", "203.0.113.10")},
		"wrongcname.example.": {&dns.CNAME{Hdr: dns.RR_Header{Name: "wrongcname.example.", Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 60}, Target: "lb.other.example."},
			a("lb.other.example.", "198.51.100.1")},
		"apex.example.":      {a("apex.example.", "203.0.113.10"), a("apex.example.", "203.0.113.11")},
		"mixed.example.":     {a("mixed.example.", "203.0.113.10"), a("mixed.example.", "198.51.100.1")},
		"elsewhere.example.": {a("elsewhere.example.", "198.51.100.1")},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	srv := &dns.Server{Listener: ln, NotifyStartedFunc: func() { close(started) }, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		q := r.Question[0]
		rrs, ok := records[strings.ToLower(q.Name)]
		if !ok {
			m.Rcode = dns.RcodeNameError
		}
		for _, rr := range rrs {
			if rr.Header().Rrtype == q.Qtype || rr.Header().Rrtype == dns.TypeCNAME || (q.Qtype == dns.TypeA && rr.Header().Name != q.Name) {
				m.Answer = append(m.Answer, rr)
			}
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return ln.Addr().String()
}

func TestCheck(t *testing.T) {
	c, err := New(Config{EdgeZone: "edge.test.", Resolver: zone(t),
		EdgeIPs: []netip.Addr{netip.MustParseAddr("203.0.113.10"), netip.MustParseAddr("203.0.113.11")}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct {
		host  string
		found string // "" : points at the edge
	}{
		{"cname.example", ""},
		{"apex.example", ""},
		{"wrongcname.example", "198.51.100.1"},
		{"mixed.example", "203.0.113.10, 198.51.100.1"},
		{"elsewhere.example", "198.51.100.1"},
		{"nothing.example", "-"},
	} {
		err := c.Check(ctx, tc.host)
		if tc.found == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.host, err)
			}
			continue
		}
		var np *NotPointedError
		if !errors.As(err, &np) {
			t.Errorf("%s: %v, want a NotPointedError", tc.host, err)
			continue
		}
		want := `"` + tc.host + `. CNAME ` + tc.host + `.edge.test."`
		if !strings.Contains(np.Error(), want) || !strings.Contains(np.Error(), "203.0.113.10, 203.0.113.11") {
			t.Errorf("%s: %q does not name the record to add", tc.host, np.Error())
		}
		if tc.found != "-" && np.Found != tc.found {
			t.Errorf("%s: found %q, want %q", tc.host, np.Found, tc.found)
		}
		if tc.found == "-" && !strings.Contains(np.Error(), "does not resolve") {
			t.Errorf("%s: %q", tc.host, np.Error())
		}
	}
}
