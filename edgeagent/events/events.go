// Package events samples the edge's notable decisions (WAF blocks and
// challenges, rate-limited and shed requests, origin errors) and publishes
// them on edge.events.<region> for the dashboard. The request path only
// does a few atomic operations and a non-blocking channel send; at most
// PerSecond events a second are kept and the rest are counted as dropped,
// so an attack cannot turn the event stream into a second attack on NATS.
package events

import (
	"context"
	"encoding/json"
	"sync/atomic"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/accesslog"
)

// DefaultPerSecond is the sampling budget unless configured.
const DefaultPerSecond = 20

// Config configures a Sampler.
type Config struct {
	Region, Node string
	// PerSecond is how many events a second are published; 0 means
	// DefaultPerSecond.
	PerSecond int64
}

// Sampler picks events and publishes them.
type Sampler struct {
	cfg     Config
	ch      chan api.Event
	window  atomic.Int64 // the second being counted
	count   atomic.Int64
	dropped atomic.Uint64
}

// New returns a sampler; Run publishes what it samples.
func New(cfg Config) *Sampler {
	if cfg.PerSecond <= 0 {
		cfg.PerSecond = DefaultPerSecond
	}
	return &Sampler{cfg: cfg, ch: make(chan api.Event, 256)}
}

// Dropped returns how many notable events were not published (over the
// budget, or while nothing was publishing).
func (s *Sampler) Dropped() uint64 { return s.dropped.Load() }

// notable reports whether an entry is worth an event.
func notable(e *accesslog.Entry) bool {
	switch e.Action {
	case "rate_limited", "origin_error", "shed":
		return true
	case "waf":
		return e.WAFAction != "" && e.WAFAction != "pass" && e.WAFAction != "cleared"
	}
	return false
}

// Observe samples one finished request.
func (s *Sampler) Observe(e *accesslog.Entry) {
	if !notable(e) {
		return
	}
	if sec := e.Time.Unix(); s.window.Load() != sec {
		s.window.Store(sec)
		s.count.Store(0)
	}
	if s.count.Add(1) > s.cfg.PerSecond {
		s.dropped.Add(1)
		return
	}
	action := e.Action
	if action == "waf" {
		action = "waf_" + e.WAFAction
	}
	ev := api.Event{V: api.Version, Time: e.Time, Region: s.cfg.Region, Node: s.cfg.Node, ReqID: e.ReqID, Site: e.Site,
		Action: action, Status: e.Status, Method: e.Method, Path: e.Path, ClientIP: e.ClientIP, RuleIDs: e.RuleIDs}
	switch {
	case e.RateLimitRule != "":
		ev.Detail = "rule " + e.RateLimitRule
	case e.Err != "":
		ev.Detail = e.Err
	}
	select {
	case s.ch <- ev:
	default:
		s.dropped.Add(1)
	}
}

// Run publishes sampled events with publish until ctx is done, then
// publishes what is still queued and returns.
func (s *Sampler) Run(ctx context.Context, publish func(subject string, data []byte) error) {
	subject := api.EventsSubject(s.cfg.Region)
	send := func(ev api.Event) {
		data, err := json.Marshal(ev)
		if err == nil {
			err = publish(subject, data)
		}
		if err != nil {
			s.dropped.Add(1)
		}
	}
	for {
		select {
		case ev := <-s.ch:
			send(ev)
		case <-ctx.Done():
			for {
				select {
				case ev := <-s.ch:
					send(ev)
				default:
					return
				}
			}
		}
	}
}
