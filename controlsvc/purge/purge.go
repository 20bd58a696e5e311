// Package purge fans cache purges out to every edge. A purge is first
// written to the "purges" KV bucket (sourced into every region, kept for
// api.PurgeRetention), so no edge can miss it — one that is down applies it
// from its region's copy when it comes back — and then sent as a request on
// edge.purge, which every connected edge answers with an api.PurgeAck. The
// result names the edges that confirmed and the live ones (from heartbeats)
// that did not within the wait.
package purge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-edge/rampart/controlsvc/api"
)

// Config configures a Service.
type Config struct {
	Conn *nats.Conn
	// KV is the api.BucketPurges bucket (the writable one).
	KV jetstream.KeyValue
	// Live lists the edges expected to answer (heartbeats seen recently).
	Live func() []api.EdgeRef
	// Wait bounds how long acknowledgements are collected; 3s when zero.
	Wait time.Duration
	Now  func() time.Time
}

// Service issues purges.
type Service struct{ cfg Config }

// New returns a service.
func New(cfg Config) (*Service, error) {
	if cfg.Conn == nil || cfg.KV == nil {
		return nil, errors.New("purge: a NATS connection and the purges bucket are required")
	}
	if cfg.Wait == 0 {
		cfg.Wait = 3 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Live == nil {
		cfg.Live = func() []api.EdgeRef { return nil }
	}
	return &Service{cfg: cfg}, nil
}

// Message turns a validated request for host into the message edges apply:
// absolute URLs must be on host and are reduced to path and query.
func Message(host string, req api.PurgeRequest, id string, now time.Time) (api.Purge, error) {
	if err := req.Validate(); err != nil {
		return api.Purge{}, err
	}
	p := api.Purge{V: api.Version, ID: id, Hostname: host, Time: now.UTC(),
		Prefixes: req.Prefixes, Tags: req.Tags, All: req.All}
	var errs api.FieldErrors
	for i, raw := range req.URLs {
		u, err := url.Parse(raw)
		if err != nil {
			errs = append(errs, &api.FieldError{Field: fmt.Sprintf("urls[%d]", i), Msg: fmt.Sprintf("%q is not a URL", raw)})
			continue
		}
		if u.Host != "" && !strings.EqualFold(strings.TrimSuffix(u.Hostname(), "."), host) {
			errs = append(errs, &api.FieldError{Field: fmt.Sprintf("urls[%d]", i), Msg: fmt.Sprintf("%q is not on %s", raw, host)})
			continue
		}
		pq := u.EscapedPath()
		if pq == "" {
			pq = "/"
		}
		if u.RawQuery != "" {
			pq += "?" + u.RawQuery
		}
		p.URLs = append(p.URLs, pq)
	}
	if len(errs) > 0 {
		return api.Purge{}, errs
	}
	return p, nil
}

// Purge stores the purge and fans it out; it returns once every live edge
// answered or the wait is over. An error means the purge was not stored
// (and not sent).
func (s *Service) Purge(ctx context.Context, host string, req api.PurgeRequest) (api.PurgeResult, error) {
	var idb [12]byte
	_, _ = rand.Read(idb[:])
	p, err := Message(host, req, hex.EncodeToString(idb[:]), s.cfg.Now())
	if err != nil {
		return api.PurgeResult{}, err
	}
	data, err := json.Marshal(p)
	if err != nil {
		return api.PurgeResult{}, err
	}
	if _, err := s.cfg.KV.Put(ctx, p.ID, data); err != nil {
		return api.PurgeResult{}, fmt.Errorf("store purge: %w", err)
	}
	res := api.PurgeResult{ID: p.ID, Hostname: host, Confirmed: []api.PurgeAck{}, Pending: []api.EdgeRef{}}
	expected := s.cfg.Live()
	waiting := map[api.EdgeRef]bool{}
	for _, e := range expected {
		waiting[e] = true
	}
	inbox := s.cfg.Conn.NewRespInbox()
	sub, err := s.cfg.Conn.SubscribeSync(inbox)
	if err != nil {
		return api.PurgeResult{}, fmt.Errorf("fan out purge: %w", err)
	}
	defer sub.Unsubscribe()
	if err := s.cfg.Conn.PublishRequest(api.SubjectPurge, inbox, data); err != nil {
		return api.PurgeResult{}, fmt.Errorf("fan out purge: %w", err)
	}
	deadline := time.Now().Add(s.cfg.Wait)
	seen := map[api.EdgeRef]bool{}
	for len(expected) == 0 || len(waiting) > 0 {
		left := time.Until(deadline)
		if left <= 0 || ctx.Err() != nil {
			break
		}
		m, err := sub.NextMsg(left)
		if err != nil {
			break
		}
		var ack api.PurgeAck
		if json.Unmarshal(m.Data, &ack) != nil || ack.ID != p.ID {
			continue
		}
		ref := api.EdgeRef{Region: ack.Region, Node: ack.Node}
		if seen[ref] {
			continue
		}
		seen[ref] = true
		delete(waiting, ref)
		res.Confirmed = append(res.Confirmed, ack)
	}
	for ref := range waiting {
		res.Pending = append(res.Pending, ref)
	}
	slices.SortFunc(res.Confirmed, func(a, b api.PurgeAck) int {
		return strings.Compare(a.Region+"/"+a.Node, b.Region+"/"+b.Node)
	})
	slices.SortFunc(res.Pending, func(a, b api.EdgeRef) int {
		return strings.Compare(a.Region+"/"+a.Node, b.Region+"/"+b.Node)
	})
	return res, nil
}
