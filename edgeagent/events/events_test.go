package events

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/accesslog"
)

// TestSampledOverNATS publishes through a real NATS server: only notable
// decisions become events, at most PerSecond a second.
func TestSampledOverNATS(t *testing.T) {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	defer srv.Shutdown()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub, err := nc.SubscribeSync(api.EventsSubject("ams3"))
	if err != nil {
		t.Fatal(err)
	}
	nc.Flush()

	s := New(Config{Region: "ams3", Node: "n1", PerSecond: 5})
	now := time.Now()
	for range 50 {
		s.Observe(&accesslog.Entry{Time: now, Site: "a.example.com", Action: "proxy", Status: 200})
	}
	s.Observe(&accesslog.Entry{Time: now, Site: "a.example.com", Action: "waf", WAFAction: "pass", Status: 200})
	s.Observe(&accesslog.Entry{Time: now, ReqID: "r1", Site: "a.example.com", Action: "waf", WAFAction: "block", Status: 403, RuleIDs: []int{942100}})
	for range 20 {
		s.Observe(&accesslog.Entry{Time: now, Site: "a.example.com", Action: "rate_limited", Status: 429, RateLimitRule: "login"})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Run drains the queue and returns
	s.Run(ctx, func(subject string, data []byte) error { return nc.Publish(subject, data) })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	var got []api.Event
	for {
		m, err := sub.NextMsg(time.Second)
		if err != nil {
			break
		}
		var ev api.Event
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Fatal(err)
		}
		got = append(got, ev)
		if len(got) == 5 {
			break
		}
	}
	if len(got) != 5 || s.Dropped() != 16 {
		t.Fatalf("%d events, %d dropped; want 5 and 16", len(got), s.Dropped())
	}
	if e := got[0]; e.Action != "waf_block" || e.ReqID != "r1" || e.Region != "ams3" || len(e.RuleIDs) != 1 {
		t.Errorf("first event %+v", e)
	}
	if e := got[1]; e.Action != "rate_limited" || e.Detail != "rule login" || e.Status != 429 {
		t.Errorf("second event %+v", e)
	}
}
