// Copyright 2022 Juan Pablo Tosso and the OWASP Coraza contributors
// SPDX-License-Identifier: Apache-2.0

package corazawaf

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"unsafe"

	"github.com/corazawaf/coraza/v3/debuglog"
	"github.com/corazawaf/coraza/v3/experimental/plugins/macro"
	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
	"github.com/corazawaf/coraza/v3/internal/collections"
	"github.com/corazawaf/coraza/v3/internal/corazarules"
	utils "github.com/corazawaf/coraza/v3/internal/strings"
	"github.com/corazawaf/coraza/v3/types"
	"github.com/corazawaf/coraza/v3/types/variables"
)

// ruleActionParams is used as a wrapper to store the action name
// and parameters, basically for logging purposes.
type ruleActionParams struct {
	// The name of the action, used for logging
	Name string

	// The action to be executed
	Function plugintypes.Action
}

// Operator is a container for an operator,
type ruleOperatorParams struct {
	// Operator to be used
	Operator plugintypes.Operator

	// Function name (ex @rx)
	Function string
	// Data to initialize the operator
	Data string
	// If true, rule will match if op.Evaluate returns false
	Negation bool
}

type ruleVariableException struct {
	// The string key for the variable that is going to be requested
	// If KeyRx is not nil, KeyStr is ignored
	KeyStr string

	// The key for the variable that is going to be requested
	// If nil, KeyStr is going to be used
	KeyRx *regexp.Regexp
}

// RuleVariable is compiled during runtime by transactions
// to get values from the transaction's variables
// It supports xml, regex, exceptions and many more features
type ruleVariableParams struct {
	// If true, the count of results will be returned
	Count bool

	// The VARIABLE that will be requested
	Variable variables.RuleVariable

	// The key for the variable that is going to be requested
	// If nil, KeyStr is going to be used
	KeyRx *regexp.Regexp

	// The string key for the variable that is going to be requested
	// If KeyRx is not nil, KeyStr is ignored
	KeyStr string

	// A slice of key exceptions
	Exceptions []ruleVariableException

	// matchedNames are matchedVarNames(Variable, KeyStr) when KeyStr is
	// set and KeyRx is not: the MATCHED_VAR_NAME of a match of that key
	// and its lower-case form, made once (Rampart fork).
	matchedNames *[2]string
	// keyRxLiteral is a string every key KeyRx matches contains, "" when
	// none is known; keyRxPrefix: every such key begins with it;
	// keyRxWhole: and every key beginning with it matches (keyRxLiteral;
	// Rampart fork).
	keyRxLiteral            string
	keyRxPrefix, keyRxWhole bool
	// keyID is KeyStr's collections.KeyID for a TX variable by name, else
	// 0 (Rampart fork: other collections are read by name once or twice a
	// request, and a remembered lookup would not outlive the request).
	keyID int32
}

// ruleTargetRemoval is a target ctl:ruleRemoveTarget* removed from a rule
// for a transaction (Rampart fork: the fields of ruleVariableParams it
// uses).
type ruleTargetRemoval struct {
	Variable variables.RuleVariable
	KeyStr   string
	KeyRx    *regexp.Regexp
}

type ruleTransformationParams struct {
	// The transformation function to be used
	Function plugintypes.Transformation
}

// Rule is used to test a Transaction against certain operators
// and execute actions
type Rule struct {
	corazarules.RuleMetadata
	// Contains a list of variables that will be compiled
	// by a transaction
	variables []ruleVariableParams

	// Contains a pointer to the operator struct used
	// SecActions and SecMark can have nil Operators
	operator *ruleOperatorParams

	// List of transformations to be evaluated
	// In the future, transformations might be run by the
	// action itself, not sure yet
	transformations []ruleTransformationParams

	transformationsID int
	// transformationPrefixIDs holds the chain ID at each step of the transformation chain.
	// transformationPrefixIDs[i] is the ID representing transformations [0..i].
	// This enables prefix-based caching: rules sharing a common transformation prefix
	// can reuse cached intermediate results instead of recomputing from scratch.
	transformationPrefixIDs []int

	// Slice of initialized actions to be evaluated during
	// the rule evaluation process
	actions []ruleActionParams

	// nondisruptive and flowDisruptive are actions' nondisruptive
	// actions and its flow and disruptive ones, in order, kept by
	// AddAction and ClearDisruptiveActions (the only writers of actions)
	// so that evaluation does not ask every action its type (an action's
	// type is fixed; Rampart fork).
	nondisruptive  []ruleActionParams
	flowDisruptive []ruleActionParams

	// Capture is used by the transaction to tell the operator
	// to capture variables on TX:0-9
	Capture bool

	// Contains the child rule to chain, nil if there are no chains
	Chain *Rule

	// DisruptiveStatus is the status that will be set to interruptions
	// by disruptive rules
	DisruptiveStatus int

	// Message text to be macro expanded and logged
	// In future versions we might use a special type of string that
	// supports cached macro expansions. For performance
	Msg macro.Macro

	// Rule logdata
	LogData macro.Macro

	// If true, triggering this rule write to the error log
	Log bool

	// If true, triggering this rule write to the audit log
	Audit bool

	// If true, the transformations will be multi matched
	MultiMatch bool

	HasChain bool

	// inferredPhases is the inferred phases the rule is relevant for
	// based on the processed variables.
	// Multiphase specific field
	inferredPhases

	// chainMinPhase is the minimum phase among all chain variables.
	// We do not eagerly evaluate variables in multiphase evaluation
	// if they would be earlier than chained rules as they could never
	// match.
	chainMinPhase types.RulePhase

	// chainedRules containing rules with just PhaseUnknown variables, may potentially
	// be anticipated. This boolean ensures that it happens
	withPhaseUnknownVariable bool

	memoizer plugintypes.Memoizer

	// screenAnswer is 1 + the prescreen owner whose literals are the
	// operator's (plugintypes.OperatorLiteralMatch), 0 when the raw
	// values' search does not answer it (Rampart fork: answerFromScreen).
	screenAnswer      int32
	screenAnswerPhase types.RulePhase
	// screenSlot is 1 + the rule's slot in its group's prescreen, 0 when
	// the rule is not screened (screen.go; Rampart fork).
	screenSlot int32

	// logDataDeferrable: a screened-out evaluation of this rule may leave
	// its RULE:logdata expansion pending (Transaction.pendingLogData), as
	// the expansion reads no RULE field. logDataOverwrites: this rule's
	// evaluation sets RULE:logdata before anything reads the RULE
	// collection, so a pending expansion of an earlier rule can be dropped
	// (both set by EnablePrescreen; Rampart fork).
	logDataDeferrable bool
	logDataOverwrites bool
	// quiet: a screened parent rule whose msg and logdata read no RULE
	// field; RuleGroup.Eval may skip it when the prescreen rules it out
	// (Transaction.skipScreened). ruleQuietStart: the rule's msg and
	// logdata read no RULE field, so its evaluation overwrites the RULE
	// fields it sets before anything reads them (flushPendingRule). Both
	// set by EnablePrescreen (Rampart fork).
	quiet          bool
	ruleQuietStart bool
	// actionReadsRule: the value of one of the rule's actions names a RULE
	// macro (NoteActionValue, readsRule; Rampart fork).
	actionReadsRule bool
	// fastReject: a parent rule with one target (fastRejectable), without
	// transformations, capture or multiMatch, whose operator
	// is pure (plugintypes.OperatorPure) and whose msg and logdata read no
	// RULE field; RuleGroup.Eval evaluates its operator first and skips it
	// when it does not match (Transaction.fastEval; set by EnablePrescreen,
	// Rampart fork).
	fastReject bool
	// gate: 1 + the number of r's condition among the fastReject rules
	// that compare a TX variable by name with an argument reading only TX
	// (0: none); rules with the same variable, operator and argument share
	// it, and a transaction keeps its outcome while TX is unchanged
	// (Transaction.gates; Rampart fork: the CRS's paranoia-level gates,
	// ~40 a request, test a handful of conditions).
	gate int32
	// directMatch: a fastReject rule without chain, msg or logdata, whose
	// match RuleGroup.Eval applies itself (Transaction.matchDirect; set by
	// EnablePrescreen, Rampart fork).
	directMatch bool
	// directAction: a SecAction or SecMarker (no operator) without chain,
	// msg or logdata, which RuleGroup.Eval applies itself as a match
	// (Transaction.matchDirect; Rampart fork).
	directAction bool
	// skipMarker: the SecMarker the rule's skipAfter action names, and
	// skipPos its positions in each phase's order (rg.phaseMarkers), so
	// RuleGroup.Eval finds the marker without a look-up by name (set by
	// EnablePrescreen, Rampart fork).
	skipMarker string
	skipPos    *[types.PhaseLogging + 1][]int32
	// blindActions: every non-disruptive, flow and disruptive action of
	// the rule reads no collection (collectionBlind), so matchDirect may
	// defer MATCHED_VARS's entry (Transaction.deferredMV; Rampart fork).
	blindActions bool
	// unrecorded: a parent rule whose chain has no msg, logdata, log or
	// auditlog and whose disruptive action, if any, is pass: with
	// WAF.QuietUnrecorded its matches get no MatchedRule (set by
	// EnablePrescreen, Rampart fork).
	unrecorded bool
	// snapOK: the rule's msg and logdata read neither MATCHED_VARS nor
	// MATCHED_VARS_NAMES, so their pending expansions can be made later
	// with MATCHED_VAR and MATCHED_VAR_NAME restored (Transaction.pendingSnap;
	// Rampart fork).
	snapOK bool
	// msgConst is the text Msg always expands to, when msgIsConst (set
	// with the prescreen; Rampart fork).
	msgConst   string
	msgIsConst bool
}

func (r *Rule) ParentID() int {
	return r.ParentID_
}

func (r *Rule) Status() int {
	return r.DisruptiveStatus
}

const chainLevelZero = 0

// Evaluate will evaluate the current rule for the indicated transaction
// If the operator matches, actions will be evaluated, and it will return
// the matched variables, keys and values (MatchData)
func (r *Rule) Evaluate(phase types.RulePhase, tx plugintypes.TransactionState, cache map[transformationKey]transformationValue) {
	// collectiveMatchedValues lives across recursive calls of doEvaluate
	var collectiveMatchedValues []types.MatchData

	logger := tx.DebugLogger()

	if logger.Debug().IsEnabled() {
		if r.ID_ == noID {
			logger = logger.With(debuglog.Str("rule_ref", fmt.Sprintf("%s#L%d", r.File_, r.Line_)))
		} else {
			logger = logger.With(debuglog.Int("rule_id", r.ID_))
		}
	}

	r.doEvaluate(logger, phase, tx.(*Transaction), &collectiveMatchedValues, chainLevelZero, cache)
}

const noID = 0

func (r *Rule) doEvaluate(logger debuglog.Logger, phase types.RulePhase, tx *Transaction, collectiveMatchedValues *[]types.MatchData, chainLevel int, cache map[transformationKey]transformationValue) []types.MatchData {
	tx.Capture = r.Capture

	if multiphaseEvaluation {
		computeRuleChainMinPhase(r)
	}

	var matchedValues []types.MatchData
	// we log if we are the parent rule
	// Rampart fork: debug events are built only when debug logging is on
	// (the same lines are logged).
	debugOn := logger.Debug().IsEnabled()
	if debugOn {
		logger.Debug().Msg("Evaluating rule")
		defer logger.Debug().Msg("Finished rule evaluation")
	}

	// Rampart fork: an earlier screened-out rule's RULE:logdata expansion
	// may be pending; it is made now, on the state it would have seen (no
	// collection changed since), unless this rule overwrites it unread.
	// Rampart fork: RULE is kept only when a rule may read it
	// (Transaction.ruleElided).
	elided := tx.ruleElided()
	if !elided && (tx.pendingLogData != nil || tx.pendingRule != nil) {
		tx.flushPendingRule(r)
	}
	ruleCol := tx.variables.rule
	deferLogData := false
	if !elided {
		tx.ruleSlots.SetFirst(ruleCol, 0, "id", r.LogID())
		if r.Msg != nil {
			// Expand the message using the current TX variables so that %{rule.msg} in setvar actions
			// returns the fully expanded message, matching ModSecurity behavior.
			msg := r.msgConst
			if !r.msgIsConst {
				msg = r.Msg.Expand(tx)
			}
			tx.ruleSlots.SetFirst(ruleCol, 1, "msg", msg)
		}
		tx.ruleSlots.SetFirst(ruleCol, 2, "rev", r.Rev_)
		// Rampart fork: for a screened rule whose logdata reads no RULE field,
		// the expansion is made after the prescreen (which reads no RULE field
		// and changes no collection, so the result is the same), and a
		// screened-out rule leaves it pending. Not while warnings are logged:
		// an expansion that is never made would not log its missing keys.
		deferLogData = r.LogData != nil && r.logDataDeferrable && chainLevel == chainLevelZero &&
			r.screenSlot != 0 && !tx.debugLogger.Warn().IsEnabled()
		if r.LogData != nil && !deferLogData {
			// Same expansion for logdata, matching ModSecurity behavior for %{rule.logdata}.
			tx.ruleSlots.SetFirst(ruleCol, 3, "logdata", r.LogData.Expand(tx))
		}
		tx.ruleSlots.SetFirst(ruleCol, 4, "severity", r.Severity_.String())
	}
	// Rampart fork: a rule the prescreen proves matches no value ends here,
	// with the RULE collection set as an evaluation without a match leaves it.
	if r.screenSlot != 0 && tx.screenedOut(r) {
		if debugOn {
			logger.Debug().Msg("Prescreen: no value can match")
		}
		if deferLogData {
			tx.pendingLogData = r
		}
		return nil
	}
	if deferLogData {
		tx.ruleSlots.SetFirst(ruleCol, 3, "logdata", r.LogData.Expand(tx))
	}
	// SecMark and SecAction uses nil operator
	if r.operator == nil {
		if debugOn {
			logger.Debug().Msg("Forcing rule to match")
		}
		// Rampart fork: the match and the list holding it from the
		// transaction's arena.
		md := tx.arena.match(variables.Unknown, "", "", 0)
		matchedValues = tx.arena.list(md)
		if r.ParentID_ != noID || r.MultiMatch {
			// In order to support Msg and LogData for inner rules, we need to expand them now
			if r.Msg != nil {
				md.Message_ = r.Msg.Expand(tx)
			}
			if r.LogData != nil {
				md.Data_ = r.LogData.Expand(tx)
			}
		}
		if multiphaseEvaluation {
			*collectiveMatchedValues = append(*collectiveMatchedValues, md)
		}
		r.matchVariable(tx, md, "", "")
	} else {
		// Chain children carry ID_ == noID; ctl:ruleRemoveTarget* stores exceptions
		// under the parent's ID, so chain children must look up via ParentID_.
		rid := r.ID_
		if rid == noID {
			rid = r.ParentID_
		}
		// Rampart fork: the removals are read only when rid may have some.
		var ecol []idTargetRemoval
		if tx.mayHaveRemovals(rid) {
			ecol = tx.ruleRemoveTargetByID
		}
		for _, v := range r.variables {
			if multiphaseEvaluation && multiphaseSkipVariable(r, v.Variable, phase) {
				continue
			}
			var values []types.MatchData
			for _, c := range ecol {
				if c.id == rid && c.Variable == v.Variable {
					// TODO shall we check the pointer?
					v.Exceptions = append(v.Exceptions, ruleVariableException{c.KeyStr, c.KeyRx})
				}
			}

			values = tx.getFieldOnce(v)

			vLog := logger
			if debugOn {
				vLog = logger.With(debuglog.Str("variable", v.Variable.Name()))
				vLog.Debug().Msg("Expanding arguments for rule")
			}

			args := make([]string, 1)
			var errs []error
			var argsLen int
			for i, arg := range values {
				if r.MultiMatch {
					args, errs = r.transformMultiMatchArg(arg)
					argsLen = len(args)
				} else {
					args[0], errs = r.transformArg(arg, i, cache)
					argsLen = 1
				}
				if len(errs) > 0 {
					vWarnLog := vLog.Warn()
					if vWarnLog.IsEnabled() {
						for _, err := range errs {
							vWarnLog = vWarnLog.Err(err)
						}
						vWarnLog.Msg("Error transforming argument for rule")
					}
				}

				// args represents the transformed variables
				for _, carg := range args[:argsLen] {
					var evalLog debuglog.Event
					if debugOn {
						evalLog = vLog.
							Debug().
							Str("operator_function", r.operator.Function).
							Str("operator_data", r.operator.Data).
							Str("arg", carg)
					}

					match := r.executeOperator(carg, tx)
					if match {
						// Rampart fork: from the transaction's arena.
						mr := tx.arena.match(arg.Variable(), arg.Key(), carg, chainLevel)
						// Set the txn variables for expansions before usage
						// Rampart fork: the variable's names made once
						// when the match is of its key.
						name, lower := "", ""
						if v.matchedNames != nil && mr.Key_ == v.KeyStr {
							name, lower = v.matchedNames[0], v.matchedNames[1]
						}
						r.matchVariable(tx, mr, name, lower)

						// Expansion for parent rule of a chain is postponed in order to rely on updated MATCHED_* variables.
						// In all other cases, we want to expand here before continuing the rule evaluation to log the matched data
						// just after the match an not just the last one. It is needed to log more than one variable matched by the same rule.
						// The same logic applies to support Msg and LogData for inner rules. As soon as the inner rule matches, we want to expand and
						// log the matched data.
						if r.ParentID_ != noID || !r.HasChain {
							if r.Msg != nil {
								mr.Message_ = r.Msg.Expand(tx)
							}
							if r.LogData != nil {
								mr.Data_ = r.LogData.Expand(tx)
							}
						}

						if !multiphaseEvaluation {
							if matchedValues == nil {
								matchedValues = tx.arena.list(mr)
							} else {
								matchedValues = append(matchedValues, mr)
							}
						} else {
							if isMultiphaseDoubleEvaluation(tx, phase, r, collectiveMatchedValues, mr) {
								// This variables chain already matched, let's evaluate the next variable
								continue
							}
							// For multiphase evaluation, the append to matchedValues is delayed after checking that the variable has not already matched
							matchedValues = append(matchedValues, mr)
							// For multiphase evaluation, the non disruptive actions execution is enforced here, after having checked that the rule
							// has not already been matched against the same variables chain. If effectively enforces to skip the execution of non disruptive actions that are
							// part of the last rule of the chain if the evaluated chained variables already matched. This avoids incrementing the CRS anomaly score multiple
							// time from the same variables chain.
							tx.matchVariable(mr, "", "")
							for _, a := range r.nondisruptive {
								vLog.Debug().Str("action", a.Name).Msg("Evaluating action")
								a.Function.Evaluate(r, tx)
							}
							// Msg and LogData have to be expanded again because actions execution might have changed them
							if r.Msg != nil {
								mr.Message_ = r.Msg.Expand(tx)
							}
							if r.LogData != nil {
								mr.Data_ = r.LogData.Expand(tx)
							}
						}

						if debugOn {
							evalLog.Msg("Evaluating operator: MATCH")
						}
					} else {
						if debugOn {
							evalLog.Msg("Evaluating operator: NO MATCH")
						}
					}
				}
			}
		}
	}

	if len(matchedValues) == 0 {
		return matchedValues
	}

	// disruptive actions and rules affecting the rule flow are only evaluated by parent rules
	// also, expansion of Msg and LogData of the parent rule is postponed after the chain evaluation (if any)
	if r.ParentID_ == noID {
		// we only run the chains for the parent rule
		for nr := r.Chain; nr != nil; {
			chainLevel++

			// Rampart fork: the chain field is built only when a level
			// doEvaluate logs at is on (as Evaluate does for rule_id).
			nrLogger := logger
			if logger.Debug().IsEnabled() || logger.Warn().IsEnabled() {
				if nr.ID_ == noID {
					nrLogger = logger.With(debuglog.Str("chain_rule_ref", fmt.Sprintf("%s#L%d", nr.File_, nr.Line_)))
				} else {
					nrLogger = logger.With(debuglog.Int("chain_rule_id", nr.ID_))
				}
			}

			matchedChainValues := nr.doEvaluate(nrLogger, phase, tx, collectiveMatchedValues, chainLevel, cache)
			if len(matchedChainValues) == 0 {
				return matchedChainValues
			}
			matchedValues = append(matchedValues, matchedChainValues...)
			nr = nr.Chain
		}

		// Expansion of Msg and LogData is postponed here. It allows to run it only if the whole rule/chain
		// matches and to rely on MATCHED_* variables updated by the chain, not just by the first rule.
		if r.HasChain || r.operator == nil {
			if r.Msg != nil {
				matchedValues[0].(*corazarules.MatchData).Message_ = r.Msg.Expand(tx)
			}
			if r.LogData != nil {
				matchedValues[0].(*corazarules.MatchData).Data_ = r.LogData.Expand(tx)
			}
		}

		// Rampart fork: only the flow and disruptive actions are visited
		// (the others were evaluated during the variable matching), and
		// their debug lines are built only when debug logging is on (no
		// flow or disruptive action changes the level).
		debugFlow := logger.Debug().IsEnabled()
		for _, a := range r.flowDisruptive {
			// All actions are evaluated independently from the engine being On or in DetectionOnly.
			// The action evaluation is responsible of checking the engine mode and decide if the disruptive action
			// has to be enforced or not. This allows finer control to the actions, such us creating the detectionOnlyInterruption and
			// allowing RelevantOnly audit logs in detection only mode.
			if debugFlow {
				switch a.Function.Type() {
				case plugintypes.ActionTypeFlow:
					logger.Debug().Str("action", a.Name).Int("phase", int(phase)).Msg("Evaluating flow action for rule")
				case plugintypes.ActionTypeDisruptive:
					// The parser enforces that the disruptive action is just one per rule (if more than one, only the last one is kept)
					logger.Debug().Str("action", a.Name).Int("phase", int(phase)).Msg("Executing disruptive action for rule")
				}
			}
			a.Function.Evaluate(r, tx)
		}
		if r.ID_ != noID {
			// we avoid matching chains and secmarkers
			tx.MatchRule(r, matchedValues)
		}
	}
	return matchedValues
}

func (r *Rule) transformMultiMatchArg(arg types.MatchData) ([]string, []error) {
	// TODOs:
	// - We don't need to run every transformation. We could try for each until found
	// - Cache is not used for multimatch
	return r.executeTransformationsMultimatch(arg.Value())
}

func (r *Rule) transformArg(arg types.MatchData, argIdx int, cache map[transformationKey]transformationValue) (string, []error) {
	switch {
	case len(r.transformations) == 0:
		return arg.Value(), nil
	case arg.Variable().Name() == "TX":
		// no cache for TX
		arg, errs := r.executeTransformations(arg.Value())
		return arg, errs
	default:
		// NOTE: See comment on transformationKey struct to understand this hacky code
		argKey := arg.Key()
		argKeyPtr := unsafe.StringData(argKey)

		// Search from longest prefix (full chain) backwards for a cache hit.
		// Best case: full chain cached → single map lookup, done.
		// Typical case: shared prefix cached → start computing from there.
		startIdx := 0
		value := arg.Value()
		var errs []error

		for i := len(r.transformationPrefixIDs) - 1; i >= 0; i-- {
			key := transformationKey{
				argKey:            argKeyPtr,
				argIndex:          argIdx,
				argVariable:       arg.Variable(),
				transformationsID: r.transformationPrefixIDs[i],
			}
			if cached, ok := cache[key]; ok {
				if i == len(r.transformationPrefixIDs)-1 {
					// Full chain cached — nothing more to compute
					return cached.arg, cached.errs
				}
				value = cached.arg
				errs = cached.errs
				startIdx = i + 1
				break
			}
		}

		// Execute remaining transformations, caching each intermediate step
		// so later rules sharing a prefix can reuse our work.
		for i := startIdx; i < len(r.transformations); i++ {
			v, _, err := r.transformations[i].Function(value)
			if err != nil {
				errs = append(errs, err)
			} else {
				value = v
			}

			key := transformationKey{
				argKey:            argKeyPtr,
				argIndex:          argIdx,
				argVariable:       arg.Variable(),
				transformationsID: r.transformationPrefixIDs[i],
			}
			cache[key] = transformationValue{arg: value, errs: errs}
		}

		return value, errs
	}
}

// name and lower are matchedVarNames of m's variable and key, or "" to
// have them made (Rampart fork).
func (r *Rule) matchVariable(tx *Transaction, m *corazarules.MatchData, name, lower string) {
	rid := r.ID_
	if rid == noID {
		rid = r.ParentID_
	}
	if tx.debugOn && m.Variable() != variables.Unknown { // Rampart fork: debugOn
		tx.DebugLogger().Debug().
			Int("rule_id", rid).
			Str("variable_name", m.Variable().Name()).
			Str("key", m.Key()).
			Msg("Matching rule")
	}
	// we must match the vars before running the chains

	// We run non-disruptive actions even if there is no chain match
	// if multiphaseEvaluation is true, the non disruptive actions execution is deferred
	// SecActions (r.operator == nil) are always executed
	if !multiphaseEvaluation || r.operator == nil {
		tx.matchVariable(m, name, lower)
		for _, a := range r.nondisruptive { // Rampart fork: see Rule.nondisruptive
			if tx.debugOn {
				tx.DebugLogger().Debug().Str("action", a.Name).Msg("Evaluating action")
			}
			a.Function.Evaluate(r, tx)
		}
	}
}

// AddAction adds an action to the rule
func (r *Rule) AddAction(name string, action plugintypes.Action) error {
	// TODO add more logic, like one persistent action per rule etc
	r.actions = append(r.actions, ruleActionParams{
		Name:     name,
		Function: action,
	})
	r.partitionActions()
	return nil
}

// partitionActions sets nondisruptive and flowDisruptive from actions
// (Rampart fork).
func (r *Rule) partitionActions() {
	r.nondisruptive, r.flowDisruptive = nil, nil
	for _, a := range r.actions {
		switch a.Function.Type() {
		case plugintypes.ActionTypeNondisruptive:
			r.nondisruptive = append(r.nondisruptive, a)
		case plugintypes.ActionTypeFlow, plugintypes.ActionTypeDisruptive:
			r.flowDisruptive = append(r.flowDisruptive, a)
		}
	}
}

// ClearDisruptiveActions removes all disruptive actions from the rule.
//
// This is used by directives like SecRuleUpdateActionById to clear existing
// disruptive actions before applying new ones, matching ModSecurity behavior
// where updating with a disruptive action replaces the previous one.
func (r *Rule) ClearDisruptiveActions() {
	actionType := plugintypes.ActionTypeDisruptive
	filtered := make([]ruleActionParams, 0, len(r.actions))
	for _, action := range r.actions {
		if action.Function.Type() != actionType {
			filtered = append(filtered, action)
		}
	}
	r.actions = filtered
	r.partitionActions()
}

// hasRegex checks the received key to see if it is between forward slashes.
// if it is, it will return true and the content of the regular expression inside the slashes.
// otherwise it will return false and the same key.
// Delegates to utils.HasRegex which properly handles escaped slashes.
func hasRegex(key string) (bool, string) {
	return utils.HasRegex(key)
}

// caseSensitiveVariable returns true if the variable is case sensitive
func caseSensitiveVariable(v variables.RuleVariable) bool {
	res := false
	switch v {
	case variables.Args, variables.ArgsNames,
		variables.ArgsGet, variables.ArgsPost,
		variables.ArgsGetNames, variables.ArgsPostNames:
		res = true
	}
	return res
}

// newRuleVariableParams creates a new ruleVariableParams
// knows if a key needs to be lowercased. This probably should not be here,
// but the knowledge of the type of the Map it not here also, so let's start with this.
func newRuleVariableParams(v variables.RuleVariable, key string, re *regexp.Regexp, iscount bool) ruleVariableParams {
	if !caseSensitiveVariable(v) {
		key = strings.ToLower(key)
	}
	p := ruleVariableParams{
		Count:      iscount,
		Variable:   v,
		KeyStr:     key,
		KeyRx:      re,
		Exceptions: []ruleVariableException{},
	}
	if key != "" && re == nil {
		name, lower := matchedVarNames(v, key)
		p.matchedNames = &[2]string{name, lower}
		if v == variables.TX {
			p.keyID = collections.KeyID(key)
		}
	}
	if re != nil {
		p.keyRxLiteral, p.keyRxPrefix, p.keyRxWhole = keyRxLiteral(re)
	}
	return p
}

// AddVariable adds a variable to the rule
// The key can be a regexp.Regexp, a string or nil, in case of regexp
// it will be used to match the variable, in case of string it will
// be a fixed match, in case of nil it will match everything
func (r *Rule) AddVariable(v variables.RuleVariable, key string, iscount bool) error {
	if r == nil {
		return fmt.Errorf("cannot add a variable to an undefined rule")
	}
	var re *regexp.Regexp
	if isRegex, rx := hasRegex(key); isRegex {
		if !caseSensitiveVariable(v) {
			rx = strings.ToLower(rx)
		}
		if vare, err := r.memoizeDo(rx, func() (any, error) { return regexp.Compile(rx) }); err != nil {
			return err
		} else {
			re = vare.(*regexp.Regexp)
		}
	}

	if multiphaseEvaluation {
		// Splitting Args variable into ArgsGet and ArgsPost
		if v == variables.Args {
			r.variables = append(r.variables, newRuleVariableParams(variables.ArgsGet, key, re, iscount))
			r.variables = append(r.variables, newRuleVariableParams(variables.ArgsPost, key, re, iscount))
			return nil
		}
		// Splitting ArgsNames variable into ArgsGetNames and ArgsPostNames
		if v == variables.ArgsNames {
			r.variables = append(r.variables, newRuleVariableParams(variables.ArgsGetNames, key, re, iscount))
			r.variables = append(r.variables, newRuleVariableParams(variables.ArgsPostNames, key, re, iscount))
			return nil
		}
	}
	r.variables = append(r.variables, newRuleVariableParams(v, key, re, iscount))
	return nil
}

// needToSplitConcatenatedVariable returns true if the variable v is Args or ArgsNames and the
// variable ve is ArgsGet, ArgsPost, ArgsGetNames or ArgsPostNames
func needToSplitConcatenatedVariable(v variables.RuleVariable, ve variables.RuleVariable) bool {
	return (v == variables.Args || v == variables.ArgsNames) &&
		(ve == variables.ArgsGet || ve == variables.ArgsPost ||
			ve == variables.ArgsGetNames || ve == variables.ArgsPostNames)
}

// AddVariableNegation adds an exception to a variable
// It passes through if the variable is not used
// It returns an error if the selector is empty,
// or applied on an undefined rule
// for example:
// OK: SecRule ARGS|!ARGS:id "..."
// OK: SecRule !ARGS:id "..."
// ERROR: SecRule !ARGS: "..."
func (r *Rule) AddVariableNegation(v variables.RuleVariable, key string) error {
	var re *regexp.Regexp
	if isRegex, rx := hasRegex(key); isRegex {
		if !caseSensitiveVariable(v) {
			rx = strings.ToLower(rx)
		}
		if vare, err := r.memoizeDo(rx, func() (any, error) { return regexp.Compile(rx) }); err != nil {
			return err
		} else {
			re = vare.(*regexp.Regexp)
		}
	}
	// Prevent sigsev
	if r == nil {
		return fmt.Errorf("cannot create a variable exception for an undefined rule")
	}
	for i, rv := range r.variables {
		// Even when Args and ArgsNames are one map, the exceptions must be created for the individual maps the
		// Concat Map contains in order for exceptions to apply in the corresponding phase.
		if multiphaseEvaluation && needToSplitConcatenatedVariable(v, rv.Variable) {
			rv.Exceptions = append(rv.Exceptions, ruleVariableException{key, re})
			r.variables[i] = rv
			continue
		}
		if rv.Variable == v {
			rv.Exceptions = append(rv.Exceptions, ruleVariableException{key, re})
			r.variables[i] = rv
		}
	}
	return nil
}

var transformationIDToName = []string{""}
var transformationNameToID = map[string]int{"": 0}
var transformationIDsLock = sync.Mutex{}

func transformationID(currentID int, transformationName string) int {
	transformationIDsLock.Lock()
	defer transformationIDsLock.Unlock()

	currName := transformationIDToName[currentID]
	nextName := fmt.Sprintf("%s+%s", currName, transformationName)
	if id, ok := transformationNameToID[nextName]; ok {
		return id
	}

	id := len(transformationIDToName)
	transformationIDToName = append(transformationIDToName, nextName)
	transformationNameToID[nextName] = id
	return id
}

// AddTransformation adds a transformation to the rule
// it fails if the transformation cannot be found
func (r *Rule) AddTransformation(name string, t plugintypes.Transformation) error {
	if t == nil || name == "" {
		return fmt.Errorf("invalid transformation %q not found", name)
	}
	r.transformations = append(r.transformations, ruleTransformationParams{Function: t})
	r.transformationsID = transformationID(r.transformationsID, name)
	r.transformationPrefixIDs = append(r.transformationPrefixIDs, r.transformationsID)
	return nil
}

// ClearTransformations clears all the transformations
// it is mostly used by the "none" transformation
func (r *Rule) ClearTransformations() {
	r.transformations = []ruleTransformationParams{}
	r.transformationsID = 0
	r.transformationPrefixIDs = nil
}

// SetOperator sets the operator of the rule
// There can be only one operator per rule
// functionName and params are used for logging
func (r *Rule) SetOperator(operator plugintypes.Operator, functionName string, params string) {
	r.operator = &ruleOperatorParams{
		Operator: operator,
		Function: functionName,
		Data:     params,
		Negation: len(functionName) > 0 && functionName[0] == '!',
	}
}

func (r *Rule) executeOperator(data string, tx *Transaction) (result bool) {
	// Rampart fork: a value the prescreen searched already has its
	// answer (screen.go answerFromScreen).
	var known bool
	if r.screenAnswer != 0 {
		result, known = tx.answerFromScreen(r, data)
	}
	if !known {
		result = r.operator.Operator.Evaluate(tx, data)
	}
	if r.operator.Negation {
		result = !result
	}
	return
}

func (r *Rule) executeTransformationsMultimatch(value string) ([]string, []error) {
	// The original value will be evaluated
	res := []string{value}
	var errs []error
	for _, t := range r.transformations {
		transformedValue, changed, err := t.Function(value)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		// Every time a transformation generates a new value different from the previous one, the new value is collected to be evaluated
		if changed {
			res = append(res, transformedValue)
			value = transformedValue
		}
	}
	return res, errs
}

func (r *Rule) executeTransformations(value string) (string, []error) {
	var errs []error
	for _, t := range r.transformations {
		v, _, err := t.Function(value)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		value = v
	}
	return value, errs
}

// SetMemoizer sets the memoizer used for caching compiled regexes in variable selectors.
func (r *Rule) SetMemoizer(m plugintypes.Memoizer) {
	r.memoizer = m
}

// Memoizer returns the memoizer used for caching compiled regexes in variable selectors.
func (r *Rule) Memoizer() plugintypes.Memoizer {
	return r.memoizer
}

func (r *Rule) memoizeDo(key string, fn func() (any, error)) (any, error) {
	if r.memoizer != nil {
		return r.memoizer.Do(key, fn)
	}
	return fn()
}

// NewRule returns a new initialized rule
// By default, the rule is set to phase 2
func NewRule() *Rule {
	return &Rule{
		RuleMetadata: corazarules.RuleMetadata{
			Phase_:    2,
			Severity_: types.RuleSeverityUnset,
			Tags_:     []string{},
		},
	}
}
