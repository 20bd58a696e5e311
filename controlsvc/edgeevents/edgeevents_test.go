package edgeevents

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/controlsvc/internal/natstest"
)

func TestRingNewestFirst(t *testing.T) {
	r := New(3)
	if got := r.Recent("a.test", 0); len(got) != 0 {
		t.Fatalf("empty site: %+v", got)
	}
	for i := 1; i <= 5; i++ {
		r.Add(api.Event{Site: "a.test", Status: i})
	}
	r.Add(api.Event{Site: "b.test", Status: 99})
	cases := []struct {
		limit int
		want  []int
	}{{0, []int{5, 4, 3}}, {2, []int{5, 4}}, {10, []int{5, 4, 3}}}
	for _, c := range cases {
		got := r.Recent("a.test", c.limit)
		var st []int
		for _, e := range got {
			st = append(st, e.Status)
		}
		if fmt.Sprint(st) != fmt.Sprint(c.want) {
			t.Errorf("limit %d: got %v, want %v", c.limit, st, c.want)
		}
	}
	if got := r.Recent("b.test", 0); len(got) != 1 || got[0].Status != 99 {
		t.Fatalf("b.test: %+v", got)
	}
}

func TestSitesBounded(t *testing.T) {
	r := New(1)
	for i := range MaxSites + 1 {
		r.Add(api.Event{Site: fmt.Sprintf("s%d.test", i)})
	}
	if len(r.rings) != MaxSites {
		t.Fatalf("%d rings, want %d", len(r.rings), MaxSites)
	}
	if len(r.Recent("s0.test", 0)) != 0 || len(r.Recent(fmt.Sprintf("s%d.test", MaxSites), 0)) != 1 {
		t.Fatal("the site with the oldest event should have been evicted")
	}
}

func TestRecorderFromNATS(t *testing.T) {
	s := natstest.Start(t)
	nc, _ := natstest.Connect(t, s)
	r := New(0)
	if err := r.Start(nc); err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ev := api.Event{V: 1, Region: "forged", Site: "shop.test", Action: "waf_block", Status: 403, Path: "/x", ClientIP: "192.0.2.1", RuleIDs: []int{941100}}
	b, _ := json.Marshal(ev)
	if err := nc.Publish(api.EventsSubject("ams3"), b); err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish(api.EventsSubject("ams3"), []byte("not json")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(r.Recent("shop.test", 0)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("event not recorded")
		}
		time.Sleep(10 * time.Millisecond)
	}
	got := r.Recent("shop.test", 0)[0]
	if got.Region != "ams3" || got.RuleIDs[0] != 941100 || got.ClientIP != "192.0.2.1" {
		t.Fatalf("event = %+v (the region comes from the subject)", got)
	}
}
