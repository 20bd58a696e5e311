// Copyright 2026 The Rampart authors
// SPDX-License-Identifier: Apache-2.0

package coraza_test

import (
	"fmt"
	"net/url"
	"slices"
	"testing"

	"github.com/corazawaf/coraza/v3"
)

// gateRules repeat TX comparisons (the same variable, operator and
// argument, as the CRS's paranoia-level gates do) around every kind of
// change to TX: a capture replacing TX:1 in place, a setvar replacing a
// value in place, a new variable, a removed one. A transaction keeps a
// comparison's outcome only while TX is unchanged (Rule.gate).
const gateRules = `
SecRuleEngine On
SecAction "id:1,phase:2,pass,nolog,setvar:tx.level=1"
SecRule ARGS:a "@rx ^(.)" "id:2,phase:2,pass,nolog,capture"
SecRule TX:1 "@streq x" "id:3,phase:2,pass,log"
SecRule ARGS:b "@rx ^(.)" "id:4,phase:2,pass,nolog,capture"
SecRule TX:1 "@streq x" "id:5,phase:2,pass,log"
SecRule TX:level "@lt 2" "id:6,phase:2,pass,log"
SecRule ARGS:c "@streq up" "id:7,phase:2,pass,nolog,setvar:tx.level=+5"
SecRule TX:level "@lt 2" "id:8,phase:2,pass,log"
SecRule &TX:extra "@eq 0" "id:9,phase:2,pass,log"
SecRule ARGS:d "@streq add" "id:10,phase:2,pass,nolog,setvar:tx.extra=1"
SecRule &TX:extra "@eq 0" "id:11,phase:2,pass,log"
SecRule ARGS:e "@streq rm" "id:12,phase:2,pass,nolog,setvar:!tx.level"
SecRule TX:level "@lt 2" "id:13,phase:2,pass,log"
SecRule &TX:level "@eq 0" "id:14,phase:2,pass,log"
`

// TestGateOutcomes: with the prescreen on (fastEval keeps the outcomes),
// the comparisons match as with it off, whichever changes the request
// makes to TX between them.
func TestGateOutcomes(t *testing.T) {
	engine := func(prescreen bool) coraza.WAF {
		w, err := coraza.NewWAF(coraza.NewWAFConfig().WithDirectives(gateRules).WithPrescreen(prescreen))
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	on, off := engine(true), engine(false)
	matched := func(w coraza.WAF, q url.Values) []int {
		tx := w.NewTransaction()
		defer tx.Close()
		tx.ProcessURI("/?"+q.Encode(), "GET", "HTTP/1.1")
		tx.ProcessRequestHeaders()
		if _, err := tx.ProcessRequestBody(); err != nil {
			t.Fatal(err)
		}
		var ids []int
		for _, mr := range tx.MatchedRules() {
			ids = append(ids, mr.Rule().ID())
		}
		return ids
	}
	sawChange := false
	for mask := 0; mask < 1<<5; mask++ {
		q := url.Values{}
		set := func(bit int, k, yes, no string) {
			if mask&(1<<bit) != 0 {
				q.Set(k, yes)
			} else {
				q.Set(k, no)
			}
		}
		set(0, "a", "x", "y")
		set(1, "b", "x", "y")
		set(2, "c", "up", "no")
		set(3, "d", "add", "no")
		set(4, "e", "rm", "no")
		got, want := matched(on, q), matched(off, q)
		if !slices.Equal(got, want) {
			t.Fatalf("%s: prescreen on matched %v, off %v", q.Encode(), got, want)
		}
		// The repeated comparisons disagree somewhere, or the test
		// tests nothing.
		sawChange = sawChange || slices.Contains(got, 3) != slices.Contains(got, 5) ||
			slices.Contains(got, 6) != slices.Contains(got, 8) || slices.Contains(got, 9) != slices.Contains(got, 11) ||
			slices.Contains(got, 6) != slices.Contains(got, 13)
	}
	if !sawChange {
		t.Fatal("no request changed a comparison's outcome: " + fmt.Sprint(matched(off, url.Values{"a": {"x"}, "b": {"y"}})))
	}
}

// TestGateOutcomeAfterRunCopy: a comparison made before a static run adds
// its variable to a pristine TX (the copy of the run's recording, from the
// second transaction on: Map.AddNew; the SecActions are unrecorded, as
// the engine runs the CRS) is made again after it.
func TestGateOutcomeAfterRunCopy(t *testing.T) {
	const rules = `
SecRuleEngine On
SecRule &TX:level "@eq 0" "id:1,phase:1,pass,log"
SecAction "id:2,phase:1,pass,nolog,setvar:tx.level=1"
SecAction "id:3,phase:1,pass,nolog,setvar:tx.a=1"
SecAction "id:4,phase:1,pass,nolog,setvar:tx.b=1"
SecAction "id:5,phase:1,pass,nolog,setvar:tx.c=1"
SecRule ARGS:x "@streq never" "id:6,phase:1,pass,log"
SecRule &TX:level "@eq 0" "id:7,phase:1,pass,log"
`
	w, err := coraza.NewWAF(coraza.NewWAFConfig().WithDirectives(rules).WithPrescreen(true).WithQuietMatchesUnrecorded(true))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // the first records the run, the others copy it
		tx := w.NewTransaction()
		tx.ProcessURI("/?x=1", "GET", "HTTP/1.1")
		tx.ProcessRequestHeaders()
		var ids []int
		for _, mr := range tx.MatchedRules() {
			ids = append(ids, mr.Rule().ID())
		}
		tx.Close()
		if !slices.Contains(ids, 1) || slices.Contains(ids, 7) {
			t.Fatalf("transaction %d matched %v: want rule 1 and not 7, which must see TX:level set by the run", i, ids)
		}
	}
}
