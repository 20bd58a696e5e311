// Copyright 2026 Rampart contributors
// SPDX-License-Identifier: BSD-3-Clause

package libinjection

import (
	"math/rand"
	"strings"
	"testing"
)

// TestSearchKeywordFastPath compares searchKeyword with the strings.ToUpper
// lookup it shortcuts (Rampart fork), on every keyword in every case mix
// and on random words.
func TestSearchKeywordFastPath(t *testing.T) {
	want := func(key string) byte {
		if v, ok := sqlKeywords[strings.ToUpper(key)]; ok {
			return v
		}
		return byteNull
	}
	rng := rand.New(rand.NewSource(5))
	mix := func(s string) string {
		b := []byte(s)
		for i := range b {
			if rng.Intn(2) == 0 {
				b[i] = strings.ToLower(string(b[i]))[0]
			}
		}
		return string(b)
	}
	n := 0
	for k := range sqlKeywords {
		for _, key := range []string{k, strings.ToLower(k), mix(k), k + "x", "é" + k} {
			if got := searchKeyword(key); got != want(key) {
				t.Fatalf("searchKeyword(%q) = %q, want %q", key, got, want(key))
			}
			n++
		}
	}
	const alphabet = "abcdefxyzSELECTunion_0123456789.$@ ßéK\\u212a"
	for i := 0; i < 100000; i++ {
		b := make([]byte, rng.Intn(70))
		for j := range b {
			b[j] = alphabet[rng.Intn(len(alphabet))]
		}
		if got := searchKeyword(string(b)); got != want(string(b)) {
			t.Fatalf("searchKeyword(%q) = %q, want %q", b, got, want(string(b)))
		}
	}
	if n < 1000 {
		t.Fatalf("only %d keywords checked", n)
	}
}

// TestKeywordTableIsTheMap holds keywordTable to sqlKeywords (Rampart
// fork): every key and every fingerprint-style key the blacklist builds
// finds its value, and keys that are not there, near misses included, are
// not found.
func TestKeywordTableIsTheMap(t *testing.T) {
	check := func(key string) {
		t.Helper()
		want, wantOK := sqlKeywords[key]
		got, ok := keywordTable.lookup([]byte(key))
		if got != want || ok != wantOK {
			t.Fatalf("lookup(%q) = %q, %v; want %q, %v", key, got, ok, want, wantOK)
		}
	}
	for k := range sqlKeywords {
		check(k)
		check(k[:len(k)-1])
		check(k + "X")
		check("0" + k)
	}
	check("")
	rng := rand.New(rand.NewSource(9))
	const alphabet = "01sn&(o)1vkUEfTcB;X"
	for i := 0; i < 200000; i++ {
		b := make([]byte, rng.Intn(8))
		for j := range b {
			b[j] = alphabet[rng.Intn(len(alphabet))]
		}
		check(string(b))
	}
}
