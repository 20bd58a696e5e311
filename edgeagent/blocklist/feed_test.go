package blocklist

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func doc(entries ...string) []byte {
	s := `{"v":1,"entries":[`
	for i, e := range entries {
		if i > 0 {
			s += ","
		}
		s += e
	}
	return []byte(s + `]}`)
}

func blocked(l *List, addr string) bool { return l.Contains(netip.MustParseAddr(addr)) }

func TestFeedAppliesPushedListOverStatic(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	l := &List{}
	path := filepath.Join(t.TempDir(), "blocklist.json")
	f, err := NewFeed(FeedConfig{List: l, Static: []string{"192.0.2.0/24"}, Path: path, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if !blocked(l, "192.0.2.9") || blocked(l, "198.51.100.1") {
		t.Fatal("static list not applied")
	}
	err = f.Apply(doc(`{"cidr":"198.51.100.0/24"}`,
		fmt.Sprintf(`{"cidr":"203.0.113.5","expires":%q}`, now.Add(-time.Second).Format(time.RFC3339)),
		fmt.Sprintf(`{"cidr":"2001:db8::/32","expires":%q}`, now.Add(time.Hour).Format(time.RFC3339))))
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{"192.0.2.9": true, "198.51.100.1": true, "::ffff:198.51.100.1": true,
		"203.0.113.5": false, "2001:db8::1": true, "2001:db9::1": false, "127.0.0.1": false} {
		if got := blocked(l, addr); got != want {
			t.Errorf("%s blocked %v, want %v", addr, got, want)
		}
	}
	if f.Pushed() != 3 {
		t.Errorf("pushed %d", f.Pushed())
	}
	// An invalid document changes nothing.
	if err := f.Apply([]byte(`{"v":1,"entries":[{"cidr":"nonsense"}]}`)); err == nil {
		t.Fatal("invalid document accepted")
	}
	if !blocked(l, "198.51.100.1") {
		t.Fatal("an invalid document dropped the list")
	}

	// A restart (NATS down) loads the kept document.
	l2 := &List{}
	f2, err := NewFeed(FeedConfig{List: l2, Path: path, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if blocked(l2, "198.51.100.1") {
		t.Fatal("blocked before Load")
	}
	if err := f2.Load(); err != nil {
		t.Fatal(err)
	}
	if !blocked(l2, "198.51.100.1") || blocked(l2, "192.0.2.9") {
		t.Fatal("the kept document was not applied alone")
	}

	// A deleted document leaves the static list, on disk too.
	if err := f.Apply(nil); err != nil {
		t.Fatal(err)
	}
	if blocked(l, "198.51.100.1") || !blocked(l, "192.0.2.9") {
		t.Fatal("after delete")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("kept document not removed: %v", err)
	}
}

func TestFeedRunDropsExpiredEntries(t *testing.T) {
	l := &List{}
	f, err := NewFeed(FeedConfig{List: l})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx) }()
	defer func() { cancel(); <-done }()
	exp := time.Now().Add(300 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	if err := f.Apply(doc(fmt.Sprintf(`{"cidr":"198.51.100.7","expires":%q}`, exp), `{"cidr":"198.51.100.8"}`)); err != nil {
		t.Fatal(err)
	}
	if !blocked(l, "198.51.100.7") {
		t.Fatal("not blocked before expiry")
	}
	deadline := time.Now().Add(10 * time.Second)
	for blocked(l, "198.51.100.7") {
		if time.Now().After(deadline) {
			t.Fatal("the expired entry is still blocked")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !blocked(l, "198.51.100.8") {
		t.Fatal("the entry without expiry was dropped")
	}
}
