package kvsync

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/catalog"
	"github.com/rampart-edge/rampart/edgeagent/challenge"
	"github.com/rampart-edge/rampart/edgeagent/internal/natstest"
	"github.com/rampart-edge/rampart/edgeagent/internal/poll"
)

func startNATS(t *testing.T) *server.Server { return natstest.Start(t) }

func eventually(t *testing.T, what string, cond func() bool) { t.Helper(); poll.Until(t, what, cond) }

func siteValue(host, origin string) []byte {
	b, _ := json.Marshal(api.Site{V: api.Version, Hostname: host, Origins: []api.Origin{{URL: origin}}})
	return b
}

func TestSyncFollowsRegionBuckets(t *testing.T) {
	s := startNATS(t)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	kvs := map[catalog.Kind]jetstream.KeyValue{}
	for _, k := range []catalog.Kind{catalog.KindSite, catalog.KindCert} {
		kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: api.RegionBucket(string(k), "ams3"), Storage: jetstream.MemoryStorage})
		if err != nil {
			t.Fatal(err)
		}
		kvs[k] = kv
	}
	sites := kvs[catalog.KindSite]
	sites.Put(ctx, "a.example.com", siteValue("a.example.com", "http://o1.example.net"))
	sites.Put(ctx, "gone.example.com", siteValue("gone.example.com", "http://o1.example.net"))
	sites.Delete(ctx, "gone.example.com")
	sites.Put(ctx, "bad.example.com", []byte(`{"v":1,"hostname":"bad.example.com"}`)) // invalid: no origins

	cat := catalog.New(nil, nil)
	sy := New(Config{Conn: nc, Region: "ams3", Catalog: cat, Log: slog.New(slog.NewTextHandler(os.Stderr, nil)), Retry: 50 * time.Millisecond})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { sy.Run(runCtx); close(done) }()
	defer func() { cancel(); <-done }()

	eventually(t, "initial sync", sy.Synced)
	snap := cat.Load()
	if snap.Site("a.example.com") == nil || snap.Site("gone.example.com") != nil || snap.Site("bad.example.com") != nil {
		t.Fatalf("after initial sync: %v", snap.Hostnames())
	}

	sites.Put(ctx, "a.example.com", siteValue("a.example.com", "http://o2.example.net"))
	eventually(t, "origin change", func() bool {
		s := cat.Load().Site("a.example.com")
		return s != nil && s.Origins[0].Addr == "o2.example.net:80"
	})
	// An invalid update keeps the last good version.
	sites.Put(ctx, "a.example.com", []byte(`{"v":1,"hostname":"a.example.com","origins":[{"url":"ftp://x"}]}`))
	sites.Put(ctx, "b.example.com", siteValue("b.example.com", "http://o3.example.net"))
	eventually(t, "b added", func() bool { return cat.Load().Site("b.example.com") != nil })
	if s := cat.Load().Site("a.example.com"); s == nil || s.Origins[0].Addr != "o2.example.net:80" {
		t.Fatalf("invalid update replaced the good site: %+v", s)
	}
	sites.Delete(ctx, "a.example.com")
	eventually(t, "delete", func() bool { return cat.Load().Site("a.example.com") == nil })
}

func TestSyncWaitsForBucket(t *testing.T) {
	s := startNATS(t)
	nc, _ := nats.Connect(s.ClientURL())
	defer nc.Close()
	cat := catalog.New(nil, nil)
	sy := New(Config{Conn: nc, Region: "syd1", Catalog: cat, Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})), Retry: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sy.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	js, _ := jetstream.New(nc)
	for _, b := range []string{api.BucketSites, api.BucketCerts} {
		kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: api.RegionBucket(b, "syd1"), Storage: jetstream.MemoryStorage})
		if err != nil {
			t.Fatal(err)
		}
		if b == api.BucketSites {
			kv.Put(ctx, "late.example.com", siteValue("late.example.com", "http://o.example.net"))
		}
	}
	eventually(t, "sync after the buckets appear", func() bool { return sy.Synced() && cat.Load().Site("late.example.com") != nil })
}

// regionBuckets connects to a new server holding region's copy of every
// bucket (in memory); the connection closes with the test.
func regionBuckets(t *testing.T, region string) (*nats.Conn, map[string]jetstream.KeyValue) {
	t.Helper()
	s := startNATS(t)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	kvs := map[string]jetstream.KeyValue{}
	for _, b := range api.Buckets {
		kv, err := js.CreateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: api.RegionBucket(b, region), Storage: jetstream.MemoryStorage})
		if err != nil {
			t.Fatal(err)
		}
		kvs[b] = kv
	}
	return nc, kvs
}

func TestSyncFollowsACMEBucket(t *testing.T) {
	nc, kvs := regionBuckets(t, "ams3")
	ctx := context.Background()
	acme := kvs[api.BucketACME]
	acme.Put(ctx, "old-token", []byte("old-token.key"))
	acme.Put(ctx, "gone-token", []byte("gone-token.key"))
	acme.Delete(ctx, "gone-token")

	store := challenge.NewStore()
	sy := New(Config{Conn: nc, Region: "ams3", Catalog: catalog.New(nil, nil), Challenges: store,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})), Retry: 20 * time.Millisecond})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { sy.Run(runCtx); close(done) }()
	defer func() { cancel(); <-done }()

	eventually(t, "initial acme sync", sy.ChallengesSynced)
	if v, ok := store.KeyAuth("old-token"); !ok || v != "old-token.key" {
		t.Fatalf("old-token: %q %v", v, ok)
	}
	if _, ok := store.KeyAuth("gone-token"); ok {
		t.Fatal("a deleted token was loaded")
	}
	acme.Put(ctx, "new-token", []byte("new-token.key"))
	eventually(t, "new token", func() bool { v, _ := store.KeyAuth("new-token"); return v == "new-token.key" })
	acme.Delete(ctx, "old-token")
	eventually(t, "token deleted", func() bool { _, ok := store.KeyAuth("old-token"); return !ok })
}
