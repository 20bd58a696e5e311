package realip

import (
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	r, err := New([]string{"10.0.0.0/8", "192.0.2.1", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, peer string
		xff        []string
		ip, chain  string
	}{
		{"untrusted peer, no header", "198.51.100.9:5000", nil, "198.51.100.9", "198.51.100.9"},
		{"untrusted peer's header is ignored", "198.51.100.9:5000", []string{"1.2.3.4"}, "198.51.100.9", "198.51.100.9"},
		{"trusted peer, one hop", "10.1.2.3:443", []string{"203.0.113.7"}, "203.0.113.7", "203.0.113.7, 10.1.2.3"},
		{"right-most untrusted wins, spoofed left part dropped", "10.1.2.3:443", []string{"6.6.6.6, 203.0.113.7, 10.9.9.9"},
			"203.0.113.7", "203.0.113.7, 10.9.9.9, 10.1.2.3"},
		{"several header lines", "10.1.2.3:443", []string{"6.6.6.6", "203.0.113.7,192.0.2.1"}, "203.0.113.7", "203.0.113.7,192.0.2.1, 10.1.2.3"},
		{"all trusted: the left-most", "10.1.2.3:443", []string{"10.0.0.5, 10.0.0.6"}, "10.0.0.5", "10.0.0.5, 10.0.0.6, 10.1.2.3"},
		{"garbage stops the walk", "10.1.2.3:443", []string{"6.6.6.6, nonsense"}, "10.1.2.3", "10.1.2.3"},
		{"garbage after a trusted hop", "10.1.2.3:443", []string{"<script>, 10.0.0.7"}, "10.0.0.7", "10.0.0.7, 10.1.2.3"},
		{"entry with port", "10.1.2.3:443", []string{"203.0.113.7:5555"}, "203.0.113.7", "203.0.113.7:5555, 10.1.2.3"},
		{"ipv6 peer and client", "[2001:db8::1]:443", []string{"[2001:db8:ffff::1]:1, 2a00::5"}, "2a00::5", "2a00::5, 2001:db8::1"},
		{"4in6 peer", "[::ffff:10.0.0.1]:443", []string{"203.0.113.7"}, "203.0.113.7", "203.0.113.7, 10.0.0.1"},
		{"empty entry", "10.1.2.3:443", []string{""}, "10.1.2.3", "10.1.2.3"},
		{"unparseable peer", "@pipe", []string{"1.2.3.4"}, "@pipe", "@pipe"},
	}
	for _, c := range cases {
		got := r.Resolve(c.peer, c.xff)
		if got.IP != c.ip || got.Chain != c.chain {
			t.Errorf("%s: got ip %q chain %q, want %q %q", c.name, got.IP, got.Chain, c.ip, c.chain)
		}
		if got.Addr.IsValid() && got.Addr.String() != got.IP {
			t.Errorf("%s: addr %v does not match ip %q", c.name, got.Addr, got.IP)
		}
	}
}

func TestNilResolverTrustsNoOne(t *testing.T) {
	var r *Resolver
	if got := r.Resolve("10.1.2.3:1", []string{"203.0.113.7"}); got.IP != "10.1.2.3" {
		t.Fatalf("got %+v", got)
	}
}

func TestHopsAreBounded(t *testing.T) {
	r, _ := New([]string{"10.0.0.0/8"})
	long := strings.Repeat("10.0.0.1, ", 1000) + "10.0.0.2"
	got := r.Resolve("10.1.1.1:1", []string{long})
	if got.IP != "10.0.0.1" || strings.Count(got.Chain, ",") > maxHops+1 {
		t.Fatalf("got ip %q, %d chain entries", got.IP, strings.Count(got.Chain, ",")+1)
	}
}

func TestNewNamesBadEntry(t *testing.T) {
	if _, err := New([]string{"10.0.0.0/8", "10.0.0.0/99"}); err == nil || !strings.HasPrefix(err.Error(), "[1]: ") {
		t.Fatalf("got %v", err)
	}
}

func TestResolveUntrustedDoesNotAllocate(t *testing.T) {
	r, _ := New([]string{"10.0.0.0/8"})
	xff := []string{"1.2.3.4"}
	if n := testing.AllocsPerRun(100, func() { r.Resolve("198.51.100.9:5000", xff) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}
