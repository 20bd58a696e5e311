// Package cache is the edge's HTTP cache: an RFC 9111 shared cache kept in
// memory (bounded by bytes, W-TinyLFU eviction from otter) with an optional
// disk tier, keyed by scheme, host, normalised path and query, and Vary.
//
// This package holds the storage, keys and freshness rules; the request
// path that uses them is in edgeagent/proxy.
package cache

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
)

// Config sizes the cache.
type Config struct {
	// MaxBytes bounds the memory tier; 0 means 256 MiB.
	MaxBytes int64
	// MaxObjectBytes is the largest body stored; larger responses stream
	// through uncached. 0 means 8 MiB.
	MaxObjectBytes int64
	// DiskDir, when set, keeps a second tier on disk bounded by
	// DiskMaxBytes (0 means 4 GiB); objects evicted from memory stay there
	// and survive restarts.
	// Objects are written through to disk in the background.
	DiskDir      string
	DiskMaxBytes int64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Store holds cached objects.
type Store struct {
	cfg  Config
	mem  *otter.Cache[string, *Object]
	disk *diskTier

	mu    sync.RWMutex                  // bases, hosts, purgedAt
	bases map[string]*baseInfo          // base key → what it varies on
	hosts map[string]map[string]*Object // host → key → object (purges)
	// purgedAt is each host's latest purge: a response whose origin request
	// started before it may predate the purge and is not stored.
	purgedAt map[string]time.Time

	flightMu sync.Mutex
	flights  map[string]*Flight
	pass     map[string]time.Time // keys known to be uncacheable, until

	// diskHeld keeps the disk tier out of lookups (see HoldDisk).
	diskHeld atomic.Bool

	// Counters.
	stored, evicted, purged atomic.Uint64
}

type baseInfo struct {
	vary []string
	keys map[string]struct{}
}

// New returns a store.
func New(cfg Config) (*Store, error) {
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = 256 << 20
	}
	if cfg.MaxObjectBytes == 0 {
		cfg.MaxObjectBytes = 8 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Store{cfg: cfg, bases: map[string]*baseInfo{}, hosts: map[string]map[string]*Object{}, purgedAt: map[string]time.Time{}, flights: map[string]*Flight{}, pass: map[string]time.Time{}}
	mem, err := otter.New(&otter.Options[string, *Object]{
		MaximumWeight: uint64(cfg.MaxBytes),
		Weigher: func(_ string, o *Object) uint32 {
			return uint32(min(o.Size(), 1<<31))
		},
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, *Object]) time.Duration {
			return e.Value.keepFor(s.cfg.Now())
		}),
		OnDeletion: func(e otter.DeletionEvent[string, *Object]) {
			if e.Cause != otter.CauseReplacement {
				s.unindex(e.Value)
			}
			if e.WasEvicted() {
				s.evicted.Add(1)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	s.mem = mem
	if cfg.DiskDir != "" {
		if s.disk, err = openDisk(cfg.DiskDir, cfg.DiskMaxBytes, s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// MaxObjectBytes is the largest body the store keeps.
func (s *Store) MaxObjectBytes() int64 { return s.cfg.MaxObjectBytes }

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.cfg.Now() }

// keepFor is how long an object stays in memory: while fresh, plus the
// longest stale window, plus a day when it has a validator (a stale object
// with an ETag still saves the body on a 304).
func (o *Object) keepFor(now time.Time) time.Duration {
	f := o.Freshness(now)
	keep := f.TTL() + max(f.SWR, f.SIE, 0)
	if o.Header.Get("Etag") != "" || o.Header.Get("Last-Modified") != "" {
		keep += 24 * time.Hour
	}
	return max(keep, time.Minute)
}

// Lookup returns the stored response for a request's base key, selected by
// the request's headers according to the stored Vary, or nil.
func (s *Store) Lookup(base string, h http.Header) *Object {
	s.mu.RLock()
	bi := s.bases[base]
	var vary []string
	if bi != nil {
		vary = bi.vary
	}
	s.mu.RUnlock()
	if bi == nil {
		if s.disk != nil {
			return s.fromDisk(base, h)
		}
		return nil
	}
	key := base + variantKey(vary, h)
	if o, ok := s.mem.GetIfPresent(key); ok {
		return o
	}
	if s.disk != nil {
		return s.fromDisk(base, h)
	}
	return nil
}

// HoldDisk keeps lookups away from the disk tier until ReleaseDisk: after a
// restart, objects on disk may predate purges issued while the edge was
// away, so they are not served until those purges have been applied.
func (s *Store) HoldDisk() { s.diskHeld.Store(true) }

// ReleaseDisk lets lookups use the disk tier again.
func (s *Store) ReleaseDisk() { s.diskHeld.Store(false) }

// HasDisk reports whether the store has a disk tier.
func (s *Store) HasDisk() bool { return s.disk != nil }

func (s *Store) fromDisk(base string, h http.Header) *Object {
	if s.diskHeld.Load() {
		return nil
	}
	o := s.disk.get(base, h)
	if o != nil {
		s.Put(o)
	}
	return o
}

// Put stores an object whose Key is already set (a disk-tier object coming
// back to memory).
func (s *Store) Put(o *Object) {
	o.Seal()
	s.mu.Lock()
	bi := s.bases[o.Base]
	if bi == nil {
		bi = &baseInfo{keys: map[string]struct{}{}}
		s.bases[o.Base] = bi
	}
	bi.vary = o.Vary
	s.mu.Unlock()
	s.mem.Set(o.Key, o)
	s.index(o)
}

// PutFor stores an object under the variant the request selects. It reports
// false when the object was fetched before a purge of its host and is
// dropped instead.
func (s *Store) PutFor(o *Object, reqHeader http.Header) bool {
	o.Key = o.Base + variantKey(o.Vary, reqHeader)
	o.Seal()
	s.mu.Lock()
	if o.RequestTime.Before(s.purgedAt[o.Host]) {
		s.mu.Unlock()
		return false
	}
	bi := s.bases[o.Base]
	if bi == nil {
		bi = &baseInfo{keys: map[string]struct{}{}}
		s.bases[o.Base] = bi
	}
	if !equalStrings(bi.vary, o.Vary) {
		// The resource changed what it varies on: older variants can no
		// longer be selected; drop them.
		for k := range bi.keys {
			if k != o.Key {
				defer s.mem.Invalidate(k)
			}
		}
	}
	bi.vary = o.Vary
	s.mu.Unlock()
	s.mem.Set(o.Key, o)
	s.index(o)
	s.stored.Add(1)
	if s.disk != nil {
		s.disk.put(o)
	}
	return true
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (s *Store) index(o *Object) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.hosts[o.Host]
	if m == nil {
		m = map[string]*Object{}
		s.hosts[o.Host] = m
	}
	m[o.Key] = o
	if bi := s.bases[o.Base]; bi != nil {
		bi.keys[o.Key] = struct{}{}
	}
}

func (s *Store) unindex(o *Object) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.hosts[o.Host]; m != nil && m[o.Key] == o {
		delete(m, o.Key)
		if len(m) == 0 {
			delete(s.hosts, o.Host)
		}
		if bi := s.bases[o.Base]; bi != nil {
			delete(bi.keys, o.Key)
			if len(bi.keys) == 0 {
				delete(s.bases, o.Base)
			}
		}
	}
}

// Remove drops one object if it is still the stored one.
func (s *Store) Remove(o *Object) {
	if cur, ok := s.mem.GetIfPresent(o.Key); ok && cur == o {
		s.mem.Invalidate(o.Key)
	}
	if s.disk != nil {
		s.disk.remove(o.Key)
	}
}

// InvalidateURL drops every variant of a URL on a host, for both schemes:
// pathQuery is the normalised path and query. It returns how many objects
// were removed.
func (s *Store) InvalidateURL(host, pathQuery string) int {
	return s.Purge(host, time.Time{}, func(o *Object) bool {
		return o.pathQuery() == pathQuery
	})
}

func (o *Object) pathQuery() string {
	i := strings.Index(o.Base, "://")
	if i < 0 {
		return ""
	}
	rest := o.Base[i+3:]
	if j := strings.IndexByte(rest, '/'); j >= 0 {
		return rest[j:]
	}
	return "/"
}

// Purge removes a host's objects that match and were stored before
// `before` (the zero time means all of them). It returns how many went.
func (s *Store) Purge(host string, before time.Time, match func(o *Object) bool) int {
	s.mu.Lock()
	if !before.IsZero() && before.After(s.purgedAt[host]) {
		s.purgedAt[host] = before
	}
	var victims []*Object
	for _, o := range s.hosts[host] {
		if (before.IsZero() || o.StoredAt.Before(before)) && match(o) {
			victims = append(victims, o)
		}
	}
	s.mu.Unlock()
	keys := map[string]bool{}
	for _, o := range victims {
		s.Remove(o)
		s.unindex(o)
		keys[o.Key] = true
	}
	if s.disk != nil {
		for _, k := range s.disk.purge(host, before, match) {
			keys[k] = true
		}
	}
	n := len(keys)
	s.purged.Add(uint64(n))
	return n
}

// Len is the number of objects in memory.
func (s *Store) Len() int { return s.mem.EstimatedSize() }

// Bytes is the memory tier's weighted size.
func (s *Store) Bytes() uint64 { return s.mem.WeightedSize() }

// Stats are the store's counters.
func (s *Store) Stats() (stored, evicted, purged uint64) {
	return s.stored.Load(), s.evicted.Load(), s.purged.Load()
}

// Close flushes the disk tier.
func (s *Store) Close() error {
	if s.disk != nil {
		return s.disk.close()
	}
	return nil
}

// Flight coalesces concurrent misses for one key: the first request fetches
// from the origin, the others wait for it. Once the leader sees the
// response head it either releases the others at once (the response cannot
// be stored: they go to the origin themselves, and the key is remembered as
// uncacheable for a while so later requests do not queue) or keeps them
// until the body is stored.
type Flight struct {
	done    chan struct{}
	decided chan struct{}
	once    sync.Once
	pass    bool
	// Stored is set before done closes when the leader stored a response
	// the followers can use.
	Stored bool
}

// passFor is how long a key stays known as uncacheable.
const passFor = 30 * time.Second

// maxPassKeys bounds the uncacheable-key memory.
const maxPassKeys = 100000

// Join returns the flight for key; leader is true for the request that
// must fetch. The leader must call Finish. A key known to be uncacheable
// gets no flight (nil, false): fetch alone.
func (s *Store) Join(key string) (f *Flight, leader bool) {
	s.flightMu.Lock()
	defer s.flightMu.Unlock()
	if until, ok := s.pass[key]; ok {
		if s.cfg.Now().Before(until) {
			return nil, false
		}
		delete(s.pass, key)
	}
	if f := s.flights[key]; f != nil {
		return f, false
	}
	f = &Flight{done: make(chan struct{}), decided: make(chan struct{})}
	s.flights[key] = f
	return f, true
}

// Pass is called by a leader whose response cannot be stored: waiting
// requests go to the origin now and the key skips coalescing for a while.
func (s *Store) Pass(key string, f *Flight) {
	s.flightMu.Lock()
	if s.flights[key] == f {
		delete(s.flights, key)
	}
	if len(s.pass) >= maxPassKeys {
		now := s.cfg.Now()
		for k, until := range s.pass {
			if now.After(until) {
				delete(s.pass, k)
			}
		}
		if len(s.pass) >= maxPassKeys {
			clear(s.pass)
		}
	}
	s.pass[key] = s.cfg.Now().Add(passFor)
	s.flightMu.Unlock()
	f.once.Do(func() { f.pass = true; close(f.decided) })
}

// Finish ends the leader's flight. A stored response also clears the key's
// uncacheable mark.
func (s *Store) Finish(key string, f *Flight, stored bool) {
	s.flightMu.Lock()
	if s.flights[key] == f {
		delete(s.flights, key)
	}
	if stored {
		delete(s.pass, key)
	}
	s.flightMu.Unlock()
	f.Stored = stored
	f.once.Do(func() { close(f.decided) })
	close(f.done)
}

// Wait waits for the flight's leader, at most d; it reports whether the
// leader finished and stored a usable response.
func (f *Flight) Wait(d time.Duration, cancel <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-f.decided:
		if f.pass {
			return false
		}
	case <-t.C:
		return false
	case <-cancel:
		return false
	}
	select {
	case <-f.done:
		return f.Stored
	case <-t.C:
	case <-cancel:
	}
	return false
}
