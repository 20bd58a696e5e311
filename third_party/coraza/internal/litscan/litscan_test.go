// Copyright 2026 Rampart contributors
// SPDX-License-Identifier: Apache-2.0

package litscan

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestScanFindsEveryOwner compares Scan with strings.Contains on random
// literals and inputs over a small alphabet, where literals overlap and
// nest (the cases suffix links exist for).
func TestScanFindsEveryOwner(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	word := func(n int) string {
		const alphabet = "abAB.c"
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	for range 200 {
		lits := make([][]string, 1+rng.IntN(8))
		for o := range lits {
			for range 1 + rng.IntN(4) {
				lits[o] = append(lits[o], strings.ToLower(word(1+rng.IntN(4))))
			}
		}
		set := New(lits)
		slots := make([]int32, len(lits))
		for i := range slots {
			slots[i] = int32(i)
		}
		seen := make([]uint32, len(lits))
		for mark := uint32(1); mark <= 50; mark++ {
			in := word(rng.IntN(12))
			got := set.Scan(in, seen, mark, nil)
			slices.Sort(got)
			var want []int32
			for o, ls := range lits {
				for _, l := range ls {
					if strings.Contains(strings.ToLower(in), l) {
						want = append(want, int32(o))
						break
					}
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("literals %q, input %q: owners %v, want %v", lits, in, got, want)
			}
		}
	}
}
