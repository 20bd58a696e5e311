// Copyright 2026 The Rampart authors
// SPDX-License-Identifier: Apache-2.0

package coraza_test

import (
	"bytes"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/corazawaf/coraza/v3"
	"github.com/corazawaf/coraza/v3/debuglog"
	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
)

// ruleFieldRules are screened @pm rules with and without msg, logdata,
// rev and severity (some of their macros reading other collections), and
// rules that read what RULE holds after them: a rule without msg or
// logdata copying the RULE fields into TX, a rule whose msg reads RULE
// (not skipped), a screened rule last in the phase, and a rule that
// removes one of the screened rules (ctl:ruleRemoveById) for requests
// with an argument "rm".
const ruleFieldRules = `
SecRuleEngine On
SecAction "id:1,phase:2,pass,nolog,setvar:tx.a=1"
SecRule ARGS "@streq rm" "id:3,phase:2,pass,nolog,ctl:ruleRemoveById=12"
SecRule ARGS "@pm foo bar" "id:11,phase:2,pass,log,msg:'one %{tx.a}',logdata:'ld1 %{MATCHED_VAR}',severity:2,rev:'r1'"
SecRule ARGS "@pm baz" "id:12,phase:2,pass,log,msg:'two',rev:'r2'"
SecRule ARGS "@pm qux" "id:13,phase:2,pass,log,severity:4"
SecAction "id:14,phase:2,pass,nolog,setvar:'tx.seen14=%{rule.id}|%{rule.msg}|%{rule.rev}|%{rule.severity}|%{rule.logdata}'"
SecRule ARGS "@pm zzz" "id:15,phase:2,pass,log,msg:'five %{tx.a}',logdata:'ld5'"
SecRule ARGS "@pm www" "id:16,phase:2,pass,log,rev:'r6'"
SecRule TX:a "@eq 5" "id:23,phase:2,pass,log,msg:'twentythree %{tx.a}',logdata:'ld23 %{MATCHED_VAR}',rev:'r23',severity:1"
SecRule &TX:nope "@eq 1" "id:24,phase:2,pass,log,rev:'r24'"
SecRule TX:a "@eq 1" "id:17,phase:2,pass,nolog,setvar:'tx.seen17=%{rule.msg}|%{rule.logdata}|%{rule.rev}'"
SecRule ARGS "@pm vvv" "id:18,phase:2,pass,log,msg:'eight'"
SecRule ARGS "@pm yyy" "id:19,phase:2,pass,log,msg:'nine %{rule.rev} %{rule.severity} %{rule.msg}',severity:3"
SecAction "id:20,phase:2,pass,nolog,setvar:'tx.seen20=%{rule.msg}'"
SecRule ARGS "@pm uuu" "id:21,phase:2,pass,log,msg:'twentyone',logdata:'ld21 %{MATCHED_VAR_NAME}',severity:5,rev:'r21'"
SecRule ARGS "@pm ttt" "id:22,phase:2,pass,log,rev:'r22'"
`

// TestScreenedRuleFields compares, with the prescreen on (screened-out
// quiet rules skipped, their RULE fields written when they may be read)
// and off, what rules read from RULE and what RULE holds after the phase,
// for arguments that match every subset of a few of the rules.
func TestScreenedRuleFields(t *testing.T) {
	engine := func(prescreen bool) coraza.WAF {
		w, err := coraza.NewWAF(coraza.NewWAFConfig().WithDirectives(ruleFieldRules).WithPrescreen(prescreen))
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	on, off := engine(true), engine(false)
	words := []string{"foo", "baz", "qux", "zzz", "www", "vvv", "yyy", "uuu", "ttt"}
	state := func(w coraza.WAF, args []string) string {
		tx := w.NewTransaction()
		defer tx.Close()
		q := url.Values{}
		for i, a := range args {
			q.Set(fmt.Sprintf("a%d", i), a)
		}
		tx.ProcessURI("/?"+q.Encode(), "GET", "HTTP/1.1")
		tx.ProcessRequestHeaders()
		if _, err := tx.ProcessRequestBody(); err != nil {
			t.Fatal(err)
		}
		v := tx.(plugintypes.TransactionState).Variables()
		var out []string
		for _, md := range v.TX().FindAll() {
			if strings.HasPrefix(md.Key(), "seen") {
				out = append(out, "TX:"+md.Key()+"="+md.Value())
			}
		}
		for _, md := range v.Rule().FindAll() {
			out = append(out, "RULE:"+md.Key()+"="+md.Value())
		}
		var matched []string
		for _, mr := range tx.MatchedRules() {
			matched = append(matched, fmt.Sprint(mr.Rule().ID()))
		}
		slices.Sort(out)
		return strings.Join(out, "\n") + "\nmatched " + strings.Join(matched, ",")
	}
	for mask := 0; mask < 1<<len(words); mask += 7 { // a spread of subsets
		var args []string
		for i, w := range words {
			if mask&(1<<i) != 0 {
				args = append(args, "x "+w)
			}
		}
		args = append(args, "plain")
		for _, rm := range []bool{false, true} { // rm: rule 12 removed by rule 3's ctl
			if rm {
				args = append(args, "rm")
			}
			if got, want := state(on, args), state(off, args); got != want {
				t.Fatalf("args %v:\nprescreen on:\n%s\nprescreen off:\n%s", args, got, want)
			}
		}
	}
	if s := state(on, []string{"plain"}); !strings.Contains(s, "RULE:id=22") || !strings.Contains(s, "TX:seen14=14|two||unknown|ld1 \n") || !strings.Contains(s, "TX:seen17=twentythree 1|ld23 |\n") {
		t.Fatalf("the rules did not run as the test expects:\n%s", s)
	}
}

// TestScreenUnmaskedSteps: a chain with a step that may change any value
// (t:length, t:base64Decode: no identity mask) is applied even to values
// whose bytes trigger none of its other steps (digits have no class).
func TestScreenUnmaskedSteps(t *testing.T) {
	const rules = `
SecRuleEngine On
SecRule ARGS "@pm 3" "id:31,phase:2,pass,log,t:none,t:length,msg:'length 3'"
SecRule ARGS "@pm 7" "id:32,phase:2,pass,log,t:none,t:lowercase,t:length,msg:'length 7'"
SecRule ARGS "@pm attack" "id:33,phase:2,pass,log,t:none,t:base64Decode,msg:'b64'"
`
	matched := func(prescreen bool, arg string) string {
		w, err := coraza.NewWAF(coraza.NewWAFConfig().WithDirectives(rules).WithPrescreen(prescreen))
		if err != nil {
			t.Fatal(err)
		}
		tx := w.NewTransaction()
		defer tx.Close()
		tx.ProcessURI("/?a="+url.QueryEscape(arg), "GET", "HTTP/1.1")
		tx.ProcessRequestHeaders()
		if _, err := tx.ProcessRequestBody(); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, mr := range tx.MatchedRules() {
			ids = append(ids, fmt.Sprint(mr.Rule().ID()))
		}
		return strings.Join(ids, ",")
	}
	for arg, want := range map[string]string{"124": "31", "1245678": "32", "YXR0YWNr": "33", "12": ""} {
		on, off := matched(true, arg), matched(false, arg)
		if on != off || off != want {
			t.Errorf("a=%q: matched %q with the prescreen, %q without, want %q", arg, on, off, want)
		}
	}
}

// TestSkipsKeepDebugLines: with debug logging on, screened-out rules are
// evaluated (and say so in the log) rather than skipped, so the debug log
// reads as it did; the same holds when ctl:debugLogLevel turns debug
// logging on in the middle of a phase.
func TestSkipsKeepDebugLines(t *testing.T) {
	// Rule 12 is quiet and screened out; 23 is a TX comparison that does
	// not match: both are skipped when nothing is logged.
	const line = "Prescreen: no value can match"
	has := func(log string, id int) bool {
		for _, l := range strings.Split(log, "\n") {
			if strings.Contains(l, fmt.Sprintf("rule_id=%d", id)) && strings.Contains(l, "Evaluating rule") {
				return true
			}
		}
		return false
	}
	run := func(directives string, lvl debuglog.Level) string {
		var log bytes.Buffer
		w, err := coraza.NewWAF(coraza.NewWAFConfig().WithDirectives(directives).WithPrescreen(true).
			WithDebugLogger(debuglog.Default().WithOutput(&log).WithLevel(lvl)))
		if err != nil {
			t.Fatal(err)
		}
		tx := w.NewTransaction()
		tx.ProcessURI("/?a=plain", "GET", "HTTP/1.1")
		tx.ProcessRequestHeaders()
		if _, err := tx.ProcessRequestBody(); err != nil {
			t.Fatal(err)
		}
		tx.Close()
		return log.String()
	}
	if got := run(ruleFieldRules, debuglog.LevelDebug); !strings.Contains(got, line) || !has(got, 12) || !has(got, 23) {
		t.Errorf("debug level: rules 12 and 23 not evaluated with their debug lines:\n%s", got)
	}
	if got := run(ruleFieldRules, debuglog.LevelError); strings.Contains(got, line) {
		t.Errorf("error level: a %q line", line)
	}
	ctl := "SecAction \"id:2,phase:2,pass,nolog,ctl:debugLogLevel=9\"\n" + ruleFieldRules
	if got := run(ctl, debuglog.LevelError); !has(got, 12) || !has(got, 23) {
		t.Errorf("ctl:debugLogLevel=9: rules 12 and 23 not evaluated with their debug lines after it:\n%s", got)
	}
}
