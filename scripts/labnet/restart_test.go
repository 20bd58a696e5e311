package labnet

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
)

// knownBy reports whether e has host in its catalog: plain HTTP to a known
// site redirects to HTTPS (301), an unknown Host gets 421.
func knownBy(e *Edge, host string) error {
	resp, _, err := edgeDo(nil, e.Agent.Addr("http"), host, "/", nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != 301 {
		return fmt.Errorf("%s: %s answered %d", e.Node, host, resp.StatusCode)
	}
	return nil
}

// TestLabRestartKeepsEveryRegionSynced restarts the whole lab on its
// stores (NATS included): a site created afterwards must reach every
// region's copy of the sites bucket, as one created before did.
//
// It does, but not at once: each region copy recovers its stream as its
// server starts, before the gateways to the control region are up, so its
// request for a source consumer is lost and nats-server waits out that
// request's 30 s timeout before it asks again (~37 s here). The bound
// below allows for that; the log line says how long it took.
func TestLabRestartKeepsEveryRegionSynced(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	create := func(l *Lab, host string, within time.Duration) {
		t.Helper()
		site := api.Site{V: api.Version, Hostname: host, Origins: []api.Origin{{URL: "http://" + l.OriginA.Addr()}}}
		status, body, err := l.API(ctx, "POST", "/sites", site)
		if err != nil || status != 201 {
			t.Fatalf("create %s: %d %s %v", host, status, body, err)
		}
		start := time.Now()
		for _, e := range l.Edges() {
			eventually(t, e.Node+" knowing "+host, within, func() error { return knownBy(e, host) })
		}
		t.Logf("%s reached every region in %v", host, time.Since(start).Round(100*time.Millisecond))
	}
	l, err := Start(ctx, Config{Dir: dir, HeartbeatInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	create(l, "before.rampart.test", 30*time.Second)
	l.Close()

	l, err = Start(ctx, Config{Dir: dir, HeartbeatInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, e := range l.Edges() {
		eventually(t, e.Node+" knowing the site from before the restart", 30*time.Second, func() error { return knownBy(e, "before.rampart.test") })
	}
	create(l, "after.rampart.test", 90*time.Second)
}
