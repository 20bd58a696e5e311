package blocklist

import (
	"net/netip"
	"strings"
	"testing"
)

func TestList(t *testing.T) {
	l, err := New([]string{"198.51.100.0/24", "2001:db8::/32", "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	for s, want := range map[string]bool{"198.51.100.9": true, "198.51.101.1": false, "2001:db8::1": true,
		"::ffff:192.0.2.7": true, "192.0.2.8": false} {
		if got := l.Contains(netip.MustParseAddr(s)); got != want {
			t.Errorf("%s: %v", s, got)
		}
	}
	if err := l.Set([]string{"10.0.0.0/8", "bad"}); err == nil || !strings.HasPrefix(err.Error(), "[1]:") {
		t.Fatalf("bad entry: %v", err)
	}
	if l.Len() != 3 {
		t.Fatal("a failed Set changed the list")
	}
	l.Set(nil)
	if l.Contains(netip.MustParseAddr("198.51.100.9")) {
		t.Fatal("emptied list still blocks")
	}
	var zero List
	if zero.Contains(netip.MustParseAddr("198.51.100.9")) {
		t.Fatal("the zero list blocks")
	}
}
