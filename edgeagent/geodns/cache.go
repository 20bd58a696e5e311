package geodns

import "net/netip"

// packetCache remembers encoded responses by query, like PowerDNS's packet
// cache: a resolver asking the same question (same name spelling, type,
// flags and client subnet) from the same address gets the same bytes with
// its own ID. An entry is only valid for the health state and name index
// it was computed from, so a withdrawn region or a new site is seen at
// once. Each UDP worker has its own cache, so there is no locking; when full
// it is emptied (bounded memory, amortised cost).
type packetCache struct {
	m   map[string]cacheEntry
	key []byte
}

type cacheEntry struct {
	st   *state
	idx  *nameIndex
	resp []byte
}

const (
	cacheMaxEntries = 4096
	cacheMaxQuery   = 512 // larger queries are not cached
)

func newPacketCache() *packetCache {
	return &packetCache{m: make(map[string]cacheEntry, 256), key: make([]byte, 0, 64+cacheMaxQuery)}
}

// makeKey is the source address and the query without its ID.
func (c *packetCache) makeKey(pkt []byte, src netip.Addr) []byte {
	a := src.As16()
	c.key = append(append(c.key[:0], a[:]...), pkt[2:]...)
	return c.key
}

// answer returns the response to pkt from src over UDP: from the cache when
// it holds one for the current state, else computed by r and stored.
func (r *responder) answer(pkt []byte, src netip.Addr) []byte {
	c := r.cache
	if c == nil || len(pkt) < 12 || len(pkt) > cacheMaxQuery {
		return r.handle(pkt, src, true)
	}
	st, idx := r.s.st.Load(), r.s.index()
	key := c.makeKey(pkt, src)
	if e, ok := c.m[string(key)]; ok && e.st == st && e.idx == idx {
		out := append(r.buf[:0], e.resp...)
		out[0], out[1] = pkt[0], pkt[1]
		return out
	}
	out := r.handle(pkt, src, true)
	if out == nil {
		return nil
	}
	if len(c.m) >= cacheMaxEntries {
		clear(c.m)
	}
	c.m[string(key)] = cacheEntry{st: st, idx: idx, resp: append([]byte(nil), out...)}
	return out
}
