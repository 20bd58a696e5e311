// Package kvsync keeps the edge's catalog in step with its region's copies
// of the "sites" and "certs" KV buckets, its ACME challenge store with
// the "acme" copy, and its blocklist with the "blocklist" copy. Each bucket has one long-lived
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
	"github.com/rampart-edge/rampart/edgeagent/challenge"
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
	// Challenges, when set, is filled from the region's "acme" copy.
	Challenges *challenge.Store
	// Blocklist, when set, gets the document of the region's "blocklist"
	// copy (nil when there is none).
	Blocklist interface{ Apply(value []byte) error }
}

// Syncer runs the watchers.
type Syncer struct {
	cfg    Config
	synced [4]atomic.Bool // sites, certs, acme, blocklist
}

var kinds = [2]catalog.Kind{catalog.KindSite, catalog.KindCert}

// sink receives one bucket's entries: the whole state after the initial
// values, then each change (value nil for a delete).
type sink interface {
	replace(entries map[string][]byte) []error
	apply(key string, value []byte) error
}

type catalogSink struct {
	cat  *catalog.Catalog
	kind catalog.Kind
}

func (c catalogSink) replace(entries map[string][]byte) []error {
	return c.cat.Replace(c.kind, entries)
}
func (c catalogSink) apply(key string, value []byte) error {
	return c.cat.Apply(catalog.Change{Kind: c.kind, Key: key, Value: value})
}

type challengeSink struct{ store *challenge.Store }

func (c challengeSink) replace(entries map[string][]byte) []error {
	m := make(map[string]string, len(entries))
	for k, v := range entries {
		if challenge.ValidToken(k) {
			m[k] = string(v)
		}
	}
	c.store.Replace(m)
	return nil
}

// blocklistSink hands the one blocklist document (api.BlocklistKey) on.
type blocklistSink struct {
	feed interface{ Apply([]byte) error }
}

func (b blocklistSink) replace(entries map[string][]byte) []error {
	if err := b.feed.Apply(entries[api.BlocklistKey]); err != nil {
		return []error{err}
	}
	return nil
}

func (b blocklistSink) apply(key string, value []byte) error {
	if key != api.BlocklistKey {
		return fmt.Errorf("blocklist key %q: not %q", key, api.BlocklistKey)
	}
	return b.feed.Apply(value)
}

func (c challengeSink) apply(key string, value []byte) error {
	if !challenge.ValidToken(key) {
		return fmt.Errorf("acme token %q: not a token", key)
	}
	c.store.Set(key, string(value))
	return nil
}

// New returns a Syncer; Run starts it.
func New(cfg Config) *Syncer {
	if cfg.Retry == 0 {
		cfg.Retry = time.Second
	}
	return &Syncer{cfg: cfg}
}

// Synced reports whether both buckets completed an initial sync.
func (s *Syncer) Synced() bool { return s.synced[0].Load() && s.synced[1].Load() }

// ChallengesSynced reports whether the acme bucket completed an initial sync.
func (s *Syncer) ChallengesSynced() bool { return s.synced[2].Load() }

// BlocklistSynced reports whether the blocklist bucket completed an initial sync.
func (s *Syncer) BlocklistSynced() bool { return s.synced[3].Load() }

// WatchBucket opens a watcher on every key of bucket, through the JetStream
// API prefix when one is set (api.EdgeJSAPIPrefix in the Rampart layout).
// It first delivers the current values, then nil, then every change.
func WatchBucket(ctx context.Context, nc *nats.Conn, apiPrefix, bucket string) (jetstream.KeyWatcher, error) {
	var js jetstream.JetStream
	var err error
	if apiPrefix != "" {
		js, err = jetstream.NewWithAPIPrefix(nc, apiPrefix)
	} else {
		js, err = jetstream.New(nc)
	}
	if err != nil {
		return nil, err
	}
	openCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	kv, err := js.KeyValue(openCtx, bucket)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", bucket, err)
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("watch bucket %s: %w", bucket, err)
	}
	return w, nil
}

// Run watches the buckets until ctx is done, reopening a watcher that fails.
func (s *Syncer) Run(ctx context.Context) {
	type watched struct {
		idx    int // into synced
		bucket string
		sink   sink
	}
	var all []watched
	for i, k := range kinds {
		all = append(all, watched{i, string(k), catalogSink{s.cfg.Catalog, k}})
	}
	if s.cfg.Challenges != nil {
		all = append(all, watched{2, api.BucketACME, challengeSink{s.cfg.Challenges}})
	}
	if s.cfg.Blocklist != nil {
		all = append(all, watched{3, api.BucketBlocklist, blocklistSink{s.cfg.Blocklist}})
	}
	done := make(chan struct{}, len(all))
	for _, wb := range all {
		go func() {
			defer func() { done <- struct{}{} }()
			for ctx.Err() == nil {
				err := s.watch(ctx, wb.idx, wb.bucket, wb.sink)
				if ctx.Err() != nil {
					return
				}
				s.cfg.Log.Warn("kv watch ended; retrying", "bucket", wb.bucket, "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(s.cfg.Retry):
				}
			}
		}()
	}
	for range all {
		<-done
	}
}

func (s *Syncer) watch(ctx context.Context, idx int, name string, sk sink) error {
	bucket := api.RegionBucket(name, s.cfg.Region)
	w, err := WatchBucket(ctx, s.cfg.Conn, s.cfg.APIPrefix, bucket)
	if err != nil {
		return err
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
				for _, err := range sk.replace(initial) {
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
				var value []byte
				if u.Operation() == jetstream.KeyValuePut {
					value = u.Value()
				}
				if err := sk.apply(u.Key(), value); err != nil {
					s.cfg.Log.Error("rejected kv value", "bucket", bucket, "key", u.Key(), "err", err)
				} else {
					s.cfg.Log.Info("kv update", "bucket", bucket, "key", u.Key(), "op", u.Operation().String())
				}
			}
		}
	}
}
