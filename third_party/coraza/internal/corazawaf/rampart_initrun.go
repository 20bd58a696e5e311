// Copyright 2026 Rampart contributors
// SPDX-License-Identifier: Apache-2.0

package corazawaf

import (
	"strings"
	"sync/atomic"

	"github.com/corazawaf/coraza/v3/experimental/plugins/macro"
	"github.com/corazawaf/coraza/v3/internal/corazatypes"
	"github.com/corazawaf/coraza/v3/types"
	"github.com/corazawaf/coraza/v3/types/variables"
)

// The initialisation run (Rampart fork). The CRS begins every request the
// same way: some thirty SecActions and `&TX:x "@eq 0"` checks that set the
// same TX variables to the same defaults, each a visit of the rule loop
// with its operator, match and setvars. A run of rules that read nothing
// but TX does the same for every request that reaches it with TX as a new
// transaction has it (only the empty captures TX:0-10) and nothing pending
// that could change its course: so its outcome is recorded once, from the
// first request that runs it, and later requests copy it.
//
// A rule belongs to the run (initStatic) when it is a parent rule without
// chain, capture or multiMatch that the rule loop applies itself: a
// SecAction or SecMarker whose match is not recorded (Rule.unrecorded)
// and whose actions are setvars of TX reading only TX (actions.OnlyTX),
// skipAfter, pass and metadata; or a TX comparison (fastReject) whose
// argument, msg and logdata read only TX, with the same actions when its
// match is not recorded (any other action of a recorded rule runs only
// when it matches, and the recording then fails). The run starts at the
// first such SecAction of phase 1, which always matches (so the run sets
// MATCHED_VAR and MATCHED_VAR_NAME), and ends before the first rule that
// is not one.
//
// What the run leaves, and the copy restores: TX, RULE's id, rev and
// severity, its msg and logdata when the run evaluated a rule that sets
// them, MATCHED_VAR, MATCHED_VAR_NAME and MATCHED_VARS, and a skipAfter
// still looking for its marker. Pending RULE fields of earlier rules are
// written first. The recording checks that nothing else changed: no match
// record, interruption, allow, severity, audit flag, ctl, skip or capture;
// a phase that ends within the run is not recorded. ctl:ruleRemoveById or
// ctl:ruleRemoveTarget* of a rule of the run, and debug logging, make a
// request evaluate the run itself.
type initRun struct {
	order      []int32 // phaseRules[PhaseRequestHeaders], to tell a rebuilt index
	start, end int     // the run is order[start:end]
	ids        []int   // the run's rule ids, for ctl:ruleRemoveById and target removals
	snap       atomic.Pointer[initSnap]
	failed     atomic.Bool // the recording found the run is not a pure function of TX
}

// initSnap is what the run leaves (see initRun).
type initSnap struct {
	tx                         [][2]string // key, value
	id, rev, severity          string
	msg, logData               []string // RULE:msg and RULE:logdata, when a rule of the run sets them
	matchedVar, matchedVarName string
	matchedVars                [][3]string // name, lower-case name, value
	skipAfter                  string
}

// initRecording is the state a recording compares at its end.
type initRecording struct {
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

// initStaticActions are the actions a rule of the run whose matches are
// not recorded may have besides setvars of TX (checked with OnlyTX): none
// does anything at evaluation but skipAfter.
var initStaticActions = map[string]bool{
	"id": true, "phase": true, "pass": true, "log": true, "nolog": true, "auditlog": true,
	"noauditlog": true, "tag": true, "ver": true, "rev": true, "maturity": true, "accuracy": true,
	"t": true, "skipAfter": true, "skipafter": true,
}

// initStatic reports whether r may be a rule of the initialisation run: a
// SecAction or SecMarker with only initStaticActions, or a TX comparison
// (fastReject) whose argument, msg and logdata read only TX and which,
// when its matches are not recorded (Rule.unrecorded), has only
// initStaticActions. Any other action of a comparison runs only when it
// matches, and such a match is recorded: the recording then fails.
func initStatic(r *Rule) bool {
	if r.ParentID_ != noID || r.Chain != nil || r.Capture || r.MultiMatch {
		return false
	}
	switch {
	case r.directAction:
		if !r.unrecorded {
			return false
		}
	case r.fastReject:
		if !argumentReadsOnlyTX(r.operator.Data) ||
			r.Msg != nil && !macro.ReadsOnly(r.Msg, variables.TX) ||
			r.LogData != nil && !macro.ReadsOnly(r.LogData, variables.TX) {
			return false
		}
		if !r.unrecorded {
			return true
		}
	default:
		return false
	}
	for _, a := range r.actions {
		if f, ok := a.Function.(interface{ OnlyTX() bool }); ok {
			if !f.OnlyTX() {
				return false
			}
			continue
		}
		if !initStaticActions[a.Name] {
			return false
		}
	}
	return true
}

// argumentReadsOnlyTX reports whether every macro of an operator's
// argument is %{tx.…}.
func argumentReadsOnlyTX(data string) bool {
	for {
		i := strings.Index(data, "%{")
		if i < 0 {
			return true
		}
		data = data[i+2:]
		name, _, _ := strings.Cut(data, "}")
		col, _, _ := strings.Cut(name, ".")
		if !strings.EqualFold(col, "tx") {
			return false
		}
	}
}

// buildInitRun finds the initialisation run of phase 1 (after
// buildPhaseRules).
func (rg *RuleGroup) buildInitRun() {
	rg.initRun = nil
	if rg.phaseRules == nil {
		return
	}
	order := rg.phaseRules[types.PhaseRequestHeaders]
	start := -1
	for k, i := range order {
		if r := &rg.rules[i]; r.operator == nil && r.ID_ != noID && r.SecMark_ == "" && initStatic(r) {
			start = k
			break
		}
	}
	if start < 0 {
		return
	}
	end := start
	for end < len(order) && initStatic(&rg.rules[order[end]]) {
		end++
	}
	if end-start < 4 {
		return // not worth a copy
	}
	run := &initRun{order: order, start: start, end: end}
	for _, i := range order[start:end] {
		run.ids = append(run.ids, rg.rules[i].ID_)
	}
	rg.initRun = run
}

// initRunUsable reports whether tx, about to run the rule at position
// run.start of phase 1, starts it as the recording did: TX as the new
// transaction set it (the empty capture variables TX:0-10), no
// skip, allow or interruption pending, no debug lines to write, and none
// of the run's rules removed or narrowed by a ctl.
func (tx *Transaction) initRunUsable(run *initRun) bool {
	if tx.warnOn || tx.SkipAfter != "" || tx.Skip != 0 || tx.AllowType != corazatypes.AllowTypeUnset ||
		tx.IsInterrupted() || tx.variables.tx.Mods() != tx.txMods {
		return false
	}
	removals := len(tx.ruleRemoveByID) != 0 || len(tx.ruleRemoveByIDRanges) != 0
	if !removals && tx.targetRemovals == 0 {
		return true
	}
	if removals && tx.removesID(0) {
		return false // markers
	}
	for _, id := range run.ids {
		if removals && tx.removesID(id) || tx.mayHaveRemovals(id) {
			return false
		}
	}
	return true
}

// beginInitRecording notes what the end of the recording compares.
func (tx *Transaction) beginInitRecording() *initRecording {
	return &initRecording{
		matched:           len(tx.matchedRules),
		highestSeverity:   tx.variables.highestSeverity.Get(),
		audit:             tx.audit,
		removeByID:        len(tx.ruleRemoveByID),
		removeRanges:      len(tx.ruleRemoveByIDRanges),
		targetRemovals:    tx.targetRemovals,
		ruleEngine:        tx.RuleEngine,
		requestBodyAccess: tx.RequestBodyAccess,
	}
}

// endInitRecording records what the run left in tx, when the run did
// nothing a copy would not do.
func (tx *Transaction) endInitRecording(run *initRun, rec *initRecording) {
	if len(tx.matchedRules) != rec.matched || tx.variables.highestSeverity.Get() != rec.highestSeverity ||
		tx.audit != rec.audit || len(tx.ruleRemoveByID) != rec.removeByID ||
		len(tx.ruleRemoveByIDRanges) != rec.removeRanges || tx.targetRemovals != rec.targetRemovals ||
		tx.RuleEngine != rec.ruleEngine || tx.RequestBodyAccess != rec.requestBodyAccess ||
		tx.IsInterrupted() || tx.AllowType != corazatypes.AllowTypeUnset || tx.Skip != 0 || tx.Capture {
		run.failed.Store(true)
		return
	}
	// The lazy RULE fields and MATCHED_VARS entry written, as the copy
	// writes them.
	tx.flushPendingRule(nil)
	tx.writeDeferredMV()
	s := &initSnap{
		id:             tx.variables.rule.Get("id")[0],
		rev:            tx.variables.rule.Get("rev")[0],
		severity:       tx.variables.rule.Get("severity")[0],
		matchedVar:     tx.variables.matchedVar.Get(),
		matchedVarName: tx.variables.matchedVarName.Get(),
		skipAfter:      tx.SkipAfter,
	}
	if rec.msg {
		s.msg = tx.variables.rule.Get("msg")
	}
	if rec.logData {
		s.logData = tx.variables.rule.Get("logdata")
	}
	for _, md := range tx.variables.tx.FindAll() {
		s.tx = append(s.tx, [2]string{md.Key(), md.Value()})
	}
	for _, md := range tx.variables.matchedVars.FindAll() {
		s.matchedVars = append(s.matchedVars, [3]string{md.Key(), strings.ToLower(md.Key()), md.Value()})
	}
	run.snap.Store(s)
}

// applyInitSnap does what the run would do (initRunUsable holds).
func (tx *Transaction) applyInitSnap(s *initSnap) {
	tx.flushPendingRule(nil)
	mv := tx.variables.matchedVars
	if mv.Len() > 0 {
		mv.Reset()
	}
	tx.deferredMV = false
	for _, kv := range s.tx {
		tx.variables.tx.SetOne(kv[0], kv[1])
	}
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
	tx.variables.matchedVar.Set(s.matchedVar)
	tx.variables.matchedVarName.Set(s.matchedVarName)
	for _, e := range s.matchedVars {
		mv.AddLower(e[0], e[1], e[2])
	}
	tx.SkipAfter = s.skipAfter
}

// InitRunState reports whether the group has an initialisation run and
// whether it has been recorded (tests).
func (rg *RuleGroup) InitRunState() (run, recorded bool) {
	if rg.initRun == nil {
		return false, false
	}
	return true, rg.initRun.snap.Load() != nil
}
