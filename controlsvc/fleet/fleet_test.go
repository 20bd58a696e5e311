package fleet

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/controlsvc/internal/natstest"
)

func TestTrackerFromNATS(t *testing.T) {
	s := natstest.Start(t)
	nc, _ := natstest.Connect(t, s)
	tr := New()
	if err := tr.Start(nc); err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	pub := func(subject string, hb api.Heartbeat) {
		t.Helper()
		b, _ := json.Marshal(hb)
		if err := nc.Publish(subject, b); err != nil {
			t.Fatal(err)
		}
	}
	// The subject names the node; a body claiming another region is not believed.
	pub(api.HeartbeatSubject("ams3", "ams3-edge1"), api.Heartbeat{V: 1, Region: "nyc3", Node: "liar", Version: "1.2.3", Healthy: true, InFlight: 7})
	pub(api.HeartbeatSubject("nyc3", "nyc3-edge1"), api.Heartbeat{V: 1, Version: "1.2.3", Healthy: true,
		SiteCache: map[string]api.CacheCounters{"a.test": {Hits: 3, Misses: 1}}})
	pub("edge.hb.bad", api.Heartbeat{V: 1}) // not region.node: ignored
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(tr.Live(time.Minute)) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("heartbeats not seen: %+v", tr.Edges(time.Minute))
		}
		time.Sleep(10 * time.Millisecond)
	}
	live := tr.Live(time.Minute)
	if len(live) != 2 || live[0].Region != "ams3" || live[0].Node != "ams3-edge1" || live[0].InFlight != 7 || live[1].Region != "nyc3" {
		t.Fatalf("live = %+v", live)
	}
	if c := tr.SiteCache("a.test", time.Minute); c.Hits != 3 || c.Misses != 1 || c.HitRatio() != 0.75 {
		t.Fatalf("site cache = %+v", c)
	}
}

func TestStaleAndForgotten(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tr := New()
	tr.now = func() time.Time { return now }
	tr.Observe(api.Heartbeat{Region: "nyc3", Node: "a"})
	now = now.Add(20 * time.Second)
	tr.Observe(api.Heartbeat{Region: "nyc3", Node: "b"})

	edges := tr.Edges(15 * time.Second)
	if len(edges) != 2 || !edges[0].Stale || edges[1].Stale {
		t.Fatalf("edges = %+v", edges)
	}
	if live := tr.Live(15 * time.Second); len(live) != 1 || live[0].Node != "b" {
		t.Fatalf("live = %+v", live)
	}
	now = now.Add(forgetAfter + time.Second)
	if edges := tr.Edges(time.Second); len(edges) != 0 {
		t.Fatalf("a node silent for a day is still listed: %+v", edges)
	}
}

func TestMaxNodes(t *testing.T) {
	tr := New()
	for i := range MaxNodes + 10 {
		tr.Observe(api.Heartbeat{Region: "r", Node: string(rune('a'+i%26)) + time.Duration(i).String()})
	}
	if n := len(tr.Edges(time.Hour)); n != MaxNodes {
		t.Fatalf("%d nodes kept, want the cap %d", n, MaxNodes)
	}
}
