// Copyright 2026 Rampart contributors
// SPDX-License-Identifier: BSD-3-Clause

package libinjection

// Rampart fork: sqlKeywords as an open-addressing hash table. The tokenizer
// looks up every word of every value @detectSQLi sees, and the fingerprint
// check one key per value, in sqlKeywords' 9,352 entries (keywords and
// fingerprints). In Go's map each look-up hashes the key, probes a group
// and follows the stored key's pointer to compare it: for a 4 KB JSON body
// that was ~7% of the CRS inspection, in cache misses. Here the keys are
// packed into one string, a slot holds its entry's index, and an entry its
// key's offset, length and value: ~260 KB, about half the map's memory.

// kwEntry is one key of sqlKeywords: kwKeys[off:off+n] and its value.
type kwEntry struct {
	off uint32
	n   uint8
	val byte
}

// kwTable is the table: slots of entry index + 1 (0 = empty), a power of
// two at least twice the number of keys, probed linearly.
type kwTable struct {
	slots []uint32
	ents  []kwEntry
	keys  string
	mask  uint32
}

var keywordTable = newKWTable(sqlKeywords)

func newKWTable(m map[string]byte) *kwTable {
	size := 1
	for size < 2*len(m) {
		size <<= 1
	}
	t := &kwTable{slots: make([]uint32, size), ents: make([]kwEntry, 0, len(m)), mask: uint32(size - 1)}
	var keys []byte
	for k, v := range m {
		if len(k) > 255 {
			panic("libinjection: keyword longer than 255 bytes: " + k)
		}
		t.ents = append(t.ents, kwEntry{off: uint32(len(keys)), n: uint8(len(k)), val: v})
		keys = append(keys, k...)
		h := kwHash(k) & t.mask
		for t.slots[h] != 0 {
			h = (h + 1) & t.mask
		}
		t.slots[h] = uint32(len(t.ents))
	}
	t.keys = string(keys)
	return t
}

// kwHash is 32-bit FNV-1a.
func kwHash[S ~string | ~[]byte](s S) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// lookup returns key's value, as sqlKeywords[string(key)] would.
func (t *kwTable) lookup(key []byte) (byte, bool) {
	h := kwHash(key) & t.mask
	for {
		s := t.slots[h]
		if s == 0 {
			return 0, false
		}
		e := t.ents[s-1]
		if int(e.n) == len(key) && t.keys[e.off:e.off+uint32(e.n)] == string(key) {
			return e.val, true
		}
		h = (h + 1) & t.mask
	}
}
