// Copyright 2026 The Rampart authors
// SPDX-License-Identifier: Apache-2.0

package coraza_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/corazawaf/coraza/v3"
)

// ruleReader reads RULE in a phase the tests do not evaluate: with it, a
// prescreening engine keeps RULE as upstream does, without it one whose
// rules read no RULE field leaves RULE alone.
const ruleReader = "\nSecAction \"id:99999,phase:5,pass,nolog,setvar:'tx.rule_reader=%{rule.id}'\"\n"

// withoutRule is an outcome (lines) of on or of upstream's engine for the
// same rules, without its RULE line when on does not keep RULE.
func withoutRule(on coraza.WAF, outcome string) string {
	if coraza.KeepsRule(on) {
		return outcome
	}
	lines := slices.DeleteFunc(strings.Split(outcome, "\n"), func(l string) bool { return strings.HasPrefix(l, "RULE: ") })
	return strings.Join(lines, "\n")
}

// unreadRule makes the rules' macros that read RULE read TX variables
// that are never set instead (the expansion is then the macro's text): an
// engine may then leave RULE alone.
func unreadRule(rules string) string {
	return strings.ReplaceAll(rules, "%{rule.", "%{tx.unset_rule_")
}

// A prescreening engine keeps RULE when any rule may read it: as a target
// (also counted, in a chained rule, or added by SecRuleUpdateTargetById),
// or through a macro in any action (also one SecDefaultAction or
// SecRuleUpdateActionById gives it) or an operator's argument, in any
// case; and leaves it alone when none does, whatever else a rule says
// about rules.
func TestKeepsRuleWhenRead(t *testing.T) {
	const base = `SecRule ARGS "@rx a" "id:1,phase:1,pass,log,msg:'a rule, ruleRemoveById',ctl:ruleRemoveById=3"
SecRule ARGS "@pm b" "id:2,phase:2,pass,log,logdata:'%{MATCHED_VAR}',setvar:tx.rules=+1,chain"
  SecRule TX:rules "@eq 1" "t:none"
SecAction "id:3,phase:2,pass,nolog,setvar:'tx.rule_count=%{tx.rules}'"
`
	for _, tc := range []struct {
		rule  string
		keeps bool
	}{
		{"", false},
		{`SecRule RULE:msg "@rx x" "id:10,phase:2,pass"`, true},
		{`SecRule &RULE "@gt 0" "id:10,phase:2,pass"`, true},
		{`SecRule ARGS "@rx x" "id:10,phase:2,pass,chain"` + "\n" + `  SecRule RULE:id "@eq 2" "t:none"`, true},
		{`SecRule ARGS "@rx x" "id:10,phase:2,pass,msg:'%{rule.id}'"`, true},
		{`SecRule ARGS "@rx x" "id:10,phase:2,pass,logdata:'%{RULE.msg}'"`, true},
		{`SecAction "id:10,phase:5,pass,setvar:'tx.x=%{Rule.severity}'"`, true},
		{`SecRule ARGS "@streq %{rule.id}" "id:10,phase:2,pass"`, true},
		{`SecRule ARGS "@rx x" "id:10,phase:2,pass,chain"` + "\n" + `  SecRule ARGS "@rx y" "setvar:'tx.y=%{rule.rev}'"`, true},
		// Actions a rule gets from elsewhere than its own text.
		{`SecRuleUpdateActionById 3 "setvar:'tx.y=%{rule.msg}'"`, true},
		{`SecDefaultAction "phase:2,log,pass,setvar:'tx.z=%{rule.id}'"` + "\n" + `SecRule ARGS "@rx x" "id:10,phase:2"`, true},
		{`SecRuleUpdateTargetById 3 "RULE:msg"`, true},
		{`SecRuleUpdateActionById 3 "setvar:'tx.y=%{tx.rules}'"`, false},
	} {
		w, err := coraza.NewWAF(coraza.NewWAFConfig().WithDirectives(base + tc.rule).WithPrescreen(true))
		if err != nil {
			t.Fatalf("%s: %v", tc.rule, err)
		}
		if got := coraza.KeepsRule(w); got != tc.keeps {
			t.Errorf("%q: keeps RULE %v, want %v", tc.rule, got, tc.keeps)
		}
		off, err := coraza.NewWAF(coraza.NewWAFConfig().WithDirectives(base + tc.rule))
		if err != nil {
			t.Fatal(err)
		}
		if !coraza.KeepsRule(off) {
			t.Errorf("%q: upstream's evaluation leaves RULE alone", tc.rule)
		}
	}
}
