// Copyright 2026 The Rampart authors
// SPDX-License-Identifier: Apache-2.0

package collections

import (
	"encoding/binary"
	"strings"
	"unsafe"
)

// LowerKey is strings.ToLower(key), without a copy for a key that is lower
// case already (Rampart fork: the transaction lower-cases each header name
// once, for its own tests and for Map.AddLower).
func LowerKey(key string) string { return lowerKey(key) }

// lowerKey is strings.ToLower(key) (Rampart fork). The keys a Map is asked
// for are nearly always lower-case ASCII already (the CRS's TX variable
// names, read ~200 times per request), for which strings.ToLower returns
// its argument after testing every byte twice; isLowerASCII tests eight
// bytes at a time.
func lowerKey(key string) string {
	if isLowerASCII(key) {
		return key
	}
	return strings.ToLower(key)
}

const (
	lanes  = 0x0101010101010101
	highs  = 0x8080808080808080
	belowA = lanes * (0x80 - 'A')     // a byte >= 'A' gets its high bit
	aboveZ = lanes * (0x80 - 'Z' - 1) // a byte > 'Z' gets its high bit
)

// isLowerASCII reports whether s holds only ASCII bytes none of which is
// an upper-case letter: the strings strings.ToLower returns unchanged
// without making a copy.
func isLowerASCII(s string) bool {
	b := unsafe.Slice(unsafe.StringData(s), len(s)) // read only
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		if w&highs != 0 {
			return false
		}
		// Every byte is below 0x80, so neither sum carries into the next
		// byte: a byte in 'A'..'Z' has the high bit set in the first sum
		// and not in the second.
		if (w+belowA)&^(w+aboveZ)&highs != 0 {
			return false
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || 'A' <= c && c <= 'Z' {
			return false
		}
	}
	return true
}

// lookup returns key's values, the key they are filed under and whether
// there is one: key itself when the map has it, else, in a map that is
// not case-sensitive, its lower-case form (Rampart fork). Such a map files
// every value under a lower-case key, so a key found as it is is its own
// lower-case form and needs no test; the CRS's TX variables are asked for
// ~400 times a request, nearly always by names that are there.
func (c *Map) lookup(key string) ([]keyValue, string, bool) {
	if values, ok := c.data[key]; ok || c.isCaseSensitive {
		return values, key, ok
	}
	lower := lowerKey(key)
	if len(lower) == len(key) && unsafe.StringData(lower) == unsafe.StringData(key) {
		return nil, key, false // already lower case: not there
	}
	values, ok := c.data[lower]
	return values, lower, ok
}
