// Package kvsync keeps the edge's catalog in step with its region's copies
// of the "sites" and "certs" KV buckets. Each bucket has one long-lived
// watcher: its initial values replace the catalog's state of that kind as a
// whole (so keys deleted while the edge was away disappear), and every later
// update is applied as it comes.
package kvsync

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/catalog"
)

// Config configures a Syncer.
type Config struct {
	Conn    *nats.Conn
	Region  string
	Catalog *catalog.Catalog
	Log     *slog.Logger
	// APIPrefix is the JetStream API prefix; api.EdgeJSAPIPrefix in the
	// Rampart account layout. Empty means the account's own JetStream.
	APIPrefix string
	// Retry is the wait between attempts to (re)open a watcher.
	Retry time.Duration
}

// Syncer runs the watchers.
type Syncer struct {
	cfg    Config
	synced [2]atomic.Bool
}

var kinds = [2]catalog.Kind{catalog.KindSite, catalog.KindCert}

// New returns a Syncer; Run starts it.
func New(cfg Config) *Syncer {
	if cfg.Retry == 0 {
		cfg.Retry = time.Second
	}
	return &Syncer{cfg: cfg}
}

// Synced reports whether both buckets completed an initial sync.
func (s *Syncer) Synced() bool { return s.synced[0].Load() && s.synced[1].Load() }

// Run watches both buckets until ctx is done, reopening a watcher that fails.
func (s *Syncer) Run(ctx context.Context) {
	done := make(chan struct{}, len(kinds))
	for i, k := range kinds {
		go func() {
			defer func() { done <- struct{}{} }()
			for ctx.Err() == nil {
				err := s.watch(ctx, i, k)
				if ctx.Err() != nil {
					return
				}
				s.cfg.Log.Warn("kv watch ended; retrying", "bucket", string(k), "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(s.cfg.Retry):
				}
			}
		}()
	}
	for range kinds {
		<-done
	}
}

func (s *Syncer) watch(ctx context.Context, idx int, kind catalog.Kind) error {
	var js jetstream.JetStream
	var err error
	if s.cfg.APIPrefix != "" {
		js, err = jetstream.NewWithAPIPrefix(s.cfg.Conn, s.cfg.APIPrefix)
	} else {
		js, err = jetstream.New(s.cfg.Conn)
	}
	if err != nil {
		return err
	}
	bucket := api.RegionBucket(string(kind), s.cfg.Region)
	openCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	kv, err := js.KeyValue(openCtx, bucket)
	cancel()
	if err != nil {
		return fmt.Errorf("open bucket %s: %w", bucket, err)
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch bucket %s: %w", bucket, err)
	}
	defer w.Stop()
	initial := map[string][]byte{}
	initialDone := false
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case u, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("watch bucket %s: closed", bucket)
			}
			switch {
			case u == nil && !initialDone:
				initialDone = true
				for _, err := range s.cfg.Catalog.Replace(kind, initial) {
					s.cfg.Log.Error("rejected kv value", "bucket", bucket, "err", err)
				}
				initial = nil
				s.synced[idx].Store(true)
				s.cfg.Log.Info("kv synced", "bucket", bucket)
			case u == nil:
			case !initialDone:
				if u.Operation() == jetstream.KeyValuePut {
					initial[u.Key()] = u.Value()
				} else {
					delete(initial, u.Key())
				}
			default:
				ch := catalog.Change{Kind: kind, Key: u.Key()}
				if u.Operation() == jetstream.KeyValuePut {
					ch.Value = u.Value()
				}
				if err := s.cfg.Catalog.Apply(ch); err != nil {
					s.cfg.Log.Error("rejected kv value", "bucket", bucket, "key", u.Key(), "err", err)
				} else {
					s.cfg.Log.Info("kv update", "bucket", bucket, "key", u.Key(), "op", u.Operation().String())
				}
			}
		}
	}
}
