// Copyright 2022 Juan Pablo Tosso and the OWASP Coraza contributors
// SPDX-License-Identifier: Apache-2.0

package actions

import (
	"errors"
	"strconv"
	"strings"

	"github.com/corazawaf/coraza/v3/collection"
	"github.com/corazawaf/coraza/v3/experimental/plugins/macro"
	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
	"github.com/corazawaf/coraza/v3/internal/collections"
	"github.com/corazawaf/coraza/v3/types/variables"
)

// Action Group: Non-disruptive
//
// Description:
// Creates, removes, or updates a variable. Variable names are **case-insensitive**.
//
// Example:
// ```seclang
// # Create a variable and set its value to 1 (usually used for setting flags)
// `setvar:TX.score`
//
// # Create a variable and initialize it at the same time,
// `setvar:TX.score=10`
//
// # Remove a variable, prefix the name with an exclamation mark
// `setvar:!TX.score`
//
// # Increase or decrease variable value, use + and - characters in front of a numerical value
// `setvar:TX.score=+5`
//
// # Example from OWASP CRS:
//
//	SecRule REQUEST_FILENAME|ARGS_NAMES|ARGS|XML:/* "\bsys\.user_catalog\b" \
//		"phase:2,rev:'2.1.3',capture,t:none,t:urlDecodeUni,t:htmlEntityDecode,t:lowercase,t:replaceComments,t:compressWhiteSpace,ctl:auditLogParts=+E, \
//		block,msg:'Blind SQL Injection Attack',id:'959517',tag:'WEB_ATTACK/SQL_INJECTION',tag:'WASCTC/WASC-19',tag:'OWASP_TOP_10/A1',tag:'OWASP_AppSensor/CIE1', \
//		tag:'PCI/6.5.2',logdata:'%{TX.0}',severity:'2',setvar:'tx.msg=%{rule.msg}',setvar:tx.sql_injection_score=+%{tx.critical_anomaly_score}, \
//		setvar:tx.anomaly_score=+%{tx.critical_anomaly_score},setvar:tx.%{rule.id}-WEB_ATTACK/SQL_INJECTION-%{matched_var_name}=%{tx.0}"
//
// # When using in a chain, the action will be executed when an individual rule matches instead of the entire chain match.
//
//	SecRule REQUEST_FILENAME "@contains /test.php" "chain,id:7,phase:1,t:none,nolog,setvar:tx.auth_attempt=+1"
//		SecRule ARGS_POST:action "@streq login" "t:none"
//
// # Increment every time that test.php is visited (regardless of the parameters submitted).
// # If the desired goal is to set the variable only if the entire rule matches,
// # it should be included in the last rule of the chain.
//
//	SecRule REQUEST_FILENAME "@streq test.php" "chain,id:7,phase:1,t:none,nolog"
//		SecRule ARGS_POST:action "@streq login" "t:none,setvar:tx.auth_attempt=+1"
//
// ```
type setvarFn struct {
	key        macro.Macro
	value      macro.Macro
	collection variables.RuleVariable
	isRemove   bool

	// Rampart fork: keyLower is the lower-cased key when the key macro
	// is constant ("" otherwise: Init rejects an empty key); valueSign and
	// valueVar split a value that is "+" or "-" and one variable
	// (macro.SignedVariable).
	keyLower  string
	keyID     int32 // keyLower's collections.KeyID
	valueSign byte
	valueVar  macro.Macro
}

func (a *setvarFn) Init(_ plugintypes.RuleMetadata, data string) error {
	if len(data) == 0 {
		return ErrMissingArguments
	}

	if data[0] == '!' {
		a.isRemove = true
		data = data[1:]
	}

	var err error
	key, val, valOk := strings.Cut(data, "=")
	colKey, colVal, colOk := strings.Cut(key, ".")
	// Right not it only makes sense to allow setting TX
	// key is also required
	if strings.ToUpper(colKey) != "TX" {
		return errors.New("invalid arguments, expected collection TX")
	}
	if strings.TrimSpace(colVal) == "" {
		return errors.New("invalid arguments, expected syntax TX.{key}={value}")
	}
	a.collection, err = variables.Parse(colKey)
	if err != nil {
		return err
	}
	if colOk {
		macro, err := macro.NewMacro(colVal)
		if err != nil {
			return err
		}
		a.key = macro
	}

	if !valOk && !a.isRemove {
		// Rampart fork: "tx.key" without a value sets it to 1, as in
		// ModSecurity (upstream expanded a nil macro and panicked).
		val, valOk = "1", true
	}
	if valOk {
		m, err := macro.NewMacro(val)
		if err != nil {
			return err
		}
		a.value = m
		a.valueSign, a.valueVar, _ = macro.SignedVariable(m)
	}
	if a.key != nil {
		if k, ok := macro.Constant(a.key); ok {
			a.keyLower = strings.ToLower(k)
			a.keyID = collections.KeyID(a.keyLower) // Init accepts only TX
		}
	}
	return nil
}

func (a *setvarFn) Evaluate(r plugintypes.RuleMetadata, tx plugintypes.TransactionState) {
	// Rampart fork: with a constant key and no debug line to write, the
	// key lower-cased once, at Init, instead of expanded and lower-cased
	// here; a "+/-%{var}" value without joining it (addVariable).
	if a.keyLower != "" {
		if d, ok := tx.(interface{ DebugOn() bool }); ok && !d.DebugOn() {
			if a.valueVar != nil && !a.isRemove {
				a.addVariable(r, tx)
			} else {
				a.evaluateTxCollection(r, tx, a.keyLower, a.keyID, a.expandValue(tx))
			}
			return
		}
	}
	key := a.key.Expand(tx)
	value := a.expandValue(tx)
	tx.DebugLogger().Debug().
		Str("var_key", key).
		Str("var_value", value).
		Int("rule_id", r.ID()).
		Msg("Action evaluated")
	a.evaluateTxCollection(r, tx, strings.ToLower(key), 0, value)
}

// expandValue is the value's expansion; "" for "!tx.key", which has none
// (Rampart fork: upstream expanded a nil macro there and panicked).
func (a *setvarFn) expandValue(tx plugintypes.TransactionState) string {
	if a.value == nil {
		return ""
	}
	return a.value.Expand(tx)
}

// addVariable is evaluateTxCollection(r, tx, a.keyLower, value) for a
// value that is a.valueSign followed by the expansion of a.valueVar,
// without making that string unless it is stored as it is.
func (a *setvarFn) addVariable(r plugintypes.RuleMetadata, tx plugintypes.TransactionState) {
	col, ok := tx.Collection(a.collection).(collection.Map)
	if !ok || col == nil {
		a.evaluateTxCollection(r, tx, a.keyLower, a.keyID, string(a.valueSign)+a.valueVar.Expand(tx))
		return
	}
	rest := a.valueVar.Expand(tx)
	setSigned(r, tx, col, a.keyLower, a.keyID, firstValue(col, a.keyLower, a.keyID), a.valueSign, rest, "")
}

// firstValue is key's first value in col, "" when it has none; id is
// key's collections.KeyID, 0 for none.
func firstValue(col collection.Map, key string, id int32) string {
	// Rampart fork: the TX Map by its concrete type first (an assertion to
	// an interface type looks its itab up).
	if m, ok := col.(*collections.Map); ok {
		if id > 0 {
			v, _ := m.GetFirstID(id, key)
			return v
		}
		v, _ := m.GetFirst(key)
		return v
	}
	if g, ok := col.(interface {
		GetFirstID(int32, string) (string, bool)
	}); ok && id > 0 {
		v, _ := g.GetFirstID(id, key)
		return v
	}
	if g, ok := col.(interface{ GetFirst(string) (string, bool) }); ok {
		v, _ := g.GetFirst(key) // Rampart fork: no slice
		return v
	}
	if r := col.Get(key); len(r) > 0 {
		return r[0]
	}
	return ""
}

// setSigned is setvar's arithmetic (Rampart fork: shared by
// evaluateTxCollection and addVariable): for the value sign+rest, key
// gets its current integer value plus or minus rest's. A rest that is not
// a number is logged when it names a TX variable, otherwise the value is
// stored as it is; value is that whole value, "" to have it made then.
func setSigned(r plugintypes.RuleMetadata, tx plugintypes.TransactionState, col collection.Map, key string, id int32, currentVal string, sign byte, rest, value string) {
	val := 0
	if len(rest) > 0 {
		var err error
		val, err = strconv.Atoi(rest)
		if err != nil {
			if value == "" {
				value = string(sign) + rest
			}
			// If the variable doesn't exist, we would need to raise an error. Otherwise, it should be the same value.
			if strings.HasPrefix(rest, "tx.") {
				tx.DebugLogger().Error().
					Str("var_value", value).
					Int("rule_id", r.ID()).
					Err(err).
					Msg(value)
				return
			}
			setOne(col, key, id, value)
			return
		}
	}
	currentValInt := 0
	if currentVal != "" {
		var err error
		currentValInt, err = strconv.Atoi(currentVal)
		if err != nil {
			tx.DebugLogger().Error().
				Str("var_key", currentVal).
				Int("rule_id", r.ID()).
				Err(err).
				Msg("Invalid value")
			return
		}
	}
	if sign == '+' {
		setOne(col, key, id, strconv.Itoa(currentValInt+val))
	} else {
		setOne(col, key, id, strconv.Itoa(currentValInt-val))
	}
}

func (a *setvarFn) Type() plugintypes.ActionType {
	return plugintypes.ActionTypeNondisruptive
}

func (a *setvarFn) evaluateTxCollection(r plugintypes.RuleMetadata, tx plugintypes.TransactionState, key string, id int32, value string) {
	var col collection.Map
	if c, ok := tx.Collection(a.collection).(collection.Map); !ok {
		tx.DebugLogger().Error().Msg("collection in setvar is not a map")
		return
	} else {
		col = c
	}
	if col == nil {
		tx.DebugLogger().Error().Msg("collection in setvar is nil")
		return
	}

	if a.isRemove {
		col.Remove(key)
		return
	}
	switch {
	case len(value) == 0:
		// if nothing to input
		setOne(col, key, id, "")
	// Check if this could be an arithemetic operation. If it is followed by a number, it will be treated as an arithmetic operation. Otherwise, it will be treated as a string.
	case value[0] == '+', value[0] == '-':
		// Rampart fork: the current value is read only here, where it is
		// used (it was read for every setvar).
		setSigned(r, tx, col, key, id, firstValue(col, key, id), value[0], value[1:], value)
	default:
		setOne(col, key, id, value)
	}
}

func setvar() plugintypes.Action {
	return &setvarFn{}
}

var (
	_ plugintypes.Action = &setvarFn{}
	_ ruleActionWrapper  = setvar
)

// setOne is col.Set(key, []string{value}), without the slice when the
// collection has SetOne (Rampart fork: setvar runs for most rules); id is
// key's collections.KeyID, 0 for none.
func setOne(col collection.Map, key string, id int32, value string) {
	if m, ok := col.(*collections.Map); ok { // Rampart fork: see firstValue
		if id > 0 {
			m.SetOneID(id, key, value)
		} else {
			m.SetOne(key, value)
		}
		return
	}
	if c, ok := col.(interface {
		SetOneID(int32, string, string)
	}); ok && id > 0 {
		c.SetOneID(id, key, value)
		return
	}
	if c, ok := col.(interface{ SetOne(key, value string) }); ok {
		c.SetOne(key, value)
		return
	}
	col.Set(key, []string{value})
}
