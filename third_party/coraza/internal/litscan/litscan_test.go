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
// nest (the cases suffix links exist for), with every state in the dense
// table and with only the root's row there (every step but the root's
// through edges and suffix links).
//
// Inputs of up to 40 bytes with splitMin 1 are scanned as two halves
// (scanPair) whenever they are four times the longest literal.
func TestScanFindsEveryOwner(t *testing.T) {
	for _, maxDense := range []int{maxDenseEntries, 0, 40} {
		testScanFindsEveryOwner(t, maxDense, defaultSplitMin, 12)
		testScanFindsEveryOwner(t, maxDense, 1, 40)
	}
}

func testScanFindsEveryOwner(t *testing.T, maxDense, splitMin, maxInput int) {
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
		lits := make([][]string, 1+rng.IntN(150))
		for o := range lits {
			for range 1 + rng.IntN(4) {
				lits[o] = append(lits[o], strings.ToLower(word(1+rng.IntN(4))))
			}
		}
		set := newSet(lits, maxDense)
		set.splitMin = splitMin
		slots := make([]int32, len(lits))
		for i := range slots {
			slots[i] = int32(i)
		}
		bits := make([]uint64, set.Words())
		for range 50 {
			in := word(rng.IntN(maxInput))
			clear(bits)
			set.ScanBits(in, bits)
			var got []int32
			for o := range lits {
				if bits[o/64]&(1<<(o%64)) != 0 {
					got = append(got, int32(o))
				}
			}
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

// BenchmarkScan scans a 1 KB text and a 4 KB JSON document with a set the
// size of the CRS's phase-2 literals (some 30,000 states).
func BenchmarkScan(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	const alphabet = "abcdefghijklmnopqrstuvwxyz_.()<>-$/"
	lits := make([][]string, 250)
	for o := range lits {
		for range 20 {
			n := 3 + rng.IntN(10)
			w := make([]byte, n)
			for i := range w {
				w[i] = alphabet[rng.IntN(len(alphabet))]
			}
			lits[o] = append(lits[o], string(w))
		}
	}
	set := New(lits)
	bits := make([]uint64, set.Words())
	var json strings.Builder
	json.WriteString("[")
	for i := range 70 {
		if i > 0 {
			json.WriteString(",")
		}
		json.WriteString(`{"id":12,"sku":"W-1000","qty":3,"price":17.5,"tag":"green"}`)
	}
	json.WriteString("]")
	for _, in := range []struct{ name, s string }{
		{"text1K", strings.Repeat("rampart!", 128)},
		{"json4K", json.String()},
	} {
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.s)))
			for b.Loop() {
				clear(bits)
				set.ScanBits(in.s, bits)
			}
		})
	}
}
