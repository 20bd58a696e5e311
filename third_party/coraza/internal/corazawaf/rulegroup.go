// Copyright 2022 Juan Pablo Tosso and the OWASP Coraza contributors
// SPDX-License-Identifier: Apache-2.0

package corazawaf

import (
	"fmt"
	"time"

	"github.com/corazawaf/coraza/v3/internal/corazatypes"
	utils "github.com/corazawaf/coraza/v3/internal/strings"
	"github.com/corazawaf/coraza/v3/types"
	"github.com/corazawaf/coraza/v3/types/variables"
)

// RuleGroup is a collection of rules
// It contains all helpers required to manage the rules
// It is not concurrent safe, so it's not recommended to use it
// after compilation
type RuleGroup struct {
	rules    []Rule
	observer func(rule types.RuleMetadata)
	// screen is the prescreen (screen.go; Rampart fork), nil when off.
	screen *screenPlan
	// phaseRules[p] lists, in order, the positions of the rules Eval runs
	// in phase p (Phase_ 0 or p), nil when not built or the rules changed
	// since (EnablePrescreen; Rampart fork).
	phaseRules *[types.PhaseLogging + 1][]int32
	// phaseMarkers[p] maps a SecMarker's name to its positions in
	// phaseRules[p], ascending (skipAfter jumps; Rampart fork).
	phaseMarkers *[types.PhaseLogging + 1]map[string][]int32
	// runs are each phase's static runs, nil when not built
	// (rampart_staticrun.go; Rampart fork).
	runs *[types.PhaseLogging + 1][]*staticRun
	// gates is how many gate conditions the rules have (Rule.gate).
	gates int
	// ruleUnread: no rule reads the RULE collection, so Eval need not keep
	// it (EnablePrescreen, Transaction.ruleElided; Rampart fork).
	ruleUnread bool
}

// Add a rule to the collection
// Will return an error if the ID is already used
func (rg *RuleGroup) Add(rule *Rule) error {
	if rule == nil {
		// this is an ugly solution but chains should not return rules
		return nil
	}

	if shouldDoMandatoryRuleIdCheck {
		// rule id is mandatory and must be unique ID for all SecRule/SecAction.
		if rule.SecMark_ == "" { // means its SecRule/SecAction
			if rule.ID_ == 0 {
				return fmt.Errorf("rule id is missing, rule residing in file %s at line %d", rule.File_, rule.Line_)
			}
			if rg.FindByID(rule.ID_) != nil {
				return fmt.Errorf("duplicated rule id %d", rule.ID_)
			}
		}
	} else {
		// rule id is not mandatory, but if it is set, it must be unique ID
		if rule.ID_ != 0 && rg.FindByID(rule.ID_) != nil {
			return fmt.Errorf("duplicated rule id %d", rule.ID_)
		}
	}

	numInferred := 0
	rule.set(rule.Phase_)
	for _, v := range rule.variables {
		min := minPhase(v.Variable)
		if min != types.PhaseUnknown {
			// We infer the earliest phase a variable used by the rule may be evaluated for use when
			// multiphase evaluation is enabled
			rule.set(min)
			numInferred++
		} else {
			rule.withPhaseUnknownVariable = true
		}
	}

	rg.rules = append(rg.rules, *rule)
	rg.phaseRules = nil
	rg.ruleUnread = false // Rampart fork: the new rule may read RULE

	if rg.observer != nil {
		rg.observer(rule)
	}

	return nil
}

// SetObserver assigns the observer function to the group.
func (rg *RuleGroup) SetObserver(observer func(rule types.RuleMetadata)) {
	rg.observer = observer
}

// GetRules returns the slice of rules,
func (rg *RuleGroup) GetRules() []Rule {
	return rg.rules
}

// FindByID return a Rule with the requested Id
func (rg *RuleGroup) FindByID(id int) *Rule {
	for i, r := range rg.rules {
		if r.ID_ == id {
			return &rg.rules[i]
		}
	}
	return nil
}

// DiscardPendingChain removes the last rule from the group when it is an open
// chain starter (HasChain=true). Called when a chain-member parse fails so the
// partial chain is not left in the rule graph.
func (rg *RuleGroup) DiscardPendingChain() {
	last := len(rg.rules) - 1
	if last >= 0 && rg.rules[last].HasChain {
		rg.rules = rg.rules[:last]
		rg.phaseRules = nil
	}
}

// DeleteByID removes a rule by its ID
func (rg *RuleGroup) DeleteByID(id int) {
	for i, r := range rg.rules {
		if r.ID_ == id {
			rg.rules = append(rg.rules[:i], rg.rules[i+1:]...)
			rg.phaseRules = nil
			return
		}
	}
}

// DeleteByRange removes rules by their ID in a range
func (rg *RuleGroup) DeleteByRange(start, end int) {
	var kept []Rule
	for _, r := range rg.rules {
		if r.ID_ < start || r.ID_ > end {
			kept = append(kept, r)
		}
	}
	rg.rules = kept
	rg.phaseRules = nil
}

// DeleteByMsg deletes rules with the given message.
func (rg *RuleGroup) DeleteByMsg(msg string) {
	var kept []Rule
	for _, r := range rg.rules {
		if r.Msg.String() != msg {
			kept = append(kept, r)
		}
	}
	rg.rules = kept
	rg.phaseRules = nil
}

// DeleteByTag deletes rules with the given tag.
func (rg *RuleGroup) DeleteByTag(tag string) {
	var kept []Rule
	for _, r := range rg.rules {
		if !utils.InSlice(tag, r.Tags_) {
			kept = append(kept, r)
		}
	}
	rg.rules = kept
	rg.phaseRules = nil
}

// Count returns the count of rules
func (rg *RuleGroup) Count() int {
	return len(rg.rules)
}

// Eval rules for the specified phase, between 1 and 5
// Rules are evaluated in syntactic order and the evaluation finishes
// as soon as an interruption has been triggered.
// Returns true if transaction is disrupted
func (rg *RuleGroup) Eval(phase types.RulePhase, tx *Transaction) bool {
	tx.DebugLogger().Debug().
		Int("phase", int(phase)).
		Msg("Evaluating phase")

	tx.lastPhase = phase
	usedRules := 0
	ts := time.Now().UnixNano()
	transformationCache := tx.transformationCache
	for k := range transformationCache {
		delete(transformationCache, k)
	}
	tx.screenBegin()
	// Rampart fork: only the phase's rules are visited when the index is
	// there; the others would be skipped by the phase test below.
	order := rg.phaseOrder(phase)
	n := len(rg.rules)
	if order != nil {
		n = len(order)
	}
	// Rampart fork: static runs are copied, or recorded.
	var runs []*staticRun
	if rg.runs != nil && phase >= types.PhaseRequestHeaders && phase <= types.PhaseLogging {
		runs = rg.runs[phase]
		if len(runs) > 0 && (len(order) == 0 || &order[0] != &runs[0].order[0]) {
			runs = nil
		}
	}
	nextRun := 0
	// nextStart is runs[nextRun].start, or n when there is none (Rampart
	// fork: not looked up for every rule).
	nextStart := runStart(runs, 0, n)
	var recording *runRecording
RulesLoop:
	for k := 0; k < n; k++ {
		// Rampart fork: while a skipAfter is pending the loop below only
		// looks for its marker (every other rule is skipped before it
		// could act), so go straight to the marker's next position, or
		// past the end. Not when markers themselves (id 0) are removed.
		if tx.SkipAfter != "" && order != nil && !tx.removesID(0) {
			k = rg.nextMarker(tx, phase, k, n)
			if k == n {
				break
			}
		}
		if runs != nil {
			if recording != nil && k >= recording.run.end {
				tx.endRunRecording(recording)
				recording = nil
			}
			for nextStart < k {
				nextRun++
				nextStart = runStart(runs, nextRun, n)
			}
			if recording == nil && nextStart == k {
				run := runs[nextRun]
				nextRun++
				nextStart = runStart(runs, nextRun, n)
				viaSkip := tx.SkipAfter != "" && rg.rules[order[k]].SecMark_ == tx.SkipAfter
				var copied bool
				if copied, recording = tx.enterRun(run, viaSkip); copied {
					usedRules += run.end - run.start
					k = run.end - 1 // the loop goes on after the run
					continue
				}
			}
		}
		i := k
		if order != nil {
			i = int(order[k])
		}
		r := &rg.rules[i]
		// if there is already an interruption and the phase isn't logging
		// we break the loop
		if tx.IsInterrupted() && phase != types.PhaseLogging {
			break RulesLoop
		}
		// Rules with phase 0 will always run
		if r.Phase_ != 0 && r.Phase_ != phase {
			// Execute the rule in inferred phases too if multiphase evaluation is enabled
			// For chained rules, inferredPhases is not relevant, we rather have to run from minimal potentially
			// matchable phase up to the rule's defined phase (chainMinPhase <= phase <= Phase_)
			// At the first run chainMinPhase is not set, so we look at the parent chain rule's minimal phase.
			// If it is not reached, we skip the whole chain, there is no chance to match it.
			if !multiphaseEvaluation ||
				(!r.HasChain && !r.has(phase)) ||
				(r.HasChain && phase < r.chainMinPhase) ||
				(r.HasChain && !r.hasOrMinor(phase) && !r.withPhaseUnknownVariable) ||
				(r.HasChain && phase > r.Phase_) {
				continue
			}
		}

		// we skip the rule in case it's in the excluded list
		// (Rampart fork: no lookup in an empty map, the usual case.)
		if tx.ruleRemoveByID != nil { // made by the first RemoveRuleByID
			if _, skip := tx.ruleRemoveByID[r.ID_]; skip {
				tx.DebugLogger().Debug().
					Int("rule_id", r.ID_).
					Msg("Skipping rule")
				continue RulesLoop
			}
		}
		for _, rng := range tx.ruleRemoveByIDRanges {
			if r.ID_ >= rng[0] && r.ID_ <= rng[1] {
				tx.DebugLogger().Debug().
					Int("rule_id", r.ID_).
					Msg("Skipping rule")
				continue RulesLoop
			}
		}

		// we always evaluate secmarkers
		if tx.SkipAfter != "" {
			if r.SecMark_ == tx.SkipAfter {
				tx.SkipAfter = ""
			} else {
				tx.DebugLogger().Debug().
					Int("rule_id", r.ID_).
					Str("skip_after", tx.SkipAfter).
					Str("secmarker", r.SecMark_).
					Msg("Skipping rule because of SkipAfter")
			}
			continue
		}
		if tx.Skip > 0 {
			tx.Skip--
			// Skipping rule
			continue
		}
		switch tx.AllowType {
		case corazatypes.AllowTypeUnset:
			// No action needed
		case corazatypes.AllowTypePhase:
			// Allow phase requires skipping all rules of the current phase.
			// It is done by breaking the loop and resetting AllowType for the next phase right after the loop.
			tx.DebugLogger().Debug().
				Int("phase", int(phase)).
				Msg("Skipping phase because of allow phase action")
			break RulesLoop
		case corazatypes.AllowTypeRequest:
			// Allow request requires skipping all rules of any request phase.
			// It is done by breaking the loop only if in a request phase (1 or 2)
			// and resetting AllowType once the request phases are over (after request body phase)
			tx.DebugLogger().Debug().
				Int("phase", int(phase)).
				Msg("Skipping phase because of allow request action")
			if phase == types.PhaseRequestHeaders {
				// tx.AllowType is not resetted because another request phase might be called
				break RulesLoop
			}
			if phase == types.PhaseRequestBody {
				// // tx.AllowType is resetted, currently PhaseRequestBody is the last request phase
				tx.AllowType = corazatypes.AllowTypeUnset
				break RulesLoop
			}
		case corazatypes.AllowTypeAll:
			break RulesLoop
		}
		if recording != nil { // Rampart fork: r is evaluated, its RULE fields set
			recording.msg = recording.msg || r.Msg != nil
			recording.logData = recording.logData || r.LogData != nil
		}
		// Reset matched_vars only when the previous rule actually populated it.
		// In typical CRS evaluation most rules don't match, so this avoids
		// iterating an empty map on every rule.
		if tx.variables.matchedVars.Len() > 0 {
			tx.variables.matchedVars.Reset()
		}
		tx.deferredMV = false // Rampart fork: the reset it stood for

		// Rampart fork: a quiet rule the prescreen rules out is not
		// evaluated; its RULE fields are written when they may be read
		// (Transaction.skipScreened). Not while warnings or debug lines
		// are logged (ctl:debugLogLevel may turn them on mid-phase): a
		// macro expansion that is never made would not log. EnablePrescreen
		// marks the quiet and fastReject rules.
		if !tx.warnOn && r.quiet && tx.screenedOut(r) {
			tx.skipScreened(r)
			usedRules++
			// The quiet rules right after it that the prescreen rules out
			// too are skipped here, without the checks above: skipping
			// changes none of what they test (no skip, allow, removal or
			// recording is pending, and nothing was matched), up to the
			// next static run.
			if order != nil && recording == nil && tx.SkipAfter == "" && tx.Skip == 0 &&
				tx.AllowType == corazatypes.AllowTypeUnset && tx.ruleRemoveByID == nil &&
				len(tx.ruleRemoveByIDRanges) == 0 && !tx.IsInterrupted() {
				for k+1 < n && k+1 != nextStart {
					next := &rg.rules[order[k+1]]
					if !next.quiet || !tx.screenedOut(next) {
						break
					}
					tx.skipScreened(next)
					usedRules++
					k++
				}
			}
			continue
		}
		// Rampart fork: a fastReject rule whose operator does not match is
		// skipped as a screened-out quiet rule is; a directMatch rule that
		// matches is applied here (Transaction.matchDirect).
		if !tx.warnOn && r.fastReject {
			switch outcome, v, key, value := tx.fastEval(r); {
			case outcome == fastRejected:
				tx.skipScreened(r)
				usedRules++
				continue
			case outcome == fastMatched && r.directMatch:
				tx.matchDirect(r, v, key, value)
				tx.hintSkip(r, phase)
				tx.Capture = false
				usedRules++
				continue
			}
		}
		if !tx.warnOn && r.directAction {
			tx.matchDirect(r, variables.Unknown, "", "")
			tx.hintSkip(r, phase)
			tx.Capture = false
			usedRules++
			continue
		}
		r.Evaluate(phase, tx, transformationCache)
		tx.hintSkip(r, phase)
		tx.Capture = false // we reset captures
		usedRules++
	}
	if recording != nil {
		// The run ends the phase, or a skipAfter jumped past the phase's
		// last rule; an interruption or allow fails the recording.
		tx.endRunRecording(recording)
	}
	tx.flushPendingRule(nil) // Rampart fork: before anything else can read RULE
	tx.writeDeferredMV()     // Rampart fork: likewise MATCHED_VARS
	tx.screenEnd()
	tx.DebugLogger().Debug().
		Int("phase", int(phase)).
		Msg("Finished phase")

	// Reset AllowType if meant to allow only this specific phase. It is particuarly needed
	// to reset it at this point, in case of an allow:phase action enforced by the last rule of the phase.
	// In this case, allow:phase must not have any impact on the next phase.
	if tx.AllowType == corazatypes.AllowTypePhase {
		tx.AllowType = corazatypes.AllowTypeUnset
	}
	// Reset Skip counter at the end of each phase. Skip actions work only within the current processing phase
	tx.Skip = 0

	tx.stopWatches[phase] = time.Now().UnixNano() - ts
	return tx.IsInterrupted()
}

// NewRuleGroup creates an empty RuleGroup that
// can be attached to a WAF instance
// You might use this function to replace the rules
// and "reload" the WAF
func NewRuleGroup() RuleGroup {
	return RuleGroup{}
}

type transformationKey struct {
	// TODO(anuraaga): This is a big hack to support performance on TinyGo. TinyGo
	// cannot efficiently compute a hashcode for a struct if it has embedded non-fixed
	// size fields, for example string as we'd prefer to use here. A pointer is usable,
	// and it works for us since we know that the arg key string is populated once per
	// transaction phase and we would never have different string pointers with the same
	// content, or more problematically same pointer for different content, as the strings
	// will be alive throughout the phase.
	argKey            *byte
	argIndex          int
	argVariable       variables.RuleVariable
	transformationsID int
}

type transformationValue struct {
	arg  string
	errs []error
}

// buildPhaseRules indexes the rules by the phases Eval runs them in
// (Rampart fork). Not with multiphase evaluation, which runs rules in
// other phases too.
func (rg *RuleGroup) buildPhaseRules() {
	if multiphaseEvaluation {
		rg.phaseRules = nil
		return
	}
	var idx [types.PhaseLogging + 1][]int32
	for p := types.PhaseRequestHeaders; p <= types.PhaseLogging; p++ {
		idx[p] = []int32{}
		for i := range rg.rules {
			if ph := rg.rules[i].Phase_; ph == 0 || ph == p {
				idx[p] = append(idx[p], int32(i))
			}
		}
	}
	var markers [types.PhaseLogging + 1]map[string][]int32
	for p := types.PhaseRequestHeaders; p <= types.PhaseLogging; p++ {
		markers[p] = map[string][]int32{}
		for k, i := range idx[p] {
			if m := rg.rules[i].SecMark_; m != "" {
				markers[p][m] = append(markers[p][m], int32(k))
			}
		}
	}
	rg.phaseRules = &idx
	rg.phaseMarkers = &markers
}

// nextMarker returns the first position from k on, in phase's order, of
// the SecMarker named tx.SkipAfter, or n when there is none. The
// positions come from the skip hint when the rule or run that set
// tx.SkipAfter left one for this phase (Rampart fork: a look-up by name
// of a cold map, a few dozen a request, cost ~1% of a CRS GET).
func (rg *RuleGroup) nextMarker(tx *Transaction, phase types.RulePhase, k, n int) int {
	positions := tx.skipHint.pos
	if tx.skipHint.phase != phase || tx.skipHint.name != tx.SkipAfter {
		positions = rg.phaseMarkers[phase][tx.SkipAfter]
	}
	for _, pos := range positions {
		if int(pos) >= k {
			return int(pos)
		}
	}
	return n
}

// skipHint is where the SecMarker a transaction's pending skipAfter names
// is in one phase's order (RuleGroup.nextMarker; Rampart fork).
type skipHint struct {
	name  string
	phase types.RulePhase
	pos   []int32
}

// hintSkip leaves the skip hint of r, which has just run in phase, when
// its skipAfter is the one pending.
func (tx *Transaction) hintSkip(r *Rule, phase types.RulePhase) {
	if r.skipPos != nil && tx.SkipAfter != "" && tx.SkipAfter == r.skipMarker {
		tx.skipHint = skipHint{name: r.skipMarker, phase: phase, pos: r.skipPos[phase]}
	}
}

// skipTarget returns the SecMarker r's skipAfter action names and its
// positions in each phase's order, or none.
func (rg *RuleGroup) skipTarget(r *Rule) (string, *[types.PhaseLogging + 1][]int32) {
	if rg.phaseMarkers == nil {
		return "", nil
	}
	for _, a := range r.actions {
		m, ok := a.Function.(interface{ SkipAfterMarker() string })
		if !ok {
			continue
		}
		name := m.SkipAfterMarker()
		pos := &[types.PhaseLogging + 1][]int32{}
		for p := range pos {
			pos[p] = rg.phaseMarkers[p][name]
		}
		return name, pos
	}
	return "", nil
}

// removesID reports whether ctl:ruleRemoveById removed id for tx.
func (tx *Transaction) removesID(id int) bool {
	if _, ok := tx.ruleRemoveByID[id]; ok {
		return true
	}
	for _, rng := range tx.ruleRemoveByIDRanges {
		if id >= rng[0] && id <= rng[1] {
			return true
		}
	}
	return false
}

// phaseOrder returns the positions of the rules Eval runs in phase, nil
// when every rule is to be visited.
func (rg *RuleGroup) phaseOrder(phase types.RulePhase) []int32 {
	if rg.phaseRules == nil || phase < types.PhaseRequestHeaders || phase > types.PhaseLogging {
		return nil
	}
	return rg.phaseRules[phase]
}

// runStart is runs[i].start, or n past the last run (Rampart fork).
func runStart(runs []*staticRun, i, n int) int {
	if i < len(runs) {
		return runs[i].start
	}
	return n
}
