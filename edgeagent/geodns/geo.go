package geodns

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"

	"github.com/oschwald/maxminddb-golang/v2"
)

// prefixTable is a longest-prefix-match table: one map per prefix length in
// use, probed from the longest length down. Tables here hold a handful of
// lengths, so a lookup is a few map probes and no allocation.
type prefixTable[T any] struct {
	lens4, lens6 []int // descending
	m            map[netip.Prefix]T
}

func (t *prefixTable[T]) insert(p netip.Prefix, v T) {
	if t.m == nil {
		t.m = map[netip.Prefix]T{}
	}
	p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-unmapBits(p)).Masked()
	if _, dup := t.m[p]; dup {
		return // the first entry for a prefix wins
	}
	t.m[p] = v
	lens := &t.lens6
	if p.Addr().Is4() {
		lens = &t.lens4
	}
	if !slices.Contains(*lens, p.Bits()) {
		*lens = append(*lens, p.Bits())
		slices.Sort(*lens)
		slices.Reverse(*lens)
	}
}

// unmapBits is how many bits an IPv4-mapped IPv6 prefix loses when written
// as IPv4.
func unmapBits(p netip.Prefix) int {
	if p.Addr().Is4In6() {
		return 96
	}
	return 0
}

func (t *prefixTable[T]) lookup(a netip.Addr) (v T, ok bool) {
	if len(t.m) == 0 {
		return v, false
	}
	lens := t.lens6
	if a.Is4() {
		lens = t.lens4
	}
	for _, l := range lens {
		p, err := a.Prefix(l)
		if err != nil {
			continue
		}
		if v, ok = t.m[p]; ok {
			return v, true
		}
	}
	return v, false
}

// geoRecord is the part of a GeoIP2/GeoLite2 City or Country record GeoDNS
// reads.
type geoRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	Continent struct {
		Code string `maxminddb:"code"`
	} `maxminddb:"continent"`
}

// geoDB places addresses with a MaxMind-format database. Many networks
// share one data record, so the preference chosen for a record is cached
// by the record's offset (bounded: a City database has many records).
type geoDB struct {
	r      *maxminddb.Reader
	choose func(country, continent string) int // preference index, -1 for none

	mu    sync.RWMutex
	cache map[uintptr]int
}

const geoCacheMax = 1 << 16

func openGeoDB(path string, choose func(country, continent string) int) (*geoDB, error) {
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("geoip_db: %w", err)
	}
	return &geoDB{r: r, choose: choose, cache: map[uintptr]int{}}, nil
}

// lookup returns the preference index for a, or -1.
func (g *geoDB) lookup(a netip.Addr) int {
	res := g.r.Lookup(a)
	if !res.Found() {
		return -1
	}
	off := res.Offset()
	g.mu.RLock()
	idx, ok := g.cache[off]
	g.mu.RUnlock()
	if ok {
		return idx
	}
	var rec geoRecord
	if err := res.Decode(&rec); err != nil {
		return -1
	}
	idx = g.choose(rec.Country.ISOCode, rec.Continent.Code)
	g.mu.Lock()
	if len(g.cache) < geoCacheMax {
		g.cache[off] = idx
	}
	g.mu.Unlock()
	return idx
}

func (g *geoDB) close() error { return g.r.Close() }
