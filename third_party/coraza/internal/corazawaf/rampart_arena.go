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
// By default chunks belong to one transaction: reset drops them without
// reusing them, so a record a caller still holds after the transaction is
// closed is never overwritten. With reuse (WAFConfig.WithRecordReuse) reset
// keeps the chunks and the next transaction taken from the pool writes its
// records over them: no allocation and memory that is still in the CPU's
// caches, for a caller that reads the records only until Close. A list is
// handed out with capacity 1, so an append to it copies rather than
// writing over its neighbour.
type matchArena struct {
	mds   []corazarules.MatchData
	lists []types.MatchData
	rules []corazarules.MatchedRule

	// With reuse: every chunk made, in the order made, and how many of
	// each kind the current transaction has taken.
	reuse                   bool
	mdChunks                [][]corazarules.MatchData
	listChunks              [][]types.MatchData
	ruleChunks              [][]corazarules.MatchedRule
	mdUsed, listUsed, rUsed int
}

const (
	arenaMatches = 32
	arenaRules   = 16
	// arenaKept bounds the chunks of each kind a pooled transaction
	// keeps: a request matching more (an attack with many matched values)
	// takes fresh chunks beyond it, which are not kept.
	arenaKept = 8
	// maxKeptMatchedRules bounds the MatchedRules list a pooled
	// transaction keeps with record reuse; maxKeptTargetRemovals the
	// ctl:ruleRemoveTarget* list it keeps (empty).
	maxKeptMatchedRules   = 256
	maxKeptTargetRemovals = 64
)

// reset forgets the chunks (the records in them stay valid), or with
// reuse starts handing out the same chunks again.
func (a *matchArena) reset(reuse bool) {
	if !reuse {
		*a = matchArena{}
		return
	}
	if !a.reuse {
		*a = matchArena{reuse: true}
	}
	a.mds, a.lists, a.rules = nil, nil, nil
	a.mdUsed, a.listUsed, a.rUsed = 0, 0, 0
}

// nextChunk returns the chunk after the used ones, empty, making it when
// there is none (or when chunks are not reused).
func nextChunk[T any](a *matchArena, chunks *[][]T, used *int, size int) []T {
	if !a.reuse || *used == arenaKept {
		return make([]T, 0, size)
	}
	if *used == len(*chunks) {
		*chunks = append(*chunks, make([]T, 0, size))
	}
	c := (*chunks)[*used][:0]
	*used++
	return c
}

// match returns a new MatchData with these fields.
func (a *matchArena) match(v variables.RuleVariable, key, value string, chainLevel int) *corazarules.MatchData {
	if len(a.mds) == cap(a.mds) {
		a.mds = nextChunk(a, &a.mdChunks, &a.mdUsed, arenaMatches)
	}
	a.mds = append(a.mds, corazarules.MatchData{Variable_: v, Key_: key, Value_: value, ChainLevel_: chainLevel})
	return &a.mds[len(a.mds)-1]
}

// list returns a list holding md, with capacity 1.
func (a *matchArena) list(md types.MatchData) []types.MatchData {
	if len(a.lists) == cap(a.lists) {
		a.lists = nextChunk(a, &a.listChunks, &a.listUsed, arenaMatches)
	}
	a.lists = append(a.lists, md)
	n := len(a.lists)
	return a.lists[n-1 : n : n]
}

// rule returns a new zero MatchedRule.
func (a *matchArena) rule() *corazarules.MatchedRule {
	if len(a.rules) == cap(a.rules) {
		a.rules = nextChunk(a, &a.ruleChunks, &a.rUsed, arenaRules)
	}
	a.rules = append(a.rules, corazarules.MatchedRule{})
	return &a.rules[len(a.rules)-1]
}
