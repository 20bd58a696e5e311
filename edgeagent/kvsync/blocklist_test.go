package kvsync

import (
	"context"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/blocklist"
	"github.com/rampart-edge/rampart/edgeagent/catalog"
)

func TestSyncFollowsBlocklistBucket(t *testing.T) {
	nc, kvs := regionBuckets(t, "ams3")
	ctx := context.Background()
	bl := kvs[api.BucketBlocklist]
	bl.Put(ctx, api.BlocklistKey, []byte(`{"v":1,"entries":[{"cidr":"198.51.100.0/24"}]}`))

	list := &blocklist.List{}
	feed, err := blocklist.NewFeed(blocklist.FeedConfig{List: list, Static: []string{"192.0.2.1"}})
	if err != nil {
		t.Fatal(err)
	}
	sy := New(Config{Conn: nc, Region: "ams3", Catalog: catalog.New(nil, nil), Blocklist: feed,
		Log: slog.New(slog.DiscardHandler), Retry: 20 * time.Millisecond})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { sy.Run(runCtx); close(done) }()
	defer func() { cancel(); <-done }()

	is := func(addr string) bool { return list.Contains(netip.MustParseAddr(addr)) }
	eventually(t, "initial blocklist sync", sy.BlocklistSynced)
	if !is("198.51.100.9") || !is("192.0.2.1") || is("203.0.113.1") {
		t.Fatal("initial list not applied")
	}
	bl.Put(ctx, api.BlocklistKey, []byte(`{"v":1,"entries":[{"cidr":"203.0.113.0/24","reason":"abuse"}]}`))
	eventually(t, "list replaced", func() bool { return is("203.0.113.1") && !is("198.51.100.9") })
	// An invalid document keeps the last good list; another key is ignored.
	bl.Put(ctx, api.BlocklistKey, []byte(`{"v":1,"entries":[{"cidr":"10.0.0.1/8"}]}`))
	bl.Put(ctx, "other", []byte(`{"v":1,"entries":[{"cidr":"10.0.0.0/8"}]}`))
	bl.Put(ctx, api.BlocklistKey, []byte(`{"v":1,"entries":[{"cidr":"203.0.113.0/24"},{"cidr":"2001:db8::/32"}]}`))
	eventually(t, "next good list", func() bool { return is("2001:db8::1") })
	if is("10.1.1.1") {
		t.Fatal("an invalid document or another key was applied")
	}
	bl.Delete(ctx, api.BlocklistKey)
	eventually(t, "list deleted", func() bool { return !is("203.0.113.1") })
	if !is("192.0.2.1") {
		t.Fatal("the configured networks went with the pushed list")
	}
}
