// Copyright 2026 The Rampart authors
// SPDX-License-Identifier: Apache-2.0

package coraza

// StaticRunState reports how many static runs w's rules have and how many
// have a recording (for rampart_staticrun_test.go).
func StaticRunState(w WAF) (runs, recorded int) {
	return w.(wafWrapper).waf.Rules.RunState()
}

// KeepsRule reports whether w's transactions keep the RULE collection.
func KeepsRule(w WAF) bool {
	return w.(interface{ KeepsRuleCollection() bool }).KeepsRuleCollection()
}
