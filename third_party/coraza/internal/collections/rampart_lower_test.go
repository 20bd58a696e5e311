// Copyright 2026 The Rampart authors
// SPDX-License-Identifier: Apache-2.0

package collections

import (
	"math/rand"
	"strings"
	"testing"
)

// TestLowerKey compares lowerKey with strings.ToLower, and isLowerASCII
// with its definition, on every byte at every position of strings up to
// 20 bytes long and on random strings.
func TestLowerKey(t *testing.T) {
	check := func(s string) {
		t.Helper()
		if got, want := lowerKey(s), strings.ToLower(s); got != want {
			t.Fatalf("lowerKey(%q) = %q, want %q", s, got, want)
		}
		want := true
		for i := 0; i < len(s); i++ {
			if c := s[i]; c >= 0x80 || 'A' <= c && c <= 'Z' {
				want = false
			}
		}
		if got := isLowerASCII(s); got != want {
			t.Fatalf("isLowerASCII(%q) = %v, want %v", s, got, want)
		}
	}
	for n := 0; n <= 20; n++ {
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				b := []byte(strings.Repeat("tx_var.9", 3)[:n])
				b[pos] = byte(c)
				check(string(b))
			}
		}
	}
	rng := rand.New(rand.NewSource(1))
	alphabet := "aZzA@[`{09_-.\x7f\x80\xc3\xa9K\xe2\x84\xaa"
	for i := 0; i < 100000; i++ {
		b := make([]byte, rng.Intn(40))
		for j := range b {
			b[j] = alphabet[rng.Intn(len(alphabet))]
		}
		check(string(b))
	}
}

func BenchmarkLowerKey(b *testing.B) {
	for _, k := range []string{"detection_paranoia_level", "Detection_paranoia_level"} {
		b.Run(k[:1], func(b *testing.B) {
			for b.Loop() {
				lowerKey(k)
			}
		})
		b.Run(k[:1]+"/strings", func(b *testing.B) {
			for b.Loop() {
				strings.ToLower(k)
			}
		})
	}
}
