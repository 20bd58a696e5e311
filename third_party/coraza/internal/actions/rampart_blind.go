// Copyright 2026 Rampart contributors
// SPDX-License-Identifier: Apache-2.0

package actions

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
