package geodns

import (
	"net/netip"
	"testing"
	"time"
	"unsafe"
)

func TestRateLimiter(t *testing.T) {
	rl := newRateLimiter(RateLimit{PerSecond: 10, Burst: 5, Slip: 2, Exempt: []string{"192.0.2.0/24"}})
	now := time.Now().UnixNano()
	a := netip.MustParseAddr("198.51.100.7")
	sameNet := netip.MustParseAddr("198.51.100.200")
	other := netip.MustParseAddr("203.0.113.1")
	for i := range 5 {
		if v := rl.check(a, now); v != send {
			t.Fatalf("response %d of the burst: %v", i, v)
		}
	}
	var drops, slips int
	for range 10 {
		switch rl.check(sameNet, now) { // the same /24 shares the budget
		case send:
			t.Fatal("over the burst, still sending")
		case drop:
			drops++
		case slipTC:
			slips++
		}
	}
	if drops != 5 || slips != 5 {
		t.Errorf("slip 2: %d drops, %d truncated", drops, slips)
	}
	if v := rl.check(other, now); v != send {
		t.Errorf("another network is limited: %v", v)
	}
	// The steady rate refills: 10/s is one every 100ms.
	if v := rl.check(a, now+int64(100*time.Millisecond)); v != send {
		t.Errorf("after 100ms: %v", v)
	}
	if v := rl.check(a, now+int64(100*time.Millisecond)); v == send {
		t.Errorf("second response after 100ms sent")
	}
	for range 100 {
		if v := rl.check(netip.MustParseAddr("192.0.2.1"), now); v != send {
			t.Fatal("exempt network limited")
		}
	}
	v6 := netip.MustParseAddr("2001:db8:1:20::1")
	v6same := netip.MustParseAddr("2001:db8:1:ff::1") // same /56
	for range 5 {
		rl.check(v6, now)
	}
	if v := rl.check(v6same, now); v == send {
		t.Error("the same IPv6 /56 does not share the budget")
	}
	if newRateLimiter(RateLimit{Disabled: true}).check(a, now) != send {
		t.Error("a disabled limiter limits")
	}
}

func TestRateLimiterMemoryIsBounded(t *testing.T) {
	rl := newRateLimiter(RateLimit{})
	size := unsafe.Sizeof(*rl)
	now := time.Now().UnixNano()
	// A million spoofed networks: the table does not grow, and an honest
	// client keeps being answered when its cell is taken over.
	for i := range 1 << 20 {
		b := [4]byte{byte(i >> 16), byte(i >> 8), byte(i), 1}
		rl.check(netip.AddrFrom4(b), now)
	}
	if unsafe.Sizeof(*rl) != size || size > 2<<20 {
		t.Errorf("limiter is %d bytes", size)
	}
	if rl.check(netip.MustParseAddr("100.64.0.1"), now) != send {
		t.Error("a fresh client is limited")
	}
}
