package geodns

import (
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// rateLimiter is response rate limiting keyed by client network. It is a
// fixed-size table of GCRA cells (one "theoretical arrival time" each):
// a network whose cell is taken by another simply takes it over, so a flood
// of spoofed sources costs no memory, at worst it resets other networks'
// allowances.
type rateLimiter struct {
	interval int64 // nanoseconds between responses at the steady rate
	burst    int64 // nanoseconds of credit, interval × burst
	slip     int64
	exempt   prefixTable[struct{}]
	seed     maphash.Seed
	shards   [rrlShards]rrlShard
	slipped  atomic.Int64
}

const (
	rrlShards        = 64
	rrlCellsPerShard = 1024 // 64 × 1024 cells × 16 bytes: 1 MiB
)

type rrlShard struct {
	mu    sync.Mutex
	cells [rrlCellsPerShard]rrlCell
	_     [64]byte // keep shards' locks on separate cache lines
}

type rrlCell struct {
	key uint64
	tat int64
}

func newRateLimiter(c RateLimit) *rateLimiter {
	if c.Disabled {
		return nil
	}
	perSecond := c.PerSecond
	if perSecond == 0 {
		perSecond = 100
	}
	burst := c.Burst
	if burst == 0 {
		burst = perSecond
	}
	slip := int64(c.Slip)
	if slip == 0 {
		slip = 2
	}
	rl := &rateLimiter{
		interval: int64(time.Second) / int64(perSecond),
		slip:     slip,
		seed:     maphash.MakeSeed(),
	}
	rl.burst = rl.interval * int64(burst)
	for _, s := range c.Exempt {
		rl.exempt.insert(netip.MustParsePrefix(s), struct{}{})
	}
	return rl
}

// verdict of the rate limiter for one response.
type verdict int

const (
	send verdict = iota
	drop
	slipTC // send a truncated response instead
)

// check charges one response to src's network at now (unix nanoseconds).
func (rl *rateLimiter) check(src netip.Addr, now int64) verdict {
	if rl == nil {
		return send
	}
	if _, ok := rl.exempt.lookup(src); ok {
		return send
	}
	h := rl.hash(src)
	key := h | 1 // never 0, the empty cell
	sh := &rl.shards[h>>58]
	c := &sh.cells[(h>>10)%rrlCellsPerShard]
	sh.mu.Lock()
	if c.key != key {
		c.key, c.tat = key, now
	}
	tat := max(c.tat, now)
	ok := tat-now <= rl.burst-rl.interval
	if ok {
		c.tat = tat + rl.interval
	}
	sh.mu.Unlock()
	if ok {
		return send
	}
	if rl.slip > 0 && rl.slipped.Add(1)%rl.slip == 0 {
		return slipTC
	}
	return drop
}

// hash hashes the client's network: /24 for IPv4, /56 for IPv6.
func (rl *rateLimiter) hash(a netip.Addr) uint64 {
	var b [8]byte
	if a.Is4() {
		v := a.As4()
		copy(b[:3], v[:3])
		b[7] = 4
	} else {
		v := a.As16()
		copy(b[:7], v[:7])
		b[7] = 6
	}
	return maphash.Comparable(rl.seed, binary.BigEndian.Uint64(b[:]))
}
