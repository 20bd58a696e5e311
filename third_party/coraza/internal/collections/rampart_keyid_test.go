// Copyright 2026 Rampart contributors
// SPDX-License-Identifier: Apache-2.0

package collections

import (
	"fmt"
	"maps"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/corazawaf/coraza/v3/internal/corazarules"
	"github.com/corazawaf/coraza/v3/types/variables"
)

// TestMapKeyIDs: lookups by KeyID (lookupID's remembered value lists)
// answer what plain lookups answer after any sequence of changes (new
// keys, lists replaced, appended to and removed, values replaced in
// place, Resets), and a KeySlots writes where SetFirstLower would
// (Rampart fork).
func TestMapKeyIDs(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	keys := []string{"a", "b", "score", "paranoia_level", "x", "y", "z", "w", "v"}
	ids := map[string]int32{}
	for _, k := range keys {
		ids[k] = KeyID(k)
	}
	if KeyID("score") != ids["score"] || ids["a"] == ids["b"] {
		t.Fatalf("KeyID is not one number per key: %v", ids)
	}
	for _, sensitive := range []bool{false, true} {
		m := NewMap(variables.TX)
		if sensitive {
			m = NewCaseSensitiveKeyMap(variables.RequestCookies)
		}
		var slots KeySlots
		var ops []string
		for step := 0; step < 30000; step++ {
			k := keys[rng.Intn(len(keys))]
			if !sensitive && rng.Intn(4) == 0 {
				k = strings.ToUpper(k) // the plain methods take any case
			}
			lk, v := strings.ToLower(k), fmt.Sprint(step)
			switch op := rng.Intn(13); op {
			case 0:
				m.Add(k, v)
			case 1:
				m.AddLower(k, lk, v)
			case 2:
				m.Set(k, strings.Fields(strings.Repeat(v+" ", rng.Intn(3))))
			case 3:
				m.SetOne(k, v)
			case 4:
				m.SetOneID(ids[lk], lk, v)
			case 5:
				m.SetIndex(k, rng.Intn(3), v)
			case 6:
				m.SetFirstLower(lk, v)
			case 7:
				i := int(ids[lk]) % 8 // the same i for the same key
				slots.SetFirst(m, i, keys[i], v)
			case 8:
				m.Remove(k)
			case 9:
				if rng.Intn(20) == 0 {
					m.Reset()
				}
			}
			ops = append(ops, fmt.Sprintf("%d:%s=%s", step, k, v))
			// order lists the map's keys, each once (FindRegexLiteral
			// walks it).
			order := slices.Sorted(slices.Values(m.order))
			if want := slices.Sorted(maps.Keys(m.data)); !slices.Equal(order, want) {
				t.Fatalf("sensitive %v after %v: order %q, keys %q", sensitive, ops[max(0, len(ops)-8):], order, want)
			}
			for _, q := range keys {
				var want, got corazarules.MatchData
				n := m.FindStringInto(q, &want)
				if g := m.FindStringIDInto(ids[q], q, &got); g != n || (n == 1 && got != want) {
					t.Fatalf("sensitive %v, key %s after %v: by id %d %+v, plain %d %+v",
						sensitive, q, ops[max(0, len(ops)-8):], g, got, n, want)
				}
				wv, wok := m.GetFirst(q)
				if gv, gok := m.GetFirstID(ids[q], q); gv != wv || gok != wok {
					t.Fatalf("sensitive %v, key %s after %v: GetFirstID %q %v, GetFirst %q %v",
						sensitive, q, ops[max(0, len(ops)-8):], gv, gok, wv, wok)
				}
			}
		}
	}
}
