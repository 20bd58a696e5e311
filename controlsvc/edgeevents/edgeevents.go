// Package edgeevents keeps the recent sampled edge events (WAF blocks,
// rate-limited and failed requests) that edges publish on
// edge.events.<region>, in a bounded ring per site, for the dashboard.
package edgeevents

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/rampart-edge/rampart/controlsvc/api"
)

// Defaults and bounds.
const (
	// DefaultPerSite is how many events each site keeps.
	DefaultPerSite = 200
	// MaxSites bounds how many sites have a ring; the site whose newest
	// event is oldest gives its ring up first.
	MaxSites = 5000
)

// Recorder keeps the last events of every site.
type Recorder struct {
	perSite int

	mu    sync.Mutex
	seq   uint64 // bumped per event, orders rings by recency
	rings map[string]*ring
	sub   *nats.Subscription
}

type ring struct {
	buf  []api.Event // len ≤ perSite, next is the slot to write
	next int
	full bool
	last uint64
}

// New returns a recorder keeping perSite events per site
// (DefaultPerSite when ≤ 0).
func New(perSite int) *Recorder {
	if perSite <= 0 {
		perSite = DefaultPerSite
	}
	return &Recorder{perSite: perSite, rings: map[string]*ring{}}
}

// Start subscribes to every region's events on nc (the control account,
// which imports edge.events.>). Close unsubscribes.
func (r *Recorder) Start(nc *nats.Conn) error {
	sub, err := nc.Subscribe(api.SubjectEventsPrefix+".*", func(m *nats.Msg) {
		var ev api.Event
		if json.Unmarshal(m.Data, &ev) != nil || ev.Site == "" {
			return
		}
		// The region is the one NATS permissions vouch for.
		ev.Region = m.Subject[len(api.SubjectEventsPrefix)+1:]
		r.Add(ev)
	})
	if err != nil {
		return fmt.Errorf("edge events: subscribe: %w", err)
	}
	r.mu.Lock()
	r.sub = sub
	r.mu.Unlock()
	return nil
}

// Close stops listening; the events seen stay readable.
func (r *Recorder) Close() error {
	r.mu.Lock()
	sub := r.sub
	r.sub = nil
	r.mu.Unlock()
	if sub == nil {
		return nil
	}
	if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrBadSubscription) {
		return fmt.Errorf("edge events: %w", err)
	}
	return nil
}

// Add records one event under its site.
func (r *Recorder) Add(ev api.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	rg := r.rings[ev.Site]
	if rg == nil {
		if len(r.rings) >= MaxSites {
			r.evictOldest()
		}
		rg = &ring{buf: make([]api.Event, 0, min(r.perSite, 16))}
		r.rings[ev.Site] = rg
	}
	rg.last = r.seq
	if len(rg.buf) < r.perSite {
		rg.buf = append(rg.buf, ev)
		return
	}
	rg.buf[rg.next] = ev
	rg.next = (rg.next + 1) % r.perSite
	rg.full = true
}

// evictOldest drops the ring whose newest event is the oldest; r.mu is held.
func (r *Recorder) evictOldest() {
	var victim string
	var oldest uint64
	for site, rg := range r.rings {
		if victim == "" || rg.last < oldest {
			victim, oldest = site, rg.last
		}
	}
	delete(r.rings, victim)
}

// Recent returns up to limit of site's events, newest first (all kept when
// limit ≤ 0).
func (r *Recorder) Recent(site string, limit int) []api.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	rg := r.rings[site]
	if rg == nil {
		return []api.Event{}
	}
	n := len(rg.buf)
	if limit <= 0 || limit > n {
		limit = n
	}
	out := make([]api.Event, 0, limit)
	// The newest is just before next once the ring has wrapped, else last.
	newest := n - 1
	if rg.full {
		newest = (rg.next - 1 + n) % n
	}
	for i := 0; i < limit; i++ {
		out = append(out, rg.buf[(newest-i+n)%n])
	}
	return out
}
