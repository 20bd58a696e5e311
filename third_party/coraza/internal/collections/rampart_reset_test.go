// Copyright 2026 Rampart contributors
// SPDX-License-Identifier: Apache-2.0

package collections

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/corazawaf/coraza/v3/types/variables"
)

// TestMapResetReuse: a Map that cuts new keys' value lists from an arena
// it takes back at Reset holds, after any sequence of changes and Resets
// (bursts of keys too many for the arena among them), what a plain map of
// lists holds (Rampart fork).
func TestMapResetReuse(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	keys := []string{"a", "B", "c", "d", "e", "F", "g"}
	for _, sensitive := range []bool{false, true} {
		m := NewMap(variables.TX)
		if sensitive {
			m = NewCaseSensitiveKeyMap(variables.RequestCookies)
		}
		want := map[string][]string{}
		norm := func(k string) string {
			if sensitive {
				return k
			}
			return strings.ToLower(k)
		}
		var ops []string
		for step := 0; step < 20000; step++ {
			k := keys[rng.Intn(len(keys))]
			v := fmt.Sprint(step)
			switch op := rng.Intn(12); {
			case op < 3:
				m.Add(k, v)
				want[norm(k)] = append(want[norm(k)], v)
				ops = append(ops, "Add "+k)
			case op < 5:
				m.AddLower(k, norm(k), v)
				want[norm(k)] = append(want[norm(k)], v)
				ops = append(ops, "AddLower "+k)
			case op == 5:
				m.SetOne(k, v)
				want[norm(k)] = []string{v}
				ops = append(ops, "SetOne "+k)
			case op == 6:
				m.Set(k, []string{v, v})
				want[norm(k)] = []string{v, v}
				ops = append(ops, "Set "+k)
			case op == 8 && !sensitive:
				i := len(want[norm(k)])
				if i > 0 {
					i = rng.Intn(i + 1)
				}
				m.SetIndex(k, i, v)
				if i < len(want[norm(k)]) {
					want[norm(k)][i] = v
				} else {
					want[norm(k)] = append(want[norm(k)], v)
				}
				ops = append(ops, fmt.Sprintf("SetIndex %s %d", k, i))
			case op == 9 && !sensitive:
				m.SetOneID(KeyID(norm(k)), norm(k), v)
				want[norm(k)] = []string{v}
				ops = append(ops, "SetOneID "+k)
			case op == 10:
				for i := range 300 { // more keys than an arena holds
					m.Add(fmt.Sprint("burst", i), v)
				}
				m.Reset()
				clear(want)
				ops = append(ops, "burst, Reset")
			case op == 7:
				m.Remove(k)
				delete(want, norm(k))
				ops = append(ops, "Remove "+k)
			default:
				m.Reset()
				clear(want)
				ops = append(ops, "Reset")
			}
			if len(ops) > 12 {
				ops = ops[1:]
			}
			if m.Len() != len(want) {
				t.Fatalf("sensitive=%v after %v: Len %d, want %d", sensitive, ops, m.Len(), len(want))
			}
			total := 0
			for _, k := range keys {
				got, w := m.Get(k), want[norm(k)]
				if !slices.Equal(got, w) {
					t.Fatalf("sensitive=%v after %v: Get(%q) = %v, want %v", sensitive, ops, k, got, w)
				}
			}
			for _, w := range want {
				total += len(w)
			}
			if m.TotalValues() != total || len(m.FindAll()) != total {
				t.Fatalf("sensitive=%v after %v: %d values (FindAll %d), want %d", sensitive, ops, m.TotalValues(), len(m.FindAll()), total)
			}
		}
	}
}

// TestMapResetAllocs: once its arena has grown, a Map that is reset and
// given the same keys again allocates nothing (Rampart fork).
func TestMapResetAllocs(t *testing.T) {
	m := NewMap(variables.TX)
	keys := []string{"a", "b", "c", "d", "e", "f"}
	fill := func() {
		m.Reset()
		for _, k := range keys {
			m.SetOne(k, "1")
		}
		m.AddLower("G", "g", "2")
	}
	for range 4 {
		fill() // the map and the arena grow
	}
	if n := testing.AllocsPerRun(100, fill); n != 0 {
		t.Errorf("Reset and refill allocate %v times, want none", n)
	}
}
