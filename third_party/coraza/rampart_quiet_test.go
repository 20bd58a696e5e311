// Copyright 2026 The Rampart authors
// SPDX-License-Identifier: Apache-2.0

package coraza_test

import (
	"slices"
	"testing"

	"github.com/corazawaf/coraza/v3"
	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
)

// TestQuietMatchesUnrecorded: with WithQuietMatchesUnrecorded a match of a
// rule without log or auditlog, whose only disruptive action is pass and
// whose chain has no msg or logdata, gets no MatchedRule; its actions
// still run, and every other match is recorded as before.
func TestQuietMatchesUnrecorded(t *testing.T) {
	rules := `
SecRuleEngine On
SecDefaultAction "phase:1,nolog,pass"
SecAction "id:1,phase:1,pass,nolog,setvar:tx.init=1"
SecRule TX:init "@eq 1" "id:2,phase:1,pass,nolog,setvar:tx.gate=1"
SecRule ARGS:a "@streq x" "id:3,phase:1,pass,nolog,chain"
  SecRule ARGS:b "@streq y" "setvar:tx.chained=1"
SecRule ARGS:a "@streq x" "id:4,phase:1,pass,nolog,msg:'has a message',setvar:tx.msg=1"
SecRule ARGS:a "@streq x" "id:5,phase:1,pass,log,setvar:tx.logged=1"
SecRule ARGS:a "@streq x" "id:6,phase:1,pass,nolog,logdata:'%{MATCHED_VAR}'"
SecRule ARGS:a "@streq x" "id:7,phase:1,pass,nolog,chain"
  SecRule ARGS:b "@streq y" "msg:'chained message'"
SecRule ARGS:a "@streq x" "id:8,phase:1,pass,nolog,auditlog"
SecRule ARGS:b "@streq y" "id:9,phase:1,deny,status:403,nolog"
`
	for _, quiet := range []bool{false, true} {
		cfg := coraza.NewWAFConfig().WithDirectives(rules).WithPrescreen(true).WithQuietMatchesUnrecorded(quiet)
		w, err := coraza.NewWAF(cfg)
		if err != nil {
			t.Fatal(err)
		}
		tx := w.NewTransaction()
		tx.ProcessURI("/?a=x&b=y", "GET", "HTTP/1.1")
		tx.ProcessRequestHeaders()
		var ids []int
		for _, mr := range tx.MatchedRules() {
			ids = append(ids, mr.Rule().ID())
		}
		want := []int{1, 2, 3, 4, 5, 6, 7, 8, 9}
		if quiet {
			want = []int{4, 5, 6, 7, 8, 9}
		}
		if !slices.Equal(ids, want) {
			t.Errorf("quiet %v: matched rules %v, want %v", quiet, ids, want)
		}
		txv := tx.(plugintypes.TransactionState).Variables().TX()
		for _, k := range []string{"init", "gate", "chained", "msg", "logged"} {
			if got := txv.Get(k); len(got) != 1 || got[0] != "1" {
				t.Errorf("quiet %v: TX:%s = %v, want 1: the actions must still run", quiet, k, got)
			}
		}
		if it := tx.Interruption(); it == nil || it.RuleID != 9 {
			t.Errorf("quiet %v: interruption %+v, want rule 9's", quiet, it)
		}
		tx.Close()
	}
}
