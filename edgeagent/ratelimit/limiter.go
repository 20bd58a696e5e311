// Package ratelimit enforces a site's rate limits (api.RateLimitPolicy) on
// the request path.
//
// Limits are per edge node: each agent counts in its own memory and nothing
// is shared across a region, so a client whose requests are spread over n
// nodes can get up to n times a rule's rate. That keeps the check a few
// hundred nanoseconds with no network round trip, and a node that is cut
// off keeps limiting.
//
// Each key (site, rule, client) is one GCRA cell (a token bucket stored as
// one timestamp). Keys live in a fixed number of slots split over shards;
// when a shard is full the CLOCK algorithm evicts a key not used since the
// hand last passed, so memory stays bounded however many clients there
// are. An evicted client starts again with a full bucket.
package ratelimit

import (
	"hash/maphash"
	"sync"
	"time"
)

// DefaultMaxKeys is how many keys a Limiter remembers unless told otherwise
// (about 40 bytes each).
const DefaultMaxKeys = 1 << 18

const numShards = 64

// Config sizes a Limiter.
type Config struct {
	// MaxKeys bounds the keys remembered; 0 means DefaultMaxKeys.
	MaxKeys int
}

// Limiter holds the buckets of every site on this node. It is safe for
// concurrent use.
type Limiter struct {
	seed   maphash.Seed
	epoch  time.Time
	shards [numShards]shard
}

type shard struct {
	mu    sync.Mutex
	idx   map[uint64]int32
	slots []slot
	max   int
	hand  int
	_     [64]byte // keep shards on separate cache lines
}

type slot struct {
	key uint64
	tat int64 // theoretical arrival time, ns since epoch
	ref bool
}

// New returns an empty limiter.
func New(cfg Config) *Limiter {
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	per := max(cfg.MaxKeys/numShards, 1)
	l := &Limiter{seed: maphash.MakeSeed(), epoch: time.Now()}
	for i := range l.shards {
		l.shards[i].idx = make(map[uint64]int32)
		l.shards[i].max = per
	}
	return l
}

// Len returns the number of keys remembered.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.idx)
		s.mu.Unlock()
	}
	return n
}

// take spends one token of the bucket key (one token per interval, up to
// burst at once). It returns whether the request may pass, the tokens left,
// and when refused how long until the next token.
func (l *Limiter) take(key uint64, interval int64, burst int, now time.Time) (ok bool, remaining int, wait time.Duration) {
	t := int64(now.Sub(l.epoch))
	tau := interval * int64(burst)
	s := &l.shards[key&(numShards-1)]
	s.mu.Lock()
	defer s.mu.Unlock()
	i, found := s.idx[key]
	tat := t
	if found {
		sl := &s.slots[i]
		sl.ref = true
		tat = max(sl.tat, t)
	}
	newTAT := tat + interval
	allowAt := newTAT - tau
	if t < allowAt {
		return false, 0, time.Duration(allowAt - t)
	}
	if found {
		s.slots[i].tat = newTAT
	} else {
		s.insert(key, newTAT)
	}
	return true, int((t - allowAt) / interval), 0
}

// insert adds key, evicting with CLOCK when the shard is full.
func (s *shard) insert(key uint64, tat int64) {
	if len(s.slots) < s.max {
		s.idx[key] = int32(len(s.slots))
		s.slots = append(s.slots, slot{key: key, tat: tat})
		return
	}
	for {
		sl := &s.slots[s.hand]
		if !sl.ref {
			delete(s.idx, sl.key)
			*sl = slot{key: key, tat: tat}
			s.idx[key] = int32(s.hand)
			s.hand = (s.hand + 1) % len(s.slots)
			return
		}
		sl.ref = false
		s.hand = (s.hand + 1) % len(s.slots)
	}
}
