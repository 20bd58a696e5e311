// Package purger applies cache purges on an edge. A purge arrives twice:
// as a request on edge.purge, which the edge answers with a PurgeAck so the
// control plane can report who confirmed, and as an entry in its region's
// copy of the "purges" KV bucket, so an edge that was disconnected or
// restarting applies what it missed. Each purge is applied once per process.
package purger

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/kvsync"
)

// Config configures a Purger.
type Config struct {
	Conn         *nats.Conn
	Region, Node string
	// APIPrefix is the JetStream API prefix (api.EdgeJSAPIPrefix in the
	// Rampart layout); empty means the account's own JetStream.
	APIPrefix string
	// Apply removes what the purge names that was stored before `before`;
	// it returns how many objects went.
	Apply func(p api.Purge, before time.Time) int
	Log   *slog.Logger
	Retry time.Duration
	Now   func() time.Time
	// Synced, when set, is called once, after the first watch has applied
	// every purge stored in the region's copy.
	Synced func()
}

// Purger runs the subscription and the watcher.
type Purger struct {
	cfg Config

	mu      sync.Mutex
	applied map[string]*application // purge id → its application

	syncedOnce sync.Once
}

// application is one purge being or having been applied; done closes once
// removed is set.
type application struct {
	at      time.Time
	done    chan struct{}
	removed int
}

// New returns a purger.
func New(cfg Config) *Purger {
	if cfg.Retry == 0 {
		cfg.Retry = 2 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Purger{cfg: cfg, applied: map[string]*application{}}
}

// Parse decodes and checks a purge message.
func Parse(data []byte) (api.Purge, error) {
	var p api.Purge
	if err := api.DecodeStrict(data, api.MaxPurgeBytes, &p); err != nil {
		return p, err
	}
	if p.V != api.Version {
		return p, fmt.Errorf("purge: schema version %d is not supported", p.V)
	}
	if p.ID == "" || len(p.ID) > 64 {
		return p, fmt.Errorf("purge: id: required, at most 64 characters")
	}
	if err := api.ValidateHostname(p.Hostname); err != nil {
		return p, fmt.Errorf("purge: hostname: %w", err)
	}
	return p, nil
}

// apply applies p unless this process did already, and returns how many
// objects it removed — once the purge is complete, whichever delivery (the
// request or the KV copy) applied it — and whether this call applied it.
func (pg *Purger) apply(p api.Purge, before time.Time) (int, bool) {
	pg.mu.Lock()
	if a, ok := pg.applied[p.ID]; ok {
		pg.mu.Unlock()
		<-a.done
		return a.removed, false
	}
	now := pg.cfg.Now()
	a := &application{at: now, done: make(chan struct{})}
	pg.applied[p.ID] = a
	if len(pg.applied) > 10000 {
		for id, old := range pg.applied {
			if now.Sub(old.at) > api.PurgeRetention+time.Hour {
				delete(pg.applied, id)
			}
		}
	}
	pg.mu.Unlock()
	a.removed = pg.cfg.Apply(p, before)
	close(a.done)
	pg.cfg.Log.Info("purge applied", "id", p.ID, "site", p.Hostname, "removed", a.removed)
	return a.removed, true
}

// Run serves until ctx is done.
func (pg *Purger) Run(ctx context.Context) error {
	sub, err := pg.cfg.Conn.Subscribe(api.SubjectPurge, pg.handle)
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", api.SubjectPurge, err)
	}
	defer sub.Unsubscribe()
	for ctx.Err() == nil {
		err := pg.watch(ctx)
		if ctx.Err() != nil {
			break
		}
		pg.cfg.Log.Warn("purge watch ended; retrying", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(pg.cfg.Retry):
		}
	}
	return nil
}

func (pg *Purger) handle(m *nats.Msg) {
	ack := api.PurgeAck{V: api.Version, Region: pg.cfg.Region, Node: pg.cfg.Node}
	p, err := Parse(m.Data)
	if err != nil {
		ack.Error = err.Error()
	} else {
		ack.ID = p.ID
		// Live: everything stored until now goes, whatever the clocks say.
		ack.Removed, _ = pg.apply(p, pg.cfg.Now())
	}
	if m.Reply == "" {
		return
	}
	data, _ := json.Marshal(ack)
	if err := m.Respond(data); err != nil {
		pg.cfg.Log.Warn("purge ack", "id", ack.ID, "err", err)
	}
}

func (pg *Purger) watch(ctx context.Context) error {
	bucket := api.RegionBucket(api.BucketPurges, pg.cfg.Region)
	w, err := kvsync.WatchBucket(ctx, pg.cfg.Conn, pg.cfg.APIPrefix, bucket)
	if err != nil {
		return err
	}
	defer w.Stop()
	initialDone := false
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case u, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("watch bucket %s: closed", bucket)
			}
			if u == nil {
				initialDone = true
				if pg.cfg.Synced != nil {
					pg.syncedOnce.Do(pg.cfg.Synced)
				}
				continue
			}
			if u.Operation() != jetstream.KeyValuePut {
				continue
			}
			p, err := Parse(u.Value())
			if err != nil {
				pg.cfg.Log.Error("rejected purge", "bucket", bucket, "key", u.Key(), "err", err)
				continue
			}
			// Purges from before this watch started were issued while the
			// edge was away: apply them as of their issue time, so objects
			// stored since (the disk tier) survive. New ones apply now.
			before := pg.cfg.Now()
			if !initialDone {
				before = p.Time
			}
			pg.apply(p, before)
		}
	}
}
