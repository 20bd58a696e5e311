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

// OnlyTX reports whether the setvar writes a TX variable named by a
// constant and its value reads no collection but TX (Rampart fork: a rule
// whose actions are such setvars and whose operator reads only TX does
// the same for every request that starts with the same TX; see
// corazawaf's initRun).
func (a *setvarFn) OnlyTX() bool {
	return a.collection == variables.TX && a.keyLower != "" &&
		(a.value == nil || macro.ReadsOnly(a.value, variables.TX))
}

// TXKeys returns, for a setvar of which OnlyTX holds, the TX variable it
// writes and those its value reads (Rampart fork).
func (a *setvarFn) TXKeys() (string, []string) {
	var reads []string
	if a.value != nil {
		reads = macro.Keys(a.value, variables.TX)
	}
	return a.keyLower, reads
}
