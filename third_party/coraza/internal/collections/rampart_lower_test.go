// Copyright 2026 The Rampart authors
// SPDX-License-Identifier: Apache-2.0

package collections

import (
	"github.com/corazawaf/coraza/v3/internal/corazarules"
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

// TestMapLookupCase: FindStringInto, GetFirst and SetOne look a key up as
// it is first and lower-case it only when it is not there (Map.lookup);
// with random mixed-case, non-ASCII and absent keys they must answer as
// the key's lower-case form does, in a map that is not case-sensitive,
// and exactly by the key in one that is.
func TestMapLookupCase(t *testing.T) {
	keys := []string{"score", "Score", "SCORE", "detection_paranoia_level", "Detection_Paranoia_Level", "é", "É", "k", "\u212a", "", "absent", "Absent"}
	rng := rand.New(rand.NewSource(1))
	for _, sensitive := range []bool{false, true} {
		m := NewMap(0)
		if sensitive {
			m = NewCaseSensitiveKeyMap(0)
		}
		model := map[string]string{} // key as filed -> first value
		file := func(k string) string {
			if sensitive {
				return k
			}
			return strings.ToLower(k)
		}
		for i := 0; i < 20000; i++ {
			k := keys[rng.Intn(len(keys))]
			switch rng.Intn(4) {
			case 0:
				v := string(rune('a' + rng.Intn(26)))
				m.SetOne(k, v)
				model[file(k)] = v
			case 1:
				m.Remove(k)
				delete(model, file(k))
			default:
				want, ok := model[file(k)]
				if got, gotOK := m.GetFirst(k); got != want || gotOK != ok {
					t.Fatalf("sensitive %v: GetFirst(%q) = %q, %v; want %q, %v", sensitive, k, got, gotOK, want, ok)
				}
				if k == "" {
					continue // FindStringInto leaves "" to FindAll
				}
				var md corazarules.MatchData
				n := m.FindStringInto(k, &md)
				if (n == 1) != ok || ok && md.Value() != want {
					t.Fatalf("sensitive %v: FindStringInto(%q) = %d %q; want %q, %v", sensitive, k, n, md.Value(), want, ok)
				}
			}
		}
	}
}
