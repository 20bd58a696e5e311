// Copyright 2026 The Rampart authors
// SPDX-License-Identifier: Apache-2.0

package corazawaf

import (
	"github.com/corazawaf/coraza/v3/internal/corazarules"
	"github.com/corazawaf/coraza/v3/types"
	"github.com/corazawaf/coraza/v3/types/variables"
)

// matchArena hands out the records a rule match leaves (MatchData, the
// one-element list holding it, MatchedRule) from chunks instead of one
// allocation each (Rampart fork). With the CRS a benign request matches
// ~150 times: the paranoia-level skips, the initialisation SecActions and
// every SecMarker.
//
// Chunks belong to one transaction: reset drops them without reusing
// them, so a record a caller still holds after the transaction is closed
// is never overwritten. A list is handed out with capacity 1, so an
// append to it copies rather than writing over its neighbour.
type matchArena struct {
	mds   []corazarules.MatchData
	lists []types.MatchData
	rules []corazarules.MatchedRule
}

const (
	arenaMatches = 32
	arenaRules   = 16
)

// reset forgets the chunks (the records in them stay valid).
func (a *matchArena) reset() { *a = matchArena{} }

// match returns a new MatchData with these fields.
func (a *matchArena) match(v variables.RuleVariable, key, value string, chainLevel int) *corazarules.MatchData {
	if len(a.mds) == cap(a.mds) {
		a.mds = make([]corazarules.MatchData, 0, arenaMatches)
	}
	a.mds = append(a.mds, corazarules.MatchData{Variable_: v, Key_: key, Value_: value, ChainLevel_: chainLevel})
	return &a.mds[len(a.mds)-1]
}

// list returns a list holding md, with capacity 1.
func (a *matchArena) list(md types.MatchData) []types.MatchData {
	if len(a.lists) == cap(a.lists) {
		a.lists = make([]types.MatchData, 0, arenaMatches)
	}
	a.lists = append(a.lists, md)
	n := len(a.lists)
	return a.lists[n-1 : n : n]
}

// rule returns a new zero MatchedRule.
func (a *matchArena) rule() *corazarules.MatchedRule {
	if len(a.rules) == cap(a.rules) {
		a.rules = make([]corazarules.MatchedRule, 0, arenaRules)
	}
	a.rules = append(a.rules, corazarules.MatchedRule{})
	return &a.rules[len(a.rules)-1]
}
