// Copyright 2026 The Rampart authors
// SPDX-License-Identifier: Apache-2.0

package coraza_test

import (
	"fmt"
	"math/rand"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/corazawaf/coraza/v3"
	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
	"github.com/corazawaf/coraza/v3/types"
)

// TestDirectMatchRandomRules compares engines with and without the
// prescreen on random rule sets shaped like the CRS's bookkeeping:
// paranoia-level gates (on TX and on request data) with skipAfter to
// markers, score sums with setvar
// (some reading RULE and MATCHED_* in their macros), rules with severity,
// rev, log, deny and block, count variables, rules after them that read
// MATCHED_VAR, MATCHED_VAR_NAME, MATCHED_VARS and RULE in msg and logdata,
// ctl:ruleRemoveTargetById narrowing a gate for some requests, SecActions
// and SecMarkers, and screened rules whose msg and logdata (reading
// MATCHED_*) are left pending when they are skipped. With the prescreen
// a matching TX comparison without chain, msg or logdata, and such a
// SecAction or SecMarker, is applied by RuleGroup.Eval itself
// (Transaction.matchDirect): every matched rule (its match records,
// message and data), the interruption, and the TX, RULE, MATCHED_VAR,
// MATCHED_VAR_NAME, MATCHED_VARS and HIGHEST_SEVERITY collections must
// come out the same.
func TestDirectMatchRandomRules(t *testing.T) {
	seeds := 40
	if testing.Short() {
		seeds = 10
	}
	direct, unkept := 0, 0
	for seed := int64(1); seed <= int64(seeds); seed++ {
		rng := rand.New(rand.NewSource(seed))
		rules := directRules(rng)
		if seed%2 == 1 {
			rules = unreadRule(rules)
		}
		on, err := coraza.NewWAF(coraza.NewWAFConfig().WithDirectives(rules).WithPrescreen(true).WithRecordReuse(true))
		if err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, rules)
		}
		off, err := coraza.NewWAF(coraza.NewWAFConfig().WithDirectives(rules).WithPrescreen(false))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 60; i++ {
			q := directQuery(rng)
			got, want := withoutRule(on, directOutcome(t, on, q)), withoutRule(on, directOutcome(t, off, q))
			if got != want {
				t.Fatalf("seed %d, query %s:\nprescreen on:\n%s\nprescreen off:\n%s\nrules:\n%s", seed, q, got, want, rules)
			}
			direct += strings.Count(want, "gate-matched")
		}
		if !coraza.KeepsRule(on) {
			unkept++
		}
	}
	if unkept == 0 || unkept == seeds {
		t.Errorf("RULE left alone in %d of %d rule sets: the test needs both", unkept, seeds)
	}
	if direct < 1000 {
		t.Fatalf("only %d gate matches: the requests do not reach the direct path", direct)
	}
}

var directOps = []string{"@lt 2", "@lt 3", "@ge 2", "@eq 1", "@eq %{tx.b}", "@gt %{tx.a}", "@streq 2", "@within 1 3", "@contains 4", "!@eq 2", "@le 0"}

// directRules: TX:a and TX:b come from the query (one value each), then
// groups of gates, sums and readers, each group ending at its marker.
func directRules(rng *rand.Rand) string {
	var b strings.Builder
	b.WriteString("SecRuleEngine On\n")
	b.WriteString(`SecAction "id:1,phase:1,pass,nolog,setvar:tx.a=1,setvar:tx.b=0,setvar:tx.score=0"` + "\n")
	b.WriteString(`SecRule ARGS:a "@rx ^(\d+)$" "id:2,phase:1,pass,nolog,capture,setvar:tx.a=%{tx.1}"` + "\n")
	b.WriteString(`SecRule ARGS:b "@rx ^(\d+)$" "id:3,phase:1,pass,nolog,capture,setvar:tx.b=%{tx.1}"` + "\n")
	id := 100
	next := func() int { id++; return id }
	for g := 0; g < 12; g++ {
		phase := 1 + rng.Intn(2)
		if rng.Intn(3) == 0 {
			// Narrows the next gate's target for requests with rm=g.
			ctl := next()
			fmt.Fprintf(&b, "SecRule ARGS:rm \"@streq %d\" \"id:%d,phase:%d,pass,nolog,ctl:ruleRemoveTargetById=%d;TX:a\"\n", g, ctl, phase, ctl+1)
		}
		if rng.Intn(3) == 0 {
			// A screened rule whose msg reads RULE (so it is evaluated, not
			// skipped) and whose logdata, left pending when it is screened
			// out, does not.
			id := next()
			fmt.Fprintf(&b, "SecRule ARGS:a|REQUEST_URI \"@pm %s\" \"id:%d,phase:%d,pass,log,msg:'n %%{rule.id}',logdata:'n %%{MATCHED_VAR_NAME}=%%{MATCHED_VAR}'\"\n",
				[]string{"zzq", "3"}[rng.Intn(2)], id, phase)
		}
		if rng.Intn(2) == 0 {
			// A screened rule that is mostly skipped, its msg and logdata
			// expansions left pending: made later, they must read the
			// MATCHED_* variables as they were before the gates below.
			id := next()
			fmt.Fprintf(&b, "SecRule ARGS:a|REQUEST_URI \"@pm %s\" \"id:%d,phase:%d,pass,log,msg:'q %%{MATCHED_VAR}',logdata:'%%{MATCHED_VAR_NAME} %%{tx.score}'\"\n",
				[]string{"zzq", "3", "rm="}[rng.Intn(3)], id, phase)
		}
		for k := 1 + rng.Intn(4); k > 0; k-- {
			id := next()
			count := ""
			if rng.Intn(5) == 0 {
				count = "&"
			}
			// TX variables, and request data: by name, a single-valued
			// collection, a whole collection counted (its values would come
			// in map order).
			vs := []string{"TX:A", "TX:b", "TX:score", "TX:none", "ARGS:a", "ARGS:B", "REQUEST_METHOD", "ARGS", "ARGS_NAMES", "ARGS:none"}
			v := vs[rng.Intn(len(vs))]
			if v == "ARGS" || v == "ARGS_NAMES" {
				count = "&"
			}
			acts := []string{fmt.Sprintf("id:%d", id), fmt.Sprintf("phase:%d", phase), "pass", "tag:'gate-matched'"}
			if rng.Intn(2) == 0 {
				// nolog is a non-disruptive action (a no-op when the rule
				// runs): without any, matchDirect leaves RULE pending.
				acts = append(acts, "nolog")
			}
			switch rng.Intn(8) {
			case 0:
				acts = append(acts, fmt.Sprintf("skipAfter:END-%d", g))
			case 1:
				acts = append(acts, "setvar:'tx.score=+%{tx.a}'", fmt.Sprintf("setvar:'tx.seen%d=%%{rule.id} %%{rule.severity} %%{rule.rev} %%{MATCHED_VAR_NAME}=%%{MATCHED_VAR}'", id))
			case 2:
				acts = append(acts, "severity:'CRITICAL'", "rev:'2'", "setvar:'tx.score=+5'")
			case 3:
				acts = []string{fmt.Sprintf("id:%d", id), fmt.Sprintf("phase:%d", phase), "log", "block", "severity:'WARNING'", "t:none"}
			case 4:
				acts = append(acts, "setvar:tx.flag", "setvar:!tx.gone", fmt.Sprintf("skip:%d", 1+rng.Intn(2)))
			case 5:
				if rng.Intn(4) == 0 {
					acts = []string{fmt.Sprintf("id:%d", id), fmt.Sprintf("phase:%d", phase), "deny", "status:403", "log"}
				}
			case 6:
				acts = append(acts, "severity:2", "ver:'x'", "setvar:'tx.sum_%{tx.b}=%{MATCHED_VARS}'")
			}
			fmt.Fprintf(&b, "SecRule %s%s %q %q\n", count, v, directOps[rng.Intn(len(directOps))], strings.Join(acts, ","))
		}
		if rng.Intn(2) == 0 {
			// A SecAction (applied as a match like the gates).
			id := next()
			act := []string{"setvar:'tx.act=%{MATCHED_VAR_NAME}|%{MATCHED_VAR}|%{rule.id}|%{rule.severity}|%{rule.logdata}|%{rule.msg}'",
				fmt.Sprintf("skipAfter:END-%d", g), "log,severity:3", "setvar:tx.score=+1"}[rng.Intn(4)]
			fmt.Fprintf(&b, "SecAction \"id:%d,phase:%d,pass,nolog,%s\"\n", id, phase, act)
		}
		id := next()
		// A reader evaluated the general way, whose msg and logdata read
		// what the gates left in MATCHED_* and RULE.
		fmt.Fprintf(&b, "SecRule REQUEST_URI \"@rx .\" \"id:%d,phase:%d,pass,log,msg:'r %%{MATCHED_VAR} %%{MATCHED_VAR_NAME} %%{rule.id} [%%{rule.logdata}] [%%{rule.msg}]',logdata:'%%{rule.severity} %%{rule.rev} %%{tx.score}'\"\n", id, phase)
		if rng.Intn(2) == 0 {
			// A rule whose logdata reads no RULE field: it overwrites a
			// pending logdata unread.
			fmt.Fprintf(&b, "SecRule REQUEST_URI \"@rx .\" \"id:%d,phase:%d,pass,log,logdata:'o %%{MATCHED_VAR_NAME}'\"\n", next(), phase)
		}
		fmt.Fprintf(&b, "SecMarker \"END-%d\"\n", g)
	}
	for phase := 1; phase <= 2; phase++ {
		id := next()
		fmt.Fprintf(&b, "SecAction \"id:%d,phase:%d,pass,nolog,setvar:'tx.final%d=%%{MATCHED_VAR}|%%{MATCHED_VAR_NAME}|%%{rule.id}|%%{rule.rev}|%%{rule.severity}|%%{tx.score}|%%{HIGHEST_SEVERITY}'\"\n", id, phase, phase)
	}
	// The phase ends on what the last rule leaves in MATCHED_VARS: a
	// gate's match or a marker's (written when the phase ends).
	switch rng.Intn(3) {
	case 0:
		b.WriteString("SecMarker \"END-ALL\"\n")
	case 1:
		fmt.Fprintf(&b, "SecRule TX:b \"@ge 0\" \"id:%d,phase:2,pass,nolog\"\n", next())
	}
	return b.String()
}

func directQuery(rng *rand.Rand) string {
	q := url.Values{}
	q.Set("a", fmt.Sprint(rng.Intn(5)))
	q.Set("b", fmt.Sprint(rng.Intn(4)))
	if rng.Intn(2) == 0 {
		q.Set("rm", fmt.Sprint(rng.Intn(12)))
	}
	if rng.Intn(2) == 0 {
		q.Add("x", "y")
	}
	return q.Encode()
}

func directOutcome(t *testing.T, w coraza.WAF, query string) string {
	tx := w.NewTransaction()
	defer tx.Close()
	tx.ProcessURI("/?"+query, "GET", "HTTP/1.1")
	it := tx.ProcessRequestHeaders()
	if it == nil {
		var err error
		if it, err = tx.ProcessRequestBody(); err != nil {
			t.Fatal(err)
		}
	}
	var out []string
	if it != nil {
		out = append(out, fmt.Sprintf("interrupted by %d: %s %d", it.RuleID, it.Action, it.Status))
	}
	for _, mr := range tx.MatchedRules() {
		line := fmt.Sprintf("rule %d msg=%q data=%q disruptive=%v", mr.Rule().ID(), mr.Message(), mr.Data(), mr.Disruptive())
		if slices.Contains(mr.Rule().Tags(), "gate-matched") {
			line += " gate-matched"
		}
		for _, md := range mr.MatchedDatas() {
			line += fmt.Sprintf(" [%s:%s=%s]", md.Variable().Name(), md.Key(), md.Value())
		}
		out = append(out, line)
	}
	out = append(out, bookkeepingState(tx)...)
	return strings.Join(out, "\n")
}

// bookkeepingState lists what the CRS's bookkeeping leaves in tx: TX,
// RULE and MATCHED_VARS (sorted), MATCHED_VAR, MATCHED_VAR_NAME and
// HIGHEST_SEVERITY.
func bookkeepingState(tx types.Transaction) []string {
	var out []string
	v := tx.(plugintypes.TransactionState).Variables()
	dump := func(name string, c interface{ FindAll() []types.MatchData }) {
		var vals []string
		for _, md := range c.FindAll() {
			vals = append(vals, md.Key()+"="+md.Value())
		}
		slices.Sort(vals)
		out = append(out, name+": "+strings.Join(vals, " "))
	}
	dump("TX", v.TX())
	dump("RULE", v.Rule())
	dump("MATCHED_VARS", v.MatchedVars())
	return append(out, "MATCHED_VAR="+v.MatchedVar().Get(), "MATCHED_VAR_NAME="+v.MatchedVarName().Get(),
		"HIGHEST_SEVERITY="+v.HighestSeverity().Get())
}

// TestTargetRemovals: ctl:ruleRemoveTargetById takes effect for the rest
// of the transaction, on a TX comparison (fastEval, matchDirect), on its
// count, and on a rule doEvaluate runs; the engine looks removals up only
// once the transaction has made one (Transaction.targetRemovals), and a
// pooled transaction starts with none. Checked against fixed outcomes,
// with and without the prescreen.
func TestTargetRemovals(t *testing.T) {
	const rules = `
SecRuleEngine On
SecAction "id:1,phase:1,pass,nolog,setvar:tx.a=1"
SecRule ARGS:rm "@streq 1" "id:2,phase:1,pass,nolog,ctl:ruleRemoveTargetById=10;TX:a,ctl:ruleRemoveTargetById=11;TX:a,ctl:ruleRemoveTargetById=12;ARGS:x"
SecRule TX:a "@eq 1" "id:10,phase:1,pass,log"
SecRule &TX:a "@eq 0" "id:11,phase:1,pass,log"
SecRule ARGS:x|ARGS:y "@rx ^v$" "id:12,phase:1,pass,log"
`
	for _, prescreen := range []bool{true, false} {
		w, err := coraza.NewWAF(coraza.NewWAFConfig().WithDirectives(rules).WithPrescreen(prescreen).WithRecordReuse(prescreen))
		if err != nil {
			t.Fatal(err)
		}
		// Alternated, so pooled transactions go from one state to the other.
		for i := 0; i < 6; i++ {
			for query, want := range map[string]string{
				"rm=1&x=v": "2 11",    // TX:a gone from 10 and counted as 0 by 11; ARGS:x gone from 12
				"rm=0&x=v": "10 12",   // nothing removed
				"rm=1&y=v": "2 11 12", // ARGS:y is still 12's
			} {
				tx := w.NewTransaction()
				tx.ProcessURI("/?"+query, "GET", "HTTP/1.1")
				tx.ProcessRequestHeaders()
				var ids []string
				for _, mr := range tx.MatchedRules() {
					if id := mr.Rule().ID(); id != 1 {
						ids = append(ids, fmt.Sprint(id))
					}
				}
				tx.Close()
				if got := strings.Join(ids, " "); got != want {
					t.Fatalf("prescreen %v, %s: matched %q, want %q", prescreen, query, got, want)
				}
			}
		}
	}
}
