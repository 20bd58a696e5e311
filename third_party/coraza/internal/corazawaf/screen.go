// Copyright 2026 Rampart contributors
// SPDX-License-Identifier: Apache-2.0

package corazawaf

// The prescreen (Rampart fork). Upstream evaluates rule-major: for every
// rule, every value of every variable is fetched, transformed and handed to
// the operator. On a request with hundreds of arguments that is tens of
// thousands of evaluations, nearly all of which cannot match. The prescreen
// works value-major for the rules where that is provably safe, and skips a
// rule that no value of the phase can match: rule.go doEvaluate returns no
// match right after setting the RULE collection, as an evaluation without a
// match leaves it.
//
// How, per transaction and phase, everything computed on first use:
//   - every value of a variable is searched once, with one automaton over
//     the literal sets of every screened rule of the phase (litscan);
//   - for a group of rules sharing a transformation chain, each value is
//     transformed once (chains sharing a prefix share its steps, and a
//     step is not called for a value without a byte that can make it
//     change anything: transformations.IdentityTriggers); when that
//     changes no more than the case of ASCII letters (the literal search
//     ignores it) the raw value's search stands, otherwise the transformed
//     value is searched (each distinct value once per phase);
//   - a rule is a candidate for the values of its variables whose search
//     found a literal of each of its sets (every value, for a rule with no
//     sets); the operator's prefilter (OperatorPrefilter), if any, is asked
//     about them when the rule is reached. A rule with no candidate that
//     the prefilter lets through is skipped.
//
// A rule is screened only when skipping it cannot change anything:
//   - it has an operator that is not negated and that implements
//     plugintypes.OperatorScreener (an operator that matches nothing
//     leaves no trace: no captures, no matched variables, no actions run);
//     a chained rule is screened in its parent's phase, in which it runs
//     when the parent has matched: screened out, it ends the chain without
//     a match as its evaluation would;
//   - a multiMatch rule is screened with every intermediate value of its
//     chain, as Rule.executeTransformationsMultimatch makes them;
//   - every variable is one of screenVariables, collections that are filled
//     before a phase's rules run and that no action changes, so values seen
//     when the group is screened are the values the rule would see;
//   - the screen reads every value of each collection, whatever the rule's
//     key selectors, exclusions and ctl:ruleRemoveTarget* say: those only
//     narrow what the rule sees, so a superset is sound;
//   - values are transformed with the rule's own chain, the same functions
//     in the same order as Rule.transformArg (a failing step leaves the
//     value as it was).
// Multiphase evaluation (a build tag) is not screened.

import (
	"encoding/binary"
	"math/bits"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/corazawaf/coraza/v3/experimental/plugins/macro"
	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
	"github.com/corazawaf/coraza/v3/internal/collections"
	"github.com/corazawaf/coraza/v3/internal/litscan"
	"github.com/corazawaf/coraza/v3/internal/transformations"
	"github.com/corazawaf/coraza/v3/types"
	"github.com/corazawaf/coraza/v3/types/variables"
	"unsafe"
)

// screenVariables are the collections a screened rule may target: request
// and response data that the transaction fills before the phase that reads
// it and that no action modifies (setvar writes TX; ctl narrows targets).
var screenVariables = map[variables.RuleVariable]bool{
	variables.Args:                 true,
	variables.ArgsGet:              true,
	variables.ArgsPost:             true,
	variables.ArgsNames:            true,
	variables.ArgsGetNames:         true,
	variables.ArgsPostNames:        true,
	variables.RequestCookies:       true,
	variables.RequestCookiesNames:  true,
	variables.RequestHeaders:       true,
	variables.RequestHeadersNames:  true,
	variables.RequestURI:           true,
	variables.RequestURIRaw:        true,
	variables.RequestFilename:      true,
	variables.RequestBasename:      true,
	variables.RequestLine:          true,
	variables.RequestMethod:        true,
	variables.RequestProtocol:      true,
	variables.QueryString:          true,
	variables.RequestBody:          true,
	variables.XML:                  true,
	variables.Files:                true,
	variables.FilesNames:           true,
	variables.ResponseHeaders:      true,
	variables.ResponseHeadersNames: true,
	variables.ResponseBody:         true,
}

// screenPlan is the compiled prescreen of a rule group. Slots number the
// screened rules, owners their literal sets (a rule's are consecutive),
// both phase by phase and, within a phase, group by group, so a phase's
// and a group's are ranges.
type screenPlan struct {
	slots     int             // Rule.screenSlot is 1 + the rule's slot
	rules     []screenRule    // by slot
	ownerSlot []int32         // by owner
	groups    []screenGroup   // rules sharing a phase and transformation chain
	phases    [6]*screenPhase // by phase
	// Transformed values are kept by step: prefix p (a dense number for a
	// chain prefix, screenGroup.prefixSteps) of variable v is at
	// p*steps + varStep[v]-1 (Rampart fork: no map per lookup).
	prefixes int
	steps    int
	varStep  [256]int32
	// states are the phase states transactions borrow while they
	// evaluate a phase (screenBegin, screenEnd): only as many exist as
	// phases are evaluated at once, so the one a phase takes is likely
	// still in the CPU's caches, where a state per transaction (one per
	// request in flight) would not be.
	states sync.Pool
}

// screenPhase is the automaton over the literal sets of a phase's rules;
// its owner o is the plan's owner first+o.
type screenPhase struct {
	first int32
	set   *litscan.Set
}

type screenRule struct {
	group int32
	vars  varSet
	// prefilter confirms a value the literal search found (nil: literals
	// of every set are a possible match).
	prefilter plugintypes.OperatorPrefilter
	// The rule's literal sets are owners [firstOwner, firstOwner+owners);
	// with none, every value is a candidate.
	firstOwner, owners int32
}

type screenGroup struct {
	phase           types.RulePhase
	first, end      int32 // slots
	ownerEnd        int32 // owners: [rules[first].firstOwner, ownerEnd)
	firstOwner      int32
	chain           int     // transformationsID
	prefixes        []int   // transformationPrefixIDs: the chain's every prefix
	prefixSteps     []int32 // prefixes' dense numbers (screenPlan.varStep)
	multiMatch      bool
	transformations []ruleTransformationParams
	// triggers[i] are the byte classes without which step i returns its
	// input unchanged (transformations.IdentityTriggers; all ones when
	// unknown): such a value is not handed to the step.
	triggers []uint64
	// funcs[i] is step i's code pointer when the step is one of the
	// transformations package's (transformations.Pure), else 0: the
	// result of such a step on a slice of values is kept for any chain
	// that reaches the same step with the same slice.
	funcs []uintptr
	vars  []variables.RuleVariable // every owner's, each once
	// always[i] are the slots of the rules without literals that read
	// vars[i]: every value of vars[i] is their candidate.
	always [][]int32
	// anyTrigger is the union of triggers: a value with none of these
	// classes goes through the chain unchanged (a step without an identity
	// mask has every class, and every value has transformations.classAny).
	anyTrigger uint64
}

// screenAnswerable returns the literals that answer r's operator on a
// raw value (plugintypes.OperatorLiteralMatch: @pm), when r transforms
// nothing, does not capture and reads only variables the prescreen
// searches (Rampart fork: answerFromScreen).
func screenAnswerable(r *Rule) ([]string, bool) {
	if r.operator == nil {
		return nil, false
	}
	op, ok := r.operator.Operator.(plugintypes.OperatorLiteralMatch)
	if !ok || !op.LiteralMatch() || len(r.transformations) != 0 || r.Capture || len(r.variables) == 0 {
		return nil, false
	}
	for _, v := range r.variables {
		if !screenVariables[v.Variable] {
			return nil, false
		}
	}
	sets, ok := op.ScreenLiterals()
	if !ok || len(sets) != 1 {
		return nil, false
	}
	return sets[0], true
}

// answerFromScreen answers r's operator on data from the phase's search
// of the raw values, when data is one of them (the same string, not a
// copy) and its variable was searched (or has that one value): known is
// false otherwise. A rule evaluates its raw values after the groups that
// read them were screened, so the search is usually there, and the
// response body, which 951100's @pm reads, is not scanned twice.
func (tx *Transaction) answerFromScreen(r *Rule, data string) (match, known bool) {
	st := tx.screen
	if st == nil || st.plan == nil || tx.WAF.Rules.screen != st.plan || tx.Capture || r.screenAnswerPhase != tx.lastPhase {
		return false, false
	}
	ph := st.plan.phases[tx.lastPhase]
	if ph == nil {
		return false, false
	}
	o := r.screenAnswer - 1 - ph.first
	for _, rv := range r.variables {
		v := rv.Variable
		if st.rawEpoch[v] != st.epoch {
			continue
		}
		raw := &st.raw[v]
		if !raw.scanned && len(raw.values) != 1 {
			continue
		}
		for i, s := range raw.values[:min(len(raw.values), 16)] {
			if len(s) == len(data) && unsafe.StringData(s) == unsafe.StringData(data) {
				found := tx.screenFound(ph, raw, i)
				return found[o>>6]&(1<<(o&63)) != 0, true
			}
		}
	}
	return false, false
}

// anyValueSet reports whether a literal set holds a letter or digit of
// its own (Rampart fork): nearly every value has one, so the set rules
// nothing out, and the search would note its owner at most bytes of every
// value. Sets are required together, so leaving one out keeps the screen
// sound; a rule left with none has every value as a candidate for its
// prefilter, as a rule without literals.
func anyValueSet(set []string) bool {
	return slices.ContainsFunc(set, func(l string) bool {
		return len(l) == 1 && ('a' <= l[0] && l[0] <= 'z' || '0' <= l[0] && l[0] <= '9')
	})
}

// varSet is a set of variables.RuleVariable.
type varSet [4]uint64

func (s *varSet) add(v variables.RuleVariable) { s[uint8(v)>>6] |= 1 << (uint8(v) & 63) }
func (s *varSet) has(v variables.RuleVariable) bool {
	return s[uint8(v)>>6]&(1<<(uint8(v)&63)) != 0
}

// EnablePrescreen compiles the prescreen of the group's rules. Call it once
// the rules are final (after parsing); rules added later are not screened.
func (rg *RuleGroup) EnablePrescreen() {
	if multiphaseEvaluation {
		return
	}
	type member struct {
		rule *Rule
		sets [][]string
		pf   plugintypes.OperatorPrefilter
	}
	type groupKey struct {
		phase      types.RulePhase
		chain      int
		multiMatch bool
	}
	index := map[groupKey]int{}
	var keys []groupKey
	var members [][]member
	for i := range rg.rules {
		// A chained rule is screened too, in its parent's phase: it runs
		// when its parent matched, on the phase's values.
		parent := &rg.rules[i]
		for r := parent; r != nil; r = r.Chain {
			r.screenSlot, r.screenAnswer, r.screenAnswerPhase = 0, 0, 0
			l, pf, ok := screenLiterals(r, parent.Phase_)
			if !ok {
				continue
			}
			l = slices.DeleteFunc(l, anyValueSet)
			k := groupKey{phase: parent.Phase_, chain: r.transformationsID, multiMatch: r.MultiMatch}
			g, ok := index[k]
			if !ok {
				g = len(keys)
				index[k] = g
				keys = append(keys, k)
				members = append(members, nil)
			}
			members[g] = append(members[g], member{rule: r, sets: l, pf: pf})
		}
	}
	p := &screenPlan{}
	for phase := types.PhaseRequestHeaders; phase <= types.PhaseLogging; phase++ {
		first := int32(len(p.ownerSlot))
		var lits [][]string
		for g, k := range keys {
			if k.phase != phase {
				continue
			}
			r0 := members[g][0].rule
			grp := screenGroup{
				phase:           phase,
				first:           int32(p.slots),
				firstOwner:      int32(len(p.ownerSlot)),
				chain:           r0.transformationsID,
				prefixes:        r0.transformationPrefixIDs,
				multiMatch:      r0.MultiMatch,
				transformations: r0.transformations,
			}
			for _, t := range r0.transformations {
				m, ok := transformations.IdentityTriggers(t.Function)
				if !ok {
					m = ^uint64(0)
				}
				grp.triggers = append(grp.triggers, m)
				grp.anyTrigger |= m
				var fn uintptr
				if transformations.Pure(t.Function) {
					fn = reflect.ValueOf(t.Function).Pointer()
				}
				grp.funcs = append(grp.funcs, fn)
			}
			for _, m := range members[g] {
				slot := int32(p.slots)
				p.slots++
				m.rule.screenSlot = slot + 1
				sr := screenRule{group: int32(len(p.groups)), prefilter: m.pf,
					firstOwner: int32(len(p.ownerSlot)), owners: int32(len(m.sets))}
				for _, v := range m.rule.variables {
					sr.vars.add(v.Variable)
					if !slices.Contains(grp.vars, v.Variable) {
						grp.vars = append(grp.vars, v.Variable)
					}
				}
				for _, set := range m.sets {
					p.ownerSlot = append(p.ownerSlot, slot)
					lits = append(lits, set)
				}
				p.rules = append(p.rules, sr)
			}
			grp.end = int32(p.slots)
			grp.ownerEnd = int32(len(p.ownerSlot))
			grp.always = make([][]int32, len(grp.vars))
			for i, v := range grp.vars {
				for slot := grp.first; slot < grp.end; slot++ {
					if sr := &p.rules[slot]; sr.owners == 0 && sr.vars.has(v) {
						grp.always[i] = append(grp.always[i], slot)
					}
				}
			}
			p.groups = append(p.groups, grp)
		}
		// Rules the raw values' search answers (answerFromScreen): their
		// literals are owners of no group, after the groups'.
		for i := range rg.rules {
			parent := &rg.rules[i]
			if parent.Phase_ != phase {
				continue
			}
			for r := parent; r != nil; r = r.Chain {
				if set, ok := screenAnswerable(r); ok {
					r.screenAnswer = int32(len(p.ownerSlot)) + 1
					r.screenAnswerPhase = phase
					p.ownerSlot = append(p.ownerSlot, -1)
					lits = append(lits, set)
				}
			}
		}
		if len(lits) > 0 {
			p.phases[phase] = &screenPhase{first: first, set: litscan.New(lits)}
		}
	}
	prefixNum := map[int]int32{}
	for gi := range p.groups {
		g := &p.groups[gi]
		for _, id := range g.prefixes {
			n, ok := prefixNum[id]
			if !ok {
				n = int32(len(prefixNum))
				prefixNum[id] = n
			}
			g.prefixSteps = append(g.prefixSteps, n)
		}
		for _, v := range g.vars {
			if p.varStep[v] == 0 {
				p.steps++
				p.varStep[v] = int32(p.steps)
			}
		}
	}
	p.prefixes = len(prefixNum)
	rg.screen = p
	rg.buildPhaseRules()
	// RULE:logdata deferral (Rule.logDataDeferrable, doEvaluate), fixed
	// messages (Rule.msgConst).
	for i := range rg.rules {
		for r := &rg.rules[i]; r != nil; r = r.Chain {
			r.logDataDeferrable = r.screenSlot != 0 && r.LogData != nil &&
				!macro.MayRead(r.LogData, variables.Rule)
			r.logDataOverwrites = r.LogData != nil && !macro.MayRead(r.LogData, variables.Rule) &&
				(r.Msg == nil || !macro.MayRead(r.Msg, variables.Rule))
			r.msgConst, r.msgIsConst = "", false
			if r.Msg != nil {
				r.msgConst, r.msgIsConst = macro.Constant(r.Msg)
			}
			msgQuiet := r.Msg == nil || !macro.MayRead(r.Msg, variables.Rule)
			r.ruleQuietStart = msgQuiet && (r.LogData == nil || !macro.MayRead(r.LogData, variables.Rule))
			r.quiet = r.screenSlot != 0 && r.ParentID_ == noID && msgQuiet &&
				(r.LogData == nil || r.logDataDeferrable)
			r.fastReject = r.ParentID_ == noID && r.ruleQuietStart && fastRejectable(r)
			r.directMatch = r.fastReject && r.Chain == nil && r.Msg == nil && r.LogData == nil
			r.directAction = r.operator == nil && r.ParentID_ == noID && r.Chain == nil && !r.MultiMatch &&
				r.Msg == nil && r.LogData == nil
			r.snapOK = true
			for _, m := range []macro.Macro{r.Msg, r.LogData} {
				if m != nil && (macro.MayRead(m, variables.MatchedVars) || macro.MayRead(m, variables.MatchedVarsNames)) {
					r.snapOK = false
				}
			}
			r.blindActions = allBlind(r.nondisruptive) && allBlind(r.flowDisruptive) // the actions a match runs
			r.skipMarker, r.skipPos = rg.skipTarget(r)
		}
		rg.rules[i].unrecorded = quietChain(&rg.rules[i])
	}
	rg.buildGates()
	rg.buildRuns()
	rg.ruleUnread = !slices.ContainsFunc(rg.rules, func(r Rule) bool { return readsRule(&r) })
}

// readsRule reports whether r or a rule of its chain may read the RULE
// collection: as a target, or through a macro (%{rule.msg}) in its msg,
// its logdata, any other action's value (NoteActionValue: also those
// SecDefaultAction and SecRuleUpdateActionById give it) or its operator's
// argument. A rule the SecLang parser did not make (no text), other than
// a SecMarker, may read it: its action values were not noted.
func readsRule(r *Rule) bool {
	if r.Raw_ == "" && r.SecMark_ == "" {
		return true
	}
	for c := r; c != nil; c = c.Chain {
		if c.actionReadsRule || c.operator != nil && mentionsRuleMacro(c.operator.Data) {
			return true
		}
		for _, v := range c.variables {
			if v.Variable == variables.Rule {
				return true
			}
		}
		for _, m := range []macro.Macro{c.Msg, c.LogData} {
			if m != nil && macro.MayRead(m, variables.Rule) {
				return true
			}
		}
	}
	return false
}

// mentionsRuleMacro reports whether s holds a macro of RULE (%{rule.…}),
// case ignored.
func mentionsRuleMacro(s string) bool {
	return strings.Contains(strings.ToLower(s), "%{rule")
}

// NoteActionValue records, for readsRule, whether an action's value (as
// the SecLang parser gives it to the action) names a RULE macro (Rampart
// fork).
func (r *Rule) NoteActionValue(v string) {
	if mentionsRuleMacro(v) {
		r.actionReadsRule = true
	}
}

// RuleUnread reports whether no rule of the group reads the RULE
// collection, so that transactions need not keep it (EnablePrescreen).
func (rg *RuleGroup) RuleUnread() bool { return rg.ruleUnread }

// ruleElided reports whether the rule loop leaves the RULE collection
// alone: no rule reads it (RuleGroup.ruleUnread), and no warning is logged
// (a msg or logdata expansion that is not made would not log its missing
// keys). Then neither an evaluated rule nor a skipped one writes RULE's
// fields or expands a msg or logdata for them; what a match records
// (MatchData's message and data) is made as before.
func (tx *Transaction) ruleElided() bool {
	return tx.WAF.Rules.ruleUnread && !tx.warnOn
}

// quietChain reports whether r has no log or auditlog, its disruptive
// action, if any, is pass, and no rule of its chain has a msg or logdata
// (what MatchRule reads of the chained rules): a match of r that no log
// would show (Rule.unrecorded).
func quietChain(r *Rule) bool {
	if r.ParentID_ != noID || r.Log || r.Audit {
		return false
	}
	for _, a := range r.actions {
		if a.Function.Type() == plugintypes.ActionTypeDisruptive && a.Name != "pass" {
			return false
		}
	}
	for c := r; c != nil; c = c.Chain {
		if c.Msg != nil || c.LogData != nil {
			return false
		}
	}
	return true
}

// flushPendingLogData sets RULE:logdata to the pending expansion of a
// screened-out rule (doEvaluate; Rampart fork).
func (tx *Transaction) flushPendingLogData() {
	if r := tx.pendingLogData; r != nil {
		tx.pendingLogData = nil
		tx.ruleSlots.SetFirst(tx.variables.rule, 3, "logdata", tx.expandPending(r.LogData))
	}
	if tx.pendingMsg == nil {
		tx.pendingSnap = false
	}
}

// expandPending expands a pending msg or logdata on the collections as
// they were when it was left pending: with the snapshot of MATCHED_VAR and
// MATCHED_VAR_NAME when blind matches have changed them since.
func (tx *Transaction) expandPending(m macro.Macro) string {
	if !tx.pendingSnap {
		return m.Expand(tx)
	}
	v, n := tx.variables.matchedVar, tx.variables.matchedVarName
	mv, mvn := v.Get(), n.Get()
	v.Set(tx.snapMV)
	n.Set(tx.snapMVN)
	s := m.Expand(tx)
	v.Set(mv)
	n.Set(mvn)
	return s
}

// writePendingMsg sets RULE:msg to the pending msg's expansion.
func (tx *Transaction) writePendingMsg() {
	if m := tx.pendingMsg; m != nil {
		tx.pendingMsg = nil
		msg := m.msgConst
		if !m.msgIsConst {
			msg = tx.expandPending(m.Msg)
		}
		tx.ruleSlots.SetFirst(tx.variables.rule, 1, "msg", msg)
	}
}

// skipScreened is what RuleGroup.Eval does instead of evaluating r, a
// quiet rule the prescreen rules out (Rule.quiet) or a fastReject rule
// that does not match (fastEval): an evaluation would only set the RULE
// collection's fields, so r is remembered as the one whose
// fields RULE should hold, and the fields are written when something may
// read them (flushPendingRule). Nothing changes a collection in between:
// skipped rules touch none, and every evaluated rule calls flushPendingRule
// first. The msg and logdata macros read no RULE field (Rule.quiet), so
// expanding them later, on the same collections, gives the same text.
func (tx *Transaction) skipScreened(r *Rule) {
	if tx.ruleElided() {
		return
	}
	if tx.pendingSnap && (r.Msg != nil || r.LogData != nil) {
		// r's expansions see the collections as they are now; an earlier
		// one that r does not replace is made now, with the snapshot.
		if tx.pendingLogData != nil && r.LogData == nil {
			tx.flushPendingLogData()
		}
		if tx.pendingMsg != nil && r.Msg == nil {
			tx.writePendingMsg()
		}
		tx.pendingSnap = false
	}
	tx.pendingRule = r
	if r.Msg != nil {
		tx.pendingMsg = r
	}
	if r.LogData != nil {
		tx.pendingLogData = r
	}
}

// buildGates numbers the conditions of the fastReject rules that read a
// TX variable by name (Rule.gate).
func (rg *RuleGroup) buildGates() {
	type cond struct {
		count        bool
		key, fn, arg string
		negated      bool
	}
	conds := map[cond]int32{}
	for i := range rg.rules {
		r := &rg.rules[i]
		r.gate = 0
		if !r.fastReject || r.variables[0].Variable != variables.TX {
			continue
		}
		if _, onlyTX := argumentTXKeys(r.operator.Data); !onlyTX {
			continue
		}
		v := &r.variables[0]
		k := cond{v.Count, strings.ToLower(v.KeyStr), r.operator.Function, r.operator.Data, r.operator.Negation}
		n, ok := conds[k]
		if !ok {
			n = int32(len(conds)) + 1
			conds[k] = n
		}
		r.gate = n
	}
	rg.gates = len(conds)
}

// gateEntry is a transaction's outcome of a gate condition (fastEval).
type gateEntry struct {
	// at is 1 + the TX Map's Writes() when the outcome was found: valid
	// while they are equal (the count only grows, across transactions
	// too: the pooled transaction keeps its Map).
	at       uint64
	outcome  int
	v        variables.RuleVariable
	key, val string
}

// fastRejectable reports whether r's operator can be evaluated ahead of
// r: one target without key regexp or exceptions (a TX variable by name,
// or any other collection: by name, whole, or counted, as 922100's
// `&MULTIPART_PART_HEADERS:_charset_` and 200002's `REQBODY_ERROR`), no
// transformations, capture or multiMatch, and a pure operator whose
// argument names no RULE field. A target with several values is left to
// doEvaluate (fastEval).
func fastRejectable(r *Rule) bool {
	if r.operator == nil || len(r.variables) != 1 || len(r.transformations) != 0 || r.Capture || r.MultiMatch {
		return false
	}
	v := &r.variables[0]
	if v.KeyRx != nil || len(v.Exceptions) != 0 || v.Variable == variables.TX && v.KeyStr == "" {
		return false
	}
	if _, ok := r.operator.Operator.(plugintypes.OperatorPure); !ok {
		return false
	}
	return !strings.Contains(strings.ToLower(r.operator.Data), "rule")
}

// Outcomes of fastEval.
const (
	fastUndecided = iota // several values: doEvaluate decides
	fastRejected         // no value, or the operator does not match
	fastMatched          // the one value matches
)

// fastEval evaluates the operator of r, a fastReject rule, as doEvaluate
// would: on the TX variable's value (or, for &TX:name, the number of
// values). A variable with several values is left to doEvaluate, and so
// is a rule whose targets ctl:ruleRemoveTarget* narrowed in this
// transaction: for a count that is not only fewer values to match, it
// changes the value (&TX:a "@eq 0" matches once TX:a is removed; found by
// TestDirectMatchRandomRules). The matched value is returned as its
// variable, key and value.
func (tx *Transaction) fastEval(r *Rule) (outcome int, v variables.RuleVariable, key, value string) {
	if tx.hasTargetRemovals(r.ID_) {
		return fastUndecided, 0, "", ""
	}
	var g *gateEntry
	if r.gate != 0 {
		if n := tx.WAF.Rules.gates; len(tx.gates) != n {
			tx.gates = make([]gateEntry, n)
		}
		g = &tx.gates[r.gate-1]
		if g.at == tx.variables.tx.Writes()+1 {
			return g.outcome, g.v, g.key, g.val
		}
	}
	outcome, v, key, value = tx.fastEvalOnce(r)
	if g != nil {
		*g = gateEntry{at: tx.variables.tx.Writes() + 1, outcome: outcome, v: v, key: key, val: value}
	}
	return outcome, v, key, value
}

// fastEvalOnce is fastEval without the gate's outcome.
func (tx *Transaction) fastEvalOnce(r *Rule) (outcome int, v variables.RuleVariable, key, value string) {
	vals := tx.getFieldOnce(r.variables[0])
	switch {
	case len(vals) == 0:
		return fastRejected, 0, "", ""
	case len(vals) > 1:
		return fastUndecided, 0, "", ""
	}
	md := vals[0]
	if !r.executeOperator(md.Value(), tx) {
		return fastRejected, 0, "", ""
	}
	return fastMatched, md.Variable(), md.Key(), md.Value()
}

// matchDirect is doEvaluate for r, a directMatch rule whose operator
// matched the one value (variable v, key, value) of its TX variable
// (fastEval), or a directAction rule (no operator: variables.Unknown and
// empty strings, as doEvaluate's forced match), with no debug line to
// log: the same RULE fields, match record, MATCHED_* variables, actions
// (in the same order) and MatchedRule, without the general machinery
// (Rampart fork: the CRS's paranoia-level gates and score sums are such
// rules, ~60 matches per request). When no action of r can read RULE
// (none is non-disruptive, or all read no collection), nothing reads it
// during the match (no msg or logdata; MatchRule reads other
// collections), so r's fields (constants) are left pending as a skipped
// rule's are. The expansions earlier skipped rules left pending see the
// MATCHED_* variables the match changes: they are made first, or, for a
// blind match, made later on a snapshot (Transaction.pendingSnap, which
// is only set together with pendingRule, so the next flushPendingRule
// clears it).
func (tx *Transaction) matchDirect(r *Rule, v variables.RuleVariable, key, value string) {
	tx.Capture = r.Capture
	// A skipped rule's msg or logdata expansion still pending reads the
	// collections as they are now: made before the match changes them.
	// A blind match without severity changes only MATCHED_VAR and
	// MATCHED_VAR_NAME (and MATCHED_VARS, deferred) that such an expansion
	// may read: a snapshot of the two lets it wait (the next rule is
	// usually another skipped rule, whose own expansions replace it).
	elided := tx.ruleElided()
	if !elided && (tx.pendingLogData != nil || tx.pendingRule != nil) {
		if r.blindActions && r.Severity_ == types.RuleSeverityUnset &&
			(tx.pendingMsg == nil || tx.pendingMsg.snapOK) && (tx.pendingLogData == nil || tx.pendingLogData.snapOK) {
			if !tx.pendingSnap && (tx.pendingMsg != nil || tx.pendingLogData != nil) {
				tx.pendingSnap = true
				tx.snapMV, tx.snapMVN = tx.variables.matchedVar.Get(), tx.variables.matchedVarName.Get()
			}
		} else {
			tx.flushPendingRule(r)
		}
	}
	switch {
	case elided:
	case len(r.nondisruptive) == 0 || r.blindActions:
		tx.pendingRule = r // r's id, rev and severity: constants, and no action of r reads RULE
	default:
		col := tx.variables.rule
		tx.ruleSlots.SetFirst(col, 0, "id", r.LogID())
		tx.ruleSlots.SetFirst(col, 2, "rev", r.Rev_)
		tx.ruleSlots.SetFirst(col, 4, "severity", r.Severity_.String())
	}
	name, lower := "", ""
	if len(r.variables) != 0 {
		if rv := &r.variables[0]; rv.matchedNames != nil && key == rv.KeyStr {
			name, lower = rv.matchedNames[0], rv.matchedNames[1]
		}
	}
	if r.blindActions {
		// What tx.matchVariable does, MATCHED_VARS's entry deferred: Eval
		// reset MATCHED_VARS before r, resets it again before the next
		// rule, and no action of r reads it (the non-disruptive ones,
		// all blind, do nothing when evaluated).
		if name == "" {
			name, lower = matchedVarNames(v, key)
		}
		tx.variables.matchedVarName.Set(name)
		tx.variables.matchedVar.Set(value)
		tx.matchedVarSets++
		tx.deferredMV, tx.deferredName, tx.deferredLower, tx.deferredValue = true, name, lower, value
		for _, a := range r.flowDisruptive {
			a.Function.Evaluate(r, tx)
		}
		switch {
		case r.ID_ == noID: // a SecMarker's match record is never read
		case r.unrecorded && tx.WAF.QuietUnrecorded:
			tx.MatchRule(r, nil) // what it does besides the record
		default:
			tx.MatchRule(r, tx.arena.list(tx.arena.match(v, key, value, chainLevelZero)))
		}
		return
	}
	mr := tx.arena.match(v, key, value, chainLevelZero)
	r.matchVariable(tx, mr, name, lower)
	matched := tx.arena.list(mr)
	for _, a := range r.flowDisruptive {
		a.Function.Evaluate(r, tx)
	}
	if r.ID_ != noID {
		tx.MatchRule(r, matched)
	}
}

// collectionBlind is implemented by the actions whose evaluation reads no
// collection (actions.ReadsNoCollection).
type collectionBlind interface{ ReadsNoCollection() }

// allBlind reports whether every action of as reads no collection.
func allBlind(as []ruleActionParams) bool {
	for _, a := range as {
		if _, ok := a.Function.(collectionBlind); !ok {
			return false
		}
	}
	return true
}

// writeDeferredMV writes the MATCHED_VARS entry matchDirect deferred.
func (tx *Transaction) writeDeferredMV() {
	if tx.deferredMV {
		tx.deferredMV = false
		tx.variables.matchedVars.AddLower(tx.deferredName, tx.deferredLower, tx.deferredValue)
	}
}

// flushPendingRule writes the RULE fields skipScreened left pending, as
// the evaluations it skipped would have left them. next is the rule about
// to be evaluated, nil when the phase ends: a field next sets before
// anything can read it is not written (ruleQuietStart: next's msg and
// logdata read no RULE field, and doEvaluate sets id, msg, rev, logdata
// and severity before its operator, variables and actions run).
func (tx *Transaction) flushPendingRule(next *Rule) {
	if tx.pendingLogData != nil {
		if next != nil && next.logDataOverwrites {
			tx.pendingLogData = nil
		} else {
			tx.flushPendingLogData()
		}
	}
	r := tx.pendingRule
	if r == nil {
		return
	}
	quiet := next != nil && next.ruleQuietStart
	if quiet && next.Msg != nil {
		tx.pendingMsg = nil // next sets msg before anything reads it
	}
	tx.writePendingMsg()
	tx.pendingRule = nil
	tx.pendingSnap = false // nothing pending is left
	col := tx.variables.rule
	if quiet {
		return
	}
	tx.ruleSlots.SetFirst(col, 0, "id", r.LogID())
	tx.ruleSlots.SetFirst(col, 2, "rev", r.Rev_)
	tx.ruleSlots.SetFirst(col, 4, "severity", r.Severity_.String())
}

// screenLiterals returns the literal sets and prefilter of a rule that may
// be screened.
func screenLiterals(r *Rule, phase types.RulePhase) ([][]string, plugintypes.OperatorPrefilter, bool) {
	if r.operator == nil || r.operator.Negation ||
		phase < types.PhaseRequestHeaders || phase > types.PhaseLogging || len(r.variables) == 0 {
		return nil, nil, false
	}
	for _, v := range r.variables {
		if v.Count || !screenVariables[v.Variable] {
			return nil, nil, false
		}
	}
	s, ok := r.operator.Operator.(plugintypes.OperatorScreener)
	if !ok {
		return nil, nil, false
	}
	l, ok := s.ScreenLiterals()
	if !ok || slices.ContainsFunc(l, func(set []string) bool { return len(set) == 0 || slices.Contains(set, "") }) {
		return nil, nil, false
	}
	pf, _ := r.operator.Operator.(plugintypes.OperatorPrefilter)
	if len(l) == 0 && pf == nil {
		return nil, nil, false
	}
	return l, pf, true
}

// screenState is a transaction's prescreen in the current phase. Entries
// of the epoch arrays equal to epoch are current: a new phase bumps epoch
// instead of clearing.
type screenState struct {
	plan       *screenPlan
	epoch      uint32
	groupEpoch []uint32 // by group: screened
	candEpoch  []uint32 // by slot: cands[slot] is current
	cands      [][]string
	decided    []uint32 // by slot: the rule's answer is known...
	hit        []uint32 // ...and it may match
	// Arenas for the phase's values and search results, kept with the
	// pooled transaction so that a request allocates little.
	strArena  []string
	intArena  []int32
	boolArena []bool
	// raw[v] is v's raw values when rawEpoch[v] is the epoch (by variable:
	// no map lookup per group and variable).
	raw      []screenRaw
	rawEpoch []uint32
	// steps[i] is a variable's values after a chain prefix when
	// stepEpoch[i] is the epoch (screenPlan.varStep), stepMasks[i] their
	// byte classes (transformations.ClassMask).
	steps     [][]string
	stepMasks [][]uint64
	stepEpoch []uint32
	maskArena []uint64
	stepUsed  []int32                // steps set this phase
	stepMemo  stepTable              // screenTransform's, this phase
	calls     map[callKey]callResult // screenCall's, this phase
	scans     map[string][]uint64    // screenScan's, this phase
	// Scratch for a multiMatch group's values (screenValues) and for a
	// variable's raw values (screenRawValues).
	rawScratch []string
	mmValues   []string
	mmIndex    []int32
	rawUsed    []variables.RuleVariable // raw set this phase
}

// stepKey names a transformation step's input: the values (by their
// slice) and the function.
type stepKey struct {
	in *string
	n  int
	fn uintptr
}

// stepMemo is a step's output.
type stepMemo struct {
	vals  []string
	masks []uint64
}

// stepTable is screenTransform's memo for a phase: a small open-addressed
// table (Rampart fork: a Go map keyed by the struct cost ~70 hashed look-ups
// and inserts a request). A key's fn is never 0, so a zero key is an empty
// slot; a full table answers "not there" (the step is made again).
type stepTable struct {
	keys [stepTableSize]stepKey
	vals [stepTableSize]stepMemo
	used []uint8 // slots filled this phase, for reset
}

const stepTableSize = 128

func stepSlot(k stepKey) uint {
	h := uint64(uintptr(unsafe.Pointer(k.in)))>>3 ^ uint64(k.fn)*0x9e3779b97f4a7c15 ^ uint64(k.n)
	return uint(h^h>>29) & (stepTableSize - 1)
}

func (t *stepTable) get(k stepKey) (stepMemo, bool) {
	for i, n := stepSlot(k), 0; n < stepTableSize; i, n = (i+1)&(stepTableSize-1), n+1 {
		switch t.keys[i] {
		case k:
			return t.vals[i], true
		case stepKey{}:
			return stepMemo{}, false
		}
	}
	return stepMemo{}, false
}

func (t *stepTable) put(k stepKey, v stepMemo) {
	if len(t.used) >= stepTableSize*3/4 {
		return
	}
	for i := stepSlot(k); ; i = (i + 1) & (stepTableSize - 1) {
		if t.keys[i] == k || t.keys[i] == (stepKey{}) {
			if t.keys[i] != k {
				t.used = append(t.used, uint8(i))
			}
			t.keys[i], t.vals[i] = k, v
			return
		}
	}
}

// reset empties the table, letting go of the values it held.
func (t *stepTable) reset() {
	for _, i := range t.used {
		t.keys[i], t.vals[i] = stepKey{}, stepMemo{}
	}
	t.used = t.used[:0]
}

// screenRaw is a variable's values and, lazily, the owners each value's
// literal search named (screenFound).
type screenRaw struct {
	values []string
	// found holds, Words() a value, the bits of the owners each value's
	// search named (screenScan).
	found   []uint64
	scanned bool
	// fold[i] is set when values[i] holds a rune that case-folding
	// regexps match as an ASCII letter (see plugintypes.OperatorScreener).
	fold []bool
	// mask[i] is values[i]'s byte classes (transformations.ClassMask).
	mask    []uint64
	anyMask uint64 // the union of mask
	anyFold bool   // some fold[i] is set
	// withFound are the i whose search found anything (once scanned).
	withFound []int32
}

// screenValues are a variable's values after a transformation chain.
type screenValues struct {
	values []string
	// rawIndex[i] is the raw value values[i] was made from (nil: i).
	rawIndex []int32
}

// screenBegin starts a phase's prescreen: nothing screened yet.
func (tx *Transaction) screenBegin() {
	p := tx.WAF.Rules.screen
	if p == nil {
		return
	}
	st, _ := p.states.Get().(*screenState)
	if st == nil {
		st = &screenState{}
	}
	tx.screen = st
	if st.plan != p || st.epoch == ^uint32(0) {
		st.plan = p
		st.epoch = 0
		st.groupEpoch = make([]uint32, len(p.groups))
		st.candEpoch = make([]uint32, p.slots)
		st.cands = make([][]string, p.slots)
		st.decided = make([]uint32, p.slots)
		st.hit = make([]uint32, p.slots)
		st.raw = make([]screenRaw, 256)
		st.rawEpoch = make([]uint32, 256)
		st.steps = make([][]string, p.prefixes*p.steps)
		st.stepMasks = make([][]uint64, p.prefixes*p.steps)
		st.stepEpoch = make([]uint32, p.prefixes*p.steps)
		st.stepUsed = st.stepUsed[:0]
		st.rawUsed = st.rawUsed[:0]
	}
	st.epoch++
	// Let the previous values go.
	for _, k := range st.stepUsed {
		st.steps[k], st.stepMasks[k] = nil, nil
	}
	st.stepUsed = st.stepUsed[:0]
	for _, v := range st.rawUsed {
		st.raw[v] = screenRaw{}
	}
	st.rawUsed = st.rawUsed[:0]
	clear(st.strArena)
	st.strArena = st.strArena[:0]
	st.intArena = st.intArena[:0]
	st.boolArena = st.boolArena[:0]
	st.maskArena = st.maskArena[:0]
	st.stepMemo.reset()
	clear(st.calls)
	clear(st.scans)
}

// screenEnd gives the phase's state back (RuleGroup.Eval, after the phase).
func (tx *Transaction) screenEnd() {
	if st := tx.screen; st != nil {
		tx.screen = nil
		st.plan.states.Put(st)
	}
}

// screenedOut reports whether the prescreen proves that r, a screened rule,
// matches no value in this phase.
func (tx *Transaction) screenedOut(r *Rule) bool {
	st := tx.screen
	if st == nil {
		return false
	}
	p := st.plan
	if p == nil || tx.WAF.Rules.screen != p {
		return false
	}
	slot := r.screenSlot - 1
	if st.decided[slot] == st.epoch {
		return st.hit[slot] != st.epoch
	}
	o := &p.rules[slot]
	if g := o.group; st.groupEpoch[g] != st.epoch {
		tx.screenGroup(&p.groups[g])
		st.groupEpoch[g] = st.epoch
	}
	st.decided[slot] = st.epoch
	if st.hit[slot] == st.epoch {
		return false
	}
	if st.candEpoch[slot] == st.epoch {
		// Every candidate is asked, repeated ones too: a prefilter
		// answers most values from their bytes faster than a map or a
		// search of the list would find them asked already (the 4 KB
		// JSON POST: −7% instructions without the de-duplication).
		for _, s := range st.cands[slot] {
			if o.prefilter.MayMatch(s) {
				st.hit[slot] = st.epoch
				return false
			}
		}
	}
	return true
}

// screenGroup finds the group's rules with a literal of each of their sets
// in a transformed value of one of their variables (every value, for rules
// without sets): those without a prefilter may match, the others get the
// value as a candidate for screenedOut to ask the prefilter about.
func (tx *Transaction) screenGroup(g *screenGroup) {
	st := tx.screen
	p := st.plan
	ph := p.phases[g.phase]
	for vi, v := range g.vars {
		raw := tx.screenRawValues(v)
		if len(raw.values) == 0 {
			continue // no value, no candidate
		}
		// A chain none of whose steps any value can trigger changes no
		// value: what screenValues would find out value by value.
		var vals screenValues
		if !g.multiMatch && raw.anyMask&g.anyTrigger == 0 {
			vals.values = raw.values
		} else {
			vals = tx.screenValues(g, v, raw)
		}
		if vals.rawIndex == nil && sameStrings(vals.values, raw.values) && !raw.anyFold {
			// The chain changed no value: the raw values' searches
			// stand, and only the values whose search found something
			// need a look; every value is a candidate of the rules
			// without literals.
			tx.screenFound(ph, raw, 0)
			for _, r := range raw.withFound {
				tx.screenOwners(g, ph, v, raw.values[r], tx.screenFound(ph, raw, int(r)))
			}
			for _, slot := range g.always[vi] {
				tx.screenCandidates(slot, v, raw.values)
			}
			continue
		}
		for i, s := range vals.values {
			r := i
			if vals.rawIndex != nil {
				r = int(vals.rawIndex[i])
			}
			// A value that differs from its raw value at most in ASCII
			// case has the raw value's search and runes.
			var found []uint64
			var fold bool
			if equalFoldASCII(s, raw.values[r]) {
				found, fold = tx.screenFound(ph, raw, r), raw.fold[r]
			} else {
				found, fold = tx.screenScan(ph, s), hasFoldRune(s)
			}
			if fold {
				// Case-folding regexps match this value's U+212A or
				// U+017F as k or s: no literal search sees that.
				for slot := g.first; slot < g.end; slot++ {
					if p.rules[slot].vars.has(v) {
						st.hit[slot] = st.epoch
					}
				}
				break
			}
			tx.screenOwners(g, ph, v, s, found)
			for _, slot := range g.always[vi] {
				tx.screenCandidate(slot, v, s)
			}
		}
	}
}

// screenOwners makes s, a value of v, a candidate of the group's rules
// with a literal of each of their sets in found, the owners s's search
// named (bit o-ph.first for owner o).
func (tx *Transaction) screenOwners(g *screenGroup, ph *screenPhase, v variables.RuleVariable, s string, found []uint64) {
	if len(found) == 0 || g.ownerEnd == g.firstOwner {
		return
	}
	p := tx.screen.plan
	lo, hi := g.firstOwner-ph.first, g.ownerEnd-ph.first
	for w := lo >> 6; w <= (hi-1)>>6; w++ {
		word := found[w]
		base := w << 6
		if base < lo {
			word &= ^uint64(0) << uint(lo-base)
		}
		if hi-base < 64 {
			word &= 1<<uint(hi-base) - 1
		}
		for word != 0 {
			o := base + int32(bits.TrailingZeros64(word))
			word &= word - 1
			// A rule's owners are consecutive: it has a literal of every
			// set when its first owner and the others are all there.
			slot := p.ownerSlot[o+ph.first]
			sr := &p.rules[slot]
			if o+ph.first != sr.firstOwner {
				continue
			}
			all := true
			for k := o + 1; k < o+sr.owners; k++ {
				if found[k>>6]&(1<<uint(k&63)) == 0 {
					all = false
					break
				}
			}
			if all {
				tx.screenCandidate(slot, v, s)
			}
		}
	}
}

// sameStrings reports whether a and b are the same slice.
func sameStrings(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// screenCandidate records that slot's rule may match s, a value of v.
func (tx *Transaction) screenCandidate(slot int32, v variables.RuleVariable, s string) {
	st := tx.screen
	o := &st.plan.rules[slot]
	if st.hit[slot] == st.epoch || !o.vars.has(v) {
		return
	}
	if o.prefilter == nil {
		st.hit[slot] = st.epoch
		return
	}
	if st.candEpoch[slot] != st.epoch {
		st.candEpoch[slot] = st.epoch
		st.cands[slot] = st.cands[slot][:0]
	}
	st.cands[slot] = append(st.cands[slot], s)
}

// screenCandidates records that slot's rule may match each of vals,
// values of v.
func (tx *Transaction) screenCandidates(slot int32, v variables.RuleVariable, vals []string) {
	st := tx.screen
	o := &st.plan.rules[slot]
	if st.hit[slot] == st.epoch || !o.vars.has(v) || len(vals) == 0 {
		return
	}
	if o.prefilter == nil {
		st.hit[slot] = st.epoch
		return
	}
	if st.candEpoch[slot] != st.epoch {
		st.candEpoch[slot] = st.epoch
		st.cands[slot] = st.cands[slot][:0]
	}
	st.cands[slot] = append(st.cands[slot], vals...)
}

// screenFound returns the owners the literal search of raw value i named
// (as screenScan's bits), searching every raw value the first time and
// listing those whose search named any in raw.withFound.
func (tx *Transaction) screenFound(ph *screenPhase, raw *screenRaw, i int) []uint64 {
	if ph == nil {
		return nil
	}
	words := ph.set.Words()
	if !raw.scanned {
		raw.scanned = true
		st := tx.screen
		raw.found = grab(&st.maskArena, len(raw.values)*words)
		clear(raw.found)
		n := 0
		for j, s := range raw.values {
			f := raw.found[j*words : (j+1)*words]
			ph.set.ScanBits(s, f)
			for _, w := range f {
				if w != 0 {
					n++
					break
				}
			}
		}
		raw.withFound = grab(&st.intArena, n)[:0]
		for j := range raw.values {
			for _, w := range raw.found[j*words : (j+1)*words] {
				if w != 0 {
					raw.withFound = append(raw.withFound, int32(j))
					break
				}
			}
		}
	}
	if i >= len(raw.values) {
		return nil
	}
	return raw.found[i*words : (i+1)*words]
}

// screenScan returns the owners with a literal in s, as bits o-ph.first
// for owner o, kept for the phase: a transformed value is often made again
// by another group (the multiMatch chains of the same rules).
func (tx *Transaction) screenScan(ph *screenPhase, s string) []uint64 {
	if ph == nil {
		return nil
	}
	st := tx.screen
	if f, ok := st.scans[s]; ok {
		return f
	}
	f := grab(&st.maskArena, ph.set.Words())
	clear(f)
	ph.set.ScanBits(s, f)
	if st.scans == nil {
		st.scans = map[string][]uint64{}
	}
	st.scans[s] = f
	return f
}

// screenRawValues returns every value of v, whatever its key.
func (tx *Transaction) screenRawValues(v variables.RuleVariable) *screenRaw {
	st := tx.screen
	raw := &st.raw[v]
	if st.rawEpoch[v] == st.epoch {
		return raw
	}
	st.rawEpoch[v] = st.epoch
	st.rawUsed = append(st.rawUsed, v)
	*raw = screenRaw{}
	if col := tx.Collection(v); col != nil {
		var vals []string
		if a, ok := col.(collections.ValueAppender); ok {
			vals = a.AppendValues(st.rawScratch[:0])
			st.rawScratch = vals[:0]
		} else {
			for _, md := range col.FindAll() {
				vals = append(vals, md.Value())
			}
		}
		raw.values = grab(&st.strArena, len(vals))
		copy(raw.values, vals)
		clear(vals)
		raw.fold = grab(&st.boolArena, len(vals))
		raw.mask = grab(&st.maskArena, len(vals))
		for i, s := range raw.values {
			raw.mask[i] = transformations.ClassMask(s)
			raw.anyMask |= raw.mask[i]
			// The folding runes are outside ASCII.
			raw.fold[i] = transformations.MaskNonASCII(raw.mask[i]) && hasFoldRune(s)
			raw.anyFold = raw.anyFold || raw.fold[i]
		}
	}
	return raw
}

// screenValues returns every value of v transformed with the group's chain
// (for multiMatch, every intermediate value too), computed once per phase
// and chain (a phase has one group per chain and multiMatch, screened once,
// so nothing is cached here; screenTransform shares chain prefixes).
func (tx *Transaction) screenValues(g *screenGroup, v variables.RuleVariable, raw *screenRaw) screenValues {
	var out screenValues
	switch {
	case len(g.transformations) == 0:
		out.values = raw.values
	case g.multiMatch:
		// As Rule.executeTransformationsMultimatch: the value, then each
		// step's result when the step changed it (a step the value has no
		// trigger for changes nothing). Built in scratch buffers, kept in
		// the arenas.
		st := tx.screen
		vals, idx := st.mmValues[:0], st.mmIndex[:0]
		for r, value := range raw.values {
			vals = append(vals, value)
			idx = append(idx, int32(r))
			mask := raw.mask[r]
			for i, t := range g.transformations {
				if mask&g.triggers[i] == 0 {
					continue
				}
				fn := g.funcs[i]
				if g.triggers[i] != ^uint64(0) {
					fn = 0 // cheap, and called only on a trigger: not worth a lookup
				}
				next, changed, err := tx.screenCall(fn, t.Function, value)
				if err != nil {
					continue
				}
				if changed {
					vals = append(vals, next)
					idx = append(idx, int32(r))
					value = next
					mask = transformations.ClassMask(value)
				}
			}
		}
		out.values = grab(&st.strArena, len(vals))
		copy(out.values, vals)
		out.rawIndex = grab(&st.intArena, len(idx))
		copy(out.rawIndex, idx)
		clear(vals)
		st.mmValues, st.mmIndex = vals[:0], idx[:0]
	default:
		out.values = tx.screenTransform(g, v, raw)
	}
	return out
}

// callKey names a pure transformation's call: its code pointer and input.
type callKey struct {
	fn uintptr
	in string
}

// callMemoMin is the shortest value screenCall memoizes.
const callMemoMin = 32

type callResult struct {
	out     string
	changed bool
	err     error
}

// screenCall is t(value), made once per phase for a pure t that may
// change any value (fn, its code pointer; 0 for any other t): multiMatch
// chains that share steps (the CRS's base64 rules) transform the same
// values alike. A value shorter than callMemoMin is transformed again
// each time: that costs less than the memo's look-up and insert (the
// 4 KB JSON POST's short values made it a map of ~540 entries; without
// them, 3 are left and the POST takes 6–10% less time).
func (tx *Transaction) screenCall(fn uintptr, t plugintypes.Transformation, value string) (string, bool, error) {
	if fn == 0 || len(value) < callMemoMin {
		return t(value)
	}
	st := tx.screen
	k := callKey{fn: fn, in: value}
	if r, ok := st.calls[k]; ok {
		return r.out, r.changed, r.err
	}
	out, changed, err := t(value)
	if st.calls == nil {
		st.calls = map[callKey]callResult{}
	}
	st.calls[k] = callResult{out: out, changed: changed, err: err}
	return out, changed, err
}

// screenTransform transforms raw as Rule.transformArg does (a failing step
// leaves the value as it was), starting from the longest prefix of the
// chain already computed for v in this phase and keeping every step's
// values for chains that share it. A value without the step's trigger
// classes is kept as it is: the step would return it unchanged.
func (tx *Transaction) screenTransform(g *screenGroup, v variables.RuleVariable, raw *screenRaw) []string {
	st := tx.screen
	start := 0
	vals, masks := raw.values, raw.mask
	p := st.plan
	vs := int(p.varStep[v] - 1)
	for i := len(g.prefixSteps) - 1; i >= 0; i-- {
		if k := int(g.prefixSteps[i])*p.steps + vs; st.stepEpoch[k] == st.epoch {
			start, vals, masks = i+1, st.steps[k], st.stepMasks[k]
			break
		}
	}
	for i := start; i < len(g.transformations); i++ {
		k := int(g.prefixSteps[i])*p.steps + vs
		// The same pure step on the same values (two chains that differ
		// in steps that changed nothing) was made already.
		var memo stepKey
		if g.funcs[i] != 0 && len(vals) > 0 {
			memo = stepKey{in: unsafe.SliceData(vals), n: len(vals), fn: g.funcs[i]}
			if m, ok := st.stepMemo.get(memo); ok {
				vals, masks = m.vals, m.masks
				st.steps[k], st.stepMasks[k], st.stepEpoch[k] = vals, masks, st.epoch
				st.stepUsed = append(st.stepUsed, int32(k))
				continue
			}
		}
		t := g.transformations[i].Function
		trig := g.triggers[i]
		// A step that changes no value keeps the slices it was given
		// (screenGroup then knows the raw values' searches stand).
		var next []string
		var nextMasks []uint64
		for j, value := range vals {
			m := masks[j]
			if m&trig == 0 {
				if next != nil {
					next[j], nextMasks[j] = value, m
				}
				continue
			}
			if out, _, err := t(value); err == nil && out != value {
				if next == nil {
					next = grab(&st.strArena, len(vals))
					nextMasks = grab(&st.maskArena, len(vals))
					copy(next, vals[:j])
					copy(nextMasks, masks[:j])
				}
				value, m = out, transformations.ClassMask(out)
			}
			if next != nil {
				next[j], nextMasks[j] = value, m
			}
		}
		if next != nil {
			vals, masks = next, nextMasks
		}
		if memo.fn != 0 {
			st.stepMemo.put(memo, stepMemo{vals: vals, masks: masks})
		}
		st.steps[k], st.stepMasks[k], st.stepEpoch[k] = vals, masks, st.epoch
		st.stepUsed = append(st.stepUsed, int32(k))
	}
	return vals
}

// equalFoldASCII reports whether a and b differ at most in the case of
// ASCII letters: the literal search cannot tell them apart.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	if a == b {
		return true
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// hasFoldRune reports whether s holds U+212A or U+017F.
func hasFoldRune(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 { // eight ASCII bytes at a time
		if binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[i:]), 8))&0x8080808080808080 != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if s[i] >= 0x80 {
			s = s[i:]
			return strings.Contains(s, "\u212a") || strings.Contains(s, "\u017f")
		}
	}
	return false
}

// grab returns n elements of the arena, growing it when full (what earlier
// grabs hold stays valid: they keep the old array).
func grab[T any](arena *[]T, n int) []T {
	a := *arena
	if cap(a)-len(a) < n {
		a = make([]T, 0, max(2*cap(a), n, 256))
	}
	out := a[len(a) : len(a)+n : len(a)+n]
	*arena = a[:len(a)+n]
	return out
}
