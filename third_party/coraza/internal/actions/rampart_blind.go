// Copyright 2026 Rampart contributors
// SPDX-License-Identifier: Apache-2.0

package actions

import (
	"github.com/corazawaf/coraza/v3/experimental/plugins/macro"
	"github.com/corazawaf/coraza/v3/types/variables"
)

// ReadsNoCollection marks the actions whose evaluation reads no
// collection of the transaction (Rampart fork): the engine may leave
// MATCHED_VARS's entry for a match of a rule with only such actions
// unwritten until something can read it (corazawaf.matchDirect).
func (*logFn) ReadsNoCollection()        {}
func (*nologFn) ReadsNoCollection()      {}
func (*auditlogFn) ReadsNoCollection()   {}
func (*noauditlogFn) ReadsNoCollection() {}
func (*captureFn) ReadsNoCollection()    {}
func (*passFn) ReadsNoCollection()       {}
func (*blockFn) ReadsNoCollection()      {}
func (*denyFn) ReadsNoCollection()       {}
func (*dropFn) ReadsNoCollection()       {}
func (*allowFn) ReadsNoCollection()      {}
func (*skipFn) ReadsNoCollection()       {}
func (*skipafterFn) ReadsNoCollection()  {}

// TXKeys returns the TX variable the setvar writes (Init accepts only TX)
// and those its value reads, and whether the first is named by a constant
// and the value reads no other collection (Rampart fork: a rule whose
// actions are such setvars and whose operator reads only TX does the same
// whenever those variables hold the same values; see corazawaf's
// staticRun).
func (a *setvarFn) TXKeys() (string, []string, bool) {
	if a.keyLower == "" {
		return "", nil, false
	}
	if a.value == nil {
		return a.keyLower, nil, true
	}
	reads, only := macro.Keys(a.value, variables.TX)
	return a.keyLower, reads, only
}
