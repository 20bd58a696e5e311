package blocklist

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/internal/atomicfile"
)

// FeedConfig configures a Feed.
type FeedConfig struct {
	// List receives the networks to block.
	List *List
	// Static are the configured networks (block_cidrs), always blocked.
	Static []string
	// Path, when set, is where the last pushed document is kept, so a
	// restart with NATS down still blocks.
	Path string
	Log  *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Feed applies the blocklist pushed over NATS (an api.Blocklist document
// from the api.BucketBlocklist bucket) on top of the configured networks,
// and drops pushed entries when they expire. Run keeps the expiries.
type Feed struct {
	cfg    FeedConfig
	static []netip.Prefix
	wake   chan struct{}

	mu  sync.Mutex
	doc *api.Blocklist // nil: nothing pushed
}

// NewFeed checks the configured networks and returns a feed; it blocks
// only those until Load or Apply.
func NewFeed(cfg FeedConfig) (*Feed, error) {
	static, err := Parse(cfg.Static)
	if err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	f := &Feed{cfg: cfg, static: static, wake: make(chan struct{}, 1)}
	f.cfg.List.p.Store(&static)
	return f, nil
}

// Load applies the document kept on disk, if any.
func (f *Feed) Load() error {
	if f.cfg.Path == "" {
		return nil
	}
	data, err := os.ReadFile(f.cfg.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("blocklist snapshot: %w", err)
	}
	doc, err := api.ParseBlocklist(data)
	if err != nil {
		return fmt.Errorf("blocklist snapshot %s: %w", f.cfg.Path, err)
	}
	f.set(&doc)
	return nil
}

// Apply replaces the pushed document with value (nil: the document was
// deleted, only the configured networks stay blocked) and keeps it on
// disk. An invalid document changes nothing.
func (f *Feed) Apply(value []byte) error {
	var doc *api.Blocklist
	if value != nil {
		d, err := api.ParseBlocklist(value)
		if err != nil {
			return fmt.Errorf("blocklist: %w", err)
		}
		doc = &d
	}
	f.set(doc)
	if f.cfg.Path == "" {
		return nil
	}
	var err error
	if value == nil {
		err = os.Remove(f.cfg.Path)
		if errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
	} else {
		err = atomicfile.Write(f.cfg.Path, value)
	}
	if err != nil {
		// Blocking goes on from memory; only a restart without NATS misses it.
		f.cfg.Log.Error("save blocklist", "path", f.cfg.Path, "err", err)
	}
	return nil
}

// Pushed returns how many entries the pushed document has (expired ones
// included).
func (f *Feed) Pushed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.doc == nil {
		return 0
	}
	return len(f.doc.Entries)
}

func (f *Feed) set(doc *api.Blocklist) {
	f.mu.Lock()
	f.doc = doc
	f.mu.Unlock()
	f.refresh()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// refresh stores the configured networks plus the pushed entries not yet
// expired, and returns the next expiry (zero: none).
func (f *Feed) refresh() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	ps := f.static
	var next time.Time
	if f.doc != nil {
		var cidrs []string
		cidrs, next = f.doc.Active(f.cfg.Now())
		ps = make([]netip.Prefix, 0, len(f.static)+len(cidrs))
		ps = append(ps, f.static...)
		for _, c := range cidrs {
			if p, err := api.ParseBlockCIDR(c); err == nil { // validated on Apply
				ps = append(ps, p)
			}
		}
	}
	f.cfg.List.p.Store(&ps)
	return next
}

// Run drops pushed entries as they expire, until ctx is done.
func (f *Feed) Run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := f.refresh()
		wait := time.Hour
		if !next.IsZero() {
			wait = max(next.Sub(f.cfg.Now()), 0)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		case <-timer.C:
		}
	}
}
