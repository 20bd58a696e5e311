// Package fleet tracks the edge nodes from their heartbeats
// (edge.hb.<region>.<node>): the last beat of every node, so the dashboard
// can show each node's health, version and load, and a purge can tell which
// live edges have not confirmed it.
package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rampart-edge/rampart/controlsvc/api"
)

// MaxNodes bounds how many nodes the tracker remembers; beats from further
// nodes are dropped until stale ones are forgotten.
const MaxNodes = 10000

// forgetAfter is how long a silent node stays listed (as stale).
const forgetAfter = 24 * time.Hour

// Edge is one node as last heard from.
type Edge struct {
	api.Heartbeat
	// Received is when the control service got the beat (its own clock,
	// so a skewed edge clock does not hide a dead node).
	Received time.Time `json:"received"`
	// Stale is true when the last beat is older than the max age asked for.
	Stale bool `json:"stale"`
}

// Tracker keeps the last heartbeat per node. The zero value is not usable;
// call New.
type Tracker struct {
	now func() time.Time

	mu    sync.Mutex
	nodes map[string]Edge // region + "." + node
	sub   *nats.Subscription
}

// New returns an empty tracker.
func New() *Tracker {
	return &Tracker{now: time.Now, nodes: map[string]Edge{}}
}

// Start subscribes to every region's heartbeats on nc (the control
// account, which imports edge.hb.>). Close unsubscribes.
func (t *Tracker) Start(nc *nats.Conn) error {
	sub, err := nc.Subscribe(api.SubjectHeartbeatPrefix+".>", func(m *nats.Msg) {
		region, node, ok := api.ParseHeartbeatSubject(m.Subject)
		if !ok {
			return
		}
		var hb api.Heartbeat
		if json.Unmarshal(m.Data, &hb) != nil {
			return
		}
		// The subject is what NATS permissions vouch for: an edge may
		// publish only under its own region.
		hb.Region, hb.Node = region, node
		t.Observe(hb)
	})
	if err != nil {
		return fmt.Errorf("fleet: subscribe heartbeats: %w", err)
	}
	t.mu.Lock()
	t.sub = sub
	t.mu.Unlock()
	return nil
}

// Close stops listening; what was seen stays readable.
func (t *Tracker) Close() error {
	t.mu.Lock()
	sub := t.sub
	t.sub = nil
	t.mu.Unlock()
	if sub == nil {
		return nil
	}
	if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrBadSubscription) {
		return fmt.Errorf("fleet: %w", err)
	}
	return nil
}

// Observe records a heartbeat as received now.
func (t *Tracker) Observe(hb api.Heartbeat) {
	now := t.now()
	key := hb.Region + "." + hb.Node
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, known := t.nodes[key]; !known && len(t.nodes) >= MaxNodes {
		t.forget(now)
		if len(t.nodes) >= MaxNodes {
			return
		}
	}
	t.nodes[key] = Edge{Heartbeat: hb, Received: now}
}

// forget drops nodes silent for longer than forgetAfter; t.mu is held.
func (t *Tracker) forget(now time.Time) {
	for k, e := range t.nodes {
		if now.Sub(e.Received) > forgetAfter {
			delete(t.nodes, k)
		}
	}
}

// Edges lists every node heard from in the last day, sorted by region and
// node, those silent for longer than maxAge marked Stale.
func (t *Tracker) Edges(maxAge time.Duration) []Edge {
	now := t.now()
	t.mu.Lock()
	t.forget(now)
	out := make([]Edge, 0, len(t.nodes))
	for _, e := range t.nodes {
		e.Stale = now.Sub(e.Received) > maxAge
		out = append(out, e)
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b Edge) int {
		if c := strings.Compare(a.Region, b.Region); c != 0 {
			return c
		}
		return strings.Compare(a.Node, b.Node)
	})
	return out
}

// Live returns the last heartbeat of every node heard from within maxAge,
// sorted by region and node.
func (t *Tracker) Live(maxAge time.Duration) []api.Heartbeat {
	var out []api.Heartbeat
	for _, e := range t.Edges(maxAge) {
		if !e.Stale {
			out = append(out, e.Heartbeat)
		}
	}
	return out
}

// SiteCache sums one site's cache counters over the nodes heard from within
// maxAge.
func (t *Tracker) SiteCache(site string, maxAge time.Duration) api.CacheCounters {
	var sum api.CacheCounters
	for _, hb := range t.Live(maxAge) {
		c := hb.SiteCache[site]
		sum.Hits += c.Hits
		sum.Stale += c.Stale
		sum.Misses += c.Misses
		sum.Bypass += c.Bypass
	}
	return sum
}
