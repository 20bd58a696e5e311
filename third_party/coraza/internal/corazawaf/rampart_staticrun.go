// Copyright 2026 Rampart contributors
// SPDX-License-Identifier: Apache-2.0

package corazawaf

import (
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/corazawaf/coraza/v3/experimental/plugins/macro"
	"github.com/corazawaf/coraza/v3/internal/collections"
	"github.com/corazawaf/coraza/v3/internal/corazarules"
	"github.com/corazawaf/coraza/v3/internal/corazatypes"
	"github.com/corazawaf/coraza/v3/types"
	"github.com/corazawaf/coraza/v3/types/variables"
)

// Static runs (Rampart fork). Much of the CRS is bookkeeping that reads
// and writes nothing but TX: the initialisation that begins every request
// (some thirty SecActions and `&TX:x "@eq 0"` defaults), and at the end of
// each phase the paranoia-level gates, markers and anomaly-score sums and
// checks. A run of such rules does the same whenever the TX variables it
// names hold the same values when it starts and nothing pending could
// change its course: so what it does is recorded from a request that runs
// it, and later requests that reach it with the same values copy it
// instead of visiting its rules (a benign request reaches the score sums
// with every score 0, as the last one did).
//
// A rule belongs to a run (staticRule) when it is a parent rule without
// chain, capture or multiMatch that the rule loop applies itself: a
// SecAction or SecMarker whose match is not recorded (Rule.unrecorded)
// and whose actions are setvars of TX naming their variable and reading
// only TX (actions' TXKeys), skipAfter, pass and metadata; or a TX
// comparison (fastReject) whose argument, msg and logdata read only TX,
// with the same actions when its match is not recorded (any other action
// of a recorded rule runs only when it matches, and a match fails the
// recording). A run is a longest sequence of such rules in a phase's
// order, four rules or more, that starts with a SecAction or SecMarker:
// the CRS's gates skip to markers, and a skip that lands inside a run
// makes the request evaluate it (a run starting at the gate before a
// marker was tried: +4% instructions).
// The TX variables it names (targets, setvar keys, macros) are its keys.
//
// What a run leaves, and a copy restores: its keys' values, RULE's id,
// rev and severity, its msg and logdata when the run evaluated a rule
// that sets them, MATCHED_VAR, MATCHED_VAR_NAME and MATCHED_VARS, and a
// skipAfter still looking for its marker; pending RULE fields of earlier
// rules are written first. A recording checks that the run did nothing
// else: no match record, interruption, allow, severity, audit flag, ctl,
// skip or capture. A run keeps up to maxRunSnaps recordings, for
// different starting values.
// ctl:ruleRemoveById or ctl:ruleRemoveTarget* of a rule of the run, a
// skip, allow or interruption pending, and debug logging make a request
// evaluate the run itself.
type staticRun struct {
	order      []int32  // the phase's phaseRules, to tell a rebuilt index
	start, end int      // the run is order[start:end]
	ids        []int    // its rule ids, for ctl:ruleRemoveById and target removals
	idBits     []idWord // the ids' removalBit, by word, to test against Transaction.removalIDs
	keys       []runKey
	captures   bool // a key is a capture variable, TX:0-10
	snaps      atomic.Pointer[[]*runSnap]
	failures   atomic.Int32
	phase      types.RulePhase
	markers    map[string][]int32 // the phase's phaseMarkers, for runSnap.skipPos
}

// runKey is a TX variable a run names.
type runKey struct {
	id  int32 // collections.KeyID
	key string
}

// keyState is a TX variable's values: n of them, value the one when n is 1.
type keyState struct {
	n     int
	value string
}

// runSnap is a recording of a run: the keys' values when it started, and
// what it left.
type runSnap struct {
	entry, exit                []keyState
	viaSkip                    bool  // entered by a skipAfter to the run's first rule, a marker
	changed                    []int // the keys whose exit differs from their entry
	matchedVarSet              bool  // the run set MATCHED_VAR and MATCHED_VAR_NAME
	id, rev, severity          string
	msg, logData               []string // RULE:msg and RULE:logdata, when a rule of the run sets them
	matchedVar, matchedVarName string
	matchedVars                [][3]string // name, lower-case name, value
	skipAfter                  string
	skipPos                    []int32 // skipAfter's positions in the run's phase
}

// Limits: recordings a run keeps, and recordings that may fail before a
// run is no longer recorded.
const (
	maxRunSnaps    = 4
	maxRunFailures = 16
)

// runRecording is a recording in progress: what its end compares.
type runRecording struct {
	run               *staticRun
	entry             []keyState
	viaSkip           bool
	matchedVarSets    int
	matched           int
	highestSeverity   string
	audit             bool
	removeByID        int
	removeRanges      int
	targetRemovals    int
	ruleEngine        types.RuleEngineStatus
	requestBodyAccess bool
	// msg and logData: the run evaluated a rule with a msg, a logdata
	// (RULE's fields are then the run's; Eval sets them).
	msg, logData bool
}

// staticActions are the actions a rule of a run whose matches are not
// recorded may have besides setvars of TX (actions' TXKeys): none does
// anything at evaluation but skipAfter.
var staticActions = map[string]bool{
	"id": true, "phase": true, "pass": true, "log": true, "nolog": true, "auditlog": true,
	"noauditlog": true, "tag": true, "ver": true, "rev": true, "maturity": true, "accuracy": true,
	"t": true, "skipAfter": true, "skipafter": true,
}

// staticRule reports whether r may be a rule of a run (see staticRun),
// and the TX variables it names (targets, setvar keys, macros).
func staticRule(r *Rule) ([]string, bool) {
	if r.ParentID_ != noID || r.Chain != nil || r.Capture || r.MultiMatch {
		return nil, false
	}
	var keys []string
	// A recorded comparison may have any action: it runs only when the
	// rule matches, and a match fails the recording.
	anyAction := false
	switch {
	case r.directAction:
		if !r.unrecorded {
			return nil, false
		}
	case r.fastReject && r.variables[0].Variable == variables.TX:
		k, only := argumentTXKeys(r.operator.Data)
		if !only {
			return nil, false
		}
		keys = append(k, r.variables[0].KeyStr)
		for _, m := range []macro.Macro{r.Msg, r.LogData} {
			if m == nil {
				continue
			}
			k, only := macro.Keys(m, variables.TX)
			if !only {
				return nil, false
			}
			keys = append(keys, k...)
		}
		anyAction = !r.unrecorded
	default:
		return nil, false
	}
	for _, a := range r.actions {
		if f, ok := a.Function.(interface {
			TXKeys() (string, []string, bool)
		}); ok {
			if k, reads, only := f.TXKeys(); only {
				keys = append(append(keys, k), reads...)
				continue
			}
		} else if staticActions[a.Name] {
			continue
		}
		if !anyAction {
			return nil, false
		}
	}
	return keys, true
}

// argumentTXKeys returns the variables an operator's argument names with
// %{tx.…}, and whether it names no other.
func argumentTXKeys(data string) ([]string, bool) {
	var keys []string
	for {
		i := strings.Index(data, "%{")
		if i < 0 {
			return keys, true
		}
		data = data[i+2:]
		name, _, _ := strings.Cut(data, "}")
		col, key, _ := strings.Cut(name, ".")
		if !strings.EqualFold(col, "tx") {
			return nil, false
		}
		keys = append(keys, strings.ToLower(key))
	}
}

// buildRuns finds each phase's static runs (after buildPhaseRules and
// the rules' prescreen flags).
func (rg *RuleGroup) buildRuns() {
	rg.runs = nil
	if rg.phaseRules == nil {
		return
	}
	runs := &[types.PhaseLogging + 1][]*staticRun{}
	for p := types.PhaseRequestHeaders; p < types.PhaseLogging; p++ {
		order := rg.phaseRules[p]
		var run *staticRun
		seen := map[string]bool{}
		flush := func() {
			if run != nil && run.end-run.start >= 4 {
				runs[p] = append(runs[p], run)
			}
			run = nil
			clear(seen)
		}
		for k, i := range order {
			r := &rg.rules[i]
			keys, ok := staticRule(r)
			switch {
			case !ok:
				flush()
				continue
			case run == nil && r.operator != nil:
				continue // a run starts with a SecAction or SecMarker
			case run == nil:
				run = &staticRun{order: order, phase: p, markers: rg.phaseMarkers[p], start: k}
			}
			run.end = k + 1
			run.ids = append(run.ids, r.ID_)
			run.idBits = addRemovalBit(run.idBits, removalBit(r.ID_))
			for _, key := range keys {
				key = strings.ToLower(key)
				if key == "" || seen[key] {
					continue
				}
				seen[key] = true
				if n, err := strconv.Atoi(key); err == nil && n >= 0 && n <= 10 {
					run.captures = true
				}
				run.keys = append(run.keys, runKey{id: collections.KeyID(key), key: key})
			}
		}
		flush()
	}
	rg.runs = runs
}

// runUsable reports whether tx, about to run the rule at position
// run.start, may copy or record the run: no skip (but a skipAfter to the
// run's first rule, viaSkip), allow or interruption pending, no debug
// lines to write, and none of the run's rules removed or narrowed by a
// ctl.
func (tx *Transaction) runUsable(run *staticRun, viaSkip bool) bool {
	if tx.warnOn || tx.SkipAfter != "" && !viaSkip || tx.Skip != 0 || tx.AllowType != corazatypes.AllowTypeUnset ||
		tx.IsInterrupted() {
		return false
	}
	removals := len(tx.ruleRemoveByID) != 0 || len(tx.ruleRemoveByIDRanges) != 0
	if !removals && (len(tx.ruleRemoveTargetByID) == 0 || !tx.mayHaveRemovalsOf(run.idBits)) {
		return true // no id of the run has had a target removed
	}
	if removals && tx.removesID(0) {
		return false // markers
	}
	for _, id := range run.ids {
		if removals && tx.removesID(id) || tx.hasTargetRemovals(id) {
			return false
		}
	}
	return true
}

// idWord is a word of a set of removalBits: bits m of Transaction.removalIDs[w].
type idWord struct {
	w int32
	m uint64
}

// addRemovalBit adds bit b to the set ws (words in increasing order).
func addRemovalBit(ws []idWord, b uint32) []idWord {
	w, m := int32(b>>6), uint64(1)<<(b&63)
	i, found := slices.BinarySearchFunc(ws, w, func(x idWord, w int32) int { return int(x.w - w) })
	if found {
		ws[i].m |= m
		return ws
	}
	return slices.Insert(ws, i, idWord{w: w, m: m})
}

// mayHaveRemovalsOf reports whether a removal may have been made for an
// id whose bit is in ws.
func (tx *Transaction) mayHaveRemovalsOf(ws []idWord) bool {
	for _, x := range ws {
		if tx.removalIDs[x.w]&x.m != 0 {
			return true
		}
	}
	return false
}

// runKeyStates returns the run's keys' values in tx. While TX holds only
// what a new transaction puts there (no key added and no list replaced
// since: the capture variables' values may have changed in place), a key
// that is not a capture variable is absent (the CRS's initialisation).
func (tx *Transaction) runKeyStates(run *staticRun, dst []keyState) []keyState {
	if tx.txPristine(run) {
		for range run.keys {
			dst = append(dst, keyState{})
		}
		return dst
	}
	var md corazarules.MatchData
	for _, k := range run.keys {
		s := keyState{n: tx.variables.tx.FindStringIDInto(k.id, k.key, &md)}
		if s.n == 1 {
			s.value = md.Value_
		}
		dst = append(dst, s)
	}
	return dst
}

// txPristine reports whether TX holds only what a new transaction puts
// there and run names no capture variable: then run's keys are absent.
func (tx *Transaction) txPristine(run *staticRun) bool {
	g, kg := tx.variables.tx.Gens()
	return g == tx.txGen && kg == tx.txKeysGen && !run.captures
}

// enterRun is called with the loop at run.start, viaSkip when a
// skipAfter looks for the run's first rule, a marker (which then ends the
// skip without being evaluated): it copies a recording made from the same
// entry and starting values and returns true, or returns false and, when
// a recording may be made, the recording begun.
func (tx *Transaction) enterRun(run *staticRun, viaSkip bool) (bool, *runRecording) {
	if !tx.runUsable(run, viaSkip) {
		return false, nil
	}
	snaps := run.snaps.Load()
	if snaps == nil && run.failures.Load() >= maxRunFailures {
		return false, nil
	}
	entry := tx.runKeyStates(run, tx.runScratch[:0])
	tx.runScratch = entry[:0]
	if snaps != nil {
		for _, s := range *snaps {
			if s.viaSkip == viaSkip && sameStates(s.entry, entry) {
				if viaSkip {
					tx.SkipAfter = "" // what the marker does
				}
				tx.applyRun(run, s)
				return true, nil
			}
		}
		if len(*snaps) >= maxRunSnaps || run.failures.Load() >= maxRunFailures {
			return false, nil
		}
	}
	return false, &runRecording{
		run:               run,
		entry:             append([]keyState(nil), entry...),
		viaSkip:           viaSkip,
		matchedVarSets:    tx.matchedVarSets,
		matched:           len(tx.matchedRules),
		highestSeverity:   tx.variables.highestSeverity.Get(),
		audit:             tx.audit,
		removeByID:        len(tx.ruleRemoveByID),
		removeRanges:      len(tx.ruleRemoveByIDRanges),
		targetRemovals:    len(tx.ruleRemoveTargetByID),
		ruleEngine:        tx.RuleEngine,
		requestBodyAccess: tx.RequestBodyAccess,
	}
}

func sameStates(a, b []keyState) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// endRunRecording records what the run left in tx, when the run did
// nothing a copy would not do.
func (tx *Transaction) endRunRecording(rec *runRecording) {
	run := rec.run
	if len(tx.matchedRules) != rec.matched || tx.variables.highestSeverity.Get() != rec.highestSeverity ||
		tx.audit != rec.audit || len(tx.ruleRemoveByID) != rec.removeByID ||
		len(tx.ruleRemoveByIDRanges) != rec.removeRanges || len(tx.ruleRemoveTargetByID) != rec.targetRemovals ||
		tx.RuleEngine != rec.ruleEngine || tx.RequestBodyAccess != rec.requestBodyAccess ||
		tx.IsInterrupted() || tx.AllowType != corazatypes.AllowTypeUnset || tx.Skip != 0 || tx.Capture {
		run.failures.Add(1)
		return
	}
	// The lazy RULE fields and MATCHED_VARS entry written, as the copy
	// writes them.
	tx.flushPendingRule(nil)
	tx.writeDeferredMV()
	s := &runSnap{
		entry:          rec.entry,
		viaSkip:        rec.viaSkip,
		matchedVarSet:  tx.matchedVarSets != rec.matchedVarSets,
		exit:           tx.runKeyStates(run, nil),
		id:             ruleField(tx, "id"),
		rev:            ruleField(tx, "rev"),
		severity:       ruleField(tx, "severity"),
		matchedVar:     tx.variables.matchedVar.Get(),
		matchedVarName: tx.variables.matchedVarName.Get(),
		skipAfter:      tx.SkipAfter,
		skipPos:        run.markers[tx.SkipAfter],
	}
	for i := range s.exit {
		if s.entry[i].n > 1 || s.exit[i].n > 1 {
			run.failures.Add(1) // several values: not what a copy writes
			return
		}
		if s.exit[i] != s.entry[i] {
			s.changed = append(s.changed, i)
		}
	}
	if rec.msg {
		s.msg = tx.variables.rule.Get("msg")
	}
	if rec.logData {
		s.logData = tx.variables.rule.Get("logdata")
	}
	for _, md := range tx.variables.matchedVars.FindAll() {
		s.matchedVars = append(s.matchedVars, [3]string{md.Key(), strings.ToLower(md.Key()), md.Value()})
	}
	for {
		old := run.snaps.Load()
		var next []*runSnap
		if old != nil {
			if len(*old) >= maxRunSnaps {
				return
			}
			for _, o := range *old {
				if o.viaSkip == s.viaSkip && sameStates(o.entry, s.entry) {
					return // recorded meanwhile by another request
				}
			}
			next = append(next, *old...)
		}
		next = append(next, s)
		if run.snaps.CompareAndSwap(old, &next) {
			return
		}
	}
}

// ruleField is RULE's field key, "" when it has none.
func ruleField(tx *Transaction, key string) string {
	v, _ := tx.variables.rule.GetFirst(key)
	return v
}

// applyRun does what the run would do (enterRun found s's starting values
// in tx).
func (tx *Transaction) applyRun(run *staticRun, s *runSnap) {
	tx.flushPendingRule(nil)
	mv := tx.variables.matchedVars
	if mv.Len() > 0 {
		mv.Reset()
	}
	tx.deferredMV = false
	// In a pristine TX (the CRS's initialisation) the keys are absent:
	// added without looking them up.
	pristine := tx.txPristine(run)
	for _, i := range s.changed {
		k, e := run.keys[i], s.exit[i]
		switch {
		case e.n == 0:
			tx.variables.tx.Remove(k.key)
		case pristine:
			tx.variables.tx.AddNew(k.key, e.value)
		default:
			tx.variables.tx.SetOneID(k.id, k.key, e.value)
		}
	}
	if !tx.ruleElided() {
		col := tx.variables.rule
		tx.ruleSlots.SetFirst(col, 0, "id", s.id)
		tx.ruleSlots.SetFirst(col, 2, "rev", s.rev)
		tx.ruleSlots.SetFirst(col, 4, "severity", s.severity)
		if len(s.msg) > 0 {
			tx.ruleSlots.SetFirst(col, 1, "msg", s.msg[0])
		}
		if len(s.logData) > 0 {
			tx.ruleSlots.SetFirst(col, 3, "logdata", s.logData[0])
		}
	}
	if s.matchedVarSet {
		tx.variables.matchedVar.Set(s.matchedVar)
		tx.variables.matchedVarName.Set(s.matchedVarName)
		tx.matchedVarSets++
	}
	for _, e := range s.matchedVars {
		mv.AddLower(e[0], e[1], e[2])
	}
	tx.SkipAfter = s.skipAfter
	if s.skipAfter != "" {
		tx.skipHint = skipHint{name: s.skipAfter, phase: run.phase, pos: s.skipPos}
	}
}

// RunState reports how many static runs the group has and how many have
// a recording (tests).
func (rg *RuleGroup) RunState() (runs, recorded int) {
	if rg.runs == nil {
		return 0, 0
	}
	for _, rs := range rg.runs {
		for _, r := range rs {
			runs++
			if s := r.snaps.Load(); s != nil && len(*s) > 0 {
				recorded++
			}
		}
	}
	return runs, recorded
}
