// Copyright 2026 The Rampart authors
// SPDX-License-Identifier: Apache-2.0

package coraza_test

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/corazawaf/coraza/v3"
)

// TestStaticRunsRandom compares, on random rule sets that begin like the
// CRS's initialisation (SecActions and TX comparisons setting defaults,
// gates skipping to markers inside and after the run, comparisons with
// msg, logdata and severity that rarely match, some denying) and end each
// phase like its score evaluation (a marker, gates, sums and checks of
// variables that request data changes), with rules that read what the
// runs left (TX, RULE, MATCHED_VAR*) and rules before them that sometimes
// write TX, remove one of their rules or narrow one's target, an engine
// that copies recorded runs (prescreen, quiet matches unrecorded) with
// upstream's evaluation: the interruption, the matched rules with a
// message or data, and TX, RULE, MATCHED_VARS, MATCHED_VAR,
// MATCHED_VAR_NAME and HIGHEST_SEVERITY after each phase must be the
// same, for requests that can use a copy and requests that cannot.
func TestStaticRunsRandom(t *testing.T) {
	seeds := 60
	if testing.Short() {
		seeds = 15
	}
	recorded, unkept := 0, 0
	for seed := int64(1); seed <= int64(seeds); seed++ {
		rng := rand.New(rand.NewSource(seed))
		rules := staticRunRules(rng)
		if seed%2 == 1 {
			rules = unreadRule(rules)
		}
		on, err := coraza.NewWAF(coraza.NewWAFConfig().WithDirectives(rules).WithPrescreen(true).WithRecordReuse(true).WithQuietMatchesUnrecorded(true))
		if err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, rules)
		}
		off, err := coraza.NewWAF(coraza.NewWAFConfig().WithDirectives(rules))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 40; i++ {
			q := staticRunQuery(rng)
			got, want := withoutRule(on, staticRunOutcome(t, on, q)), withoutRule(on, staticRunOutcome(t, off, q))
			if got != want {
				t.Fatalf("seed %d, query %s:\ncopied run:\n%s\nupstream:\n%s\nrules:\n%s", seed, q, got, want, rules)
			}
		}
		runs, rec := coraza.StaticRunState(on)
		if runs < 2 {
			t.Fatalf("seed %d: %d static runs found in\n%s", seed, runs, rules)
		}
		recorded += rec
		if !coraza.KeepsRule(on) {
			unkept++
		}
	}
	if unkept == 0 || unkept == seeds {
		t.Errorf("RULE left alone in %d of %d rule sets: the test needs both", unkept, seeds)
	}
	t.Logf("%d runs recorded, then copied, in %d rule sets", recorded, seeds)
	if recorded < seeds {
		t.Errorf("%d runs recorded in %d rule sets: the copy is hardly tested", recorded, seeds)
	}
}

func staticRunRules(rng *rand.Rand) string {
	var b strings.Builder
	b.WriteString("SecRuleEngine On\nSecDefaultAction \"phase:1,log,auditlog,pass\"\nSecDefaultAction \"phase:2,log,auditlog,pass\"\n")
	keys := []string{"a", "b", "c", "d", "e"}
	key := func() string { return keys[rng.Intn(len(keys))] }
	id := 100
	next := func() int { id++; return id }
	initIDs := []int{}
	// Before the run: request data may write TX, remove a run's rule or
	// narrow its target (the copy is then not used).
	pre := &strings.Builder{}
	markers := []string{}
	var body strings.Builder
	fmt.Fprintf(&body, "SecAction \"id:%d,phase:1,pass,nolog,setvar:tx.a=%d\"\n", next(), rng.Intn(5))
	initIDs = append(initIDs, id)
	n := 6 + rng.Intn(14)
	for i := 0; i < n; i++ {
		k := key()
		switch rng.Intn(10) {
		case 0:
			fmt.Fprintf(&body, "SecAction \"id:%d,phase:1,pass,nolog,setvar:tx.%s=%d\"\n", next(), k, rng.Intn(5))
		case 1:
			fmt.Fprintf(&body, "SecAction \"id:%d,phase:1,pass,nolog,setvar:tx.%s=+%%{tx.%s}\"\n", next(), k, key())
		case 2:
			fmt.Fprintf(&body, "SecRule &TX:%s \"@eq 0\" \"id:%d,phase:1,pass,nolog,setvar:tx.%s=%d\"\n", k, next(), k, rng.Intn(5))
		case 3:
			m := fmt.Sprintf("M%d", len(markers))
			markers = append(markers, m)
			fmt.Fprintf(&body, "SecRule TX:%s \"@lt %d\" \"id:%d,phase:1,pass,nolog,skipAfter:%s\"\n", k, rng.Intn(4), next(), m)
		case 4:
			if len(markers) > 0 {
				fmt.Fprintf(&body, "SecMarker %s\n", markers[rng.Intn(len(markers))])
				continue
			}
			fmt.Fprintf(&body, "SecAction \"id:%d,phase:1,pass,nolog,setvar:tx.%s=-1\"\n", next(), k)
		case 5:
			fmt.Fprintf(&body, "SecRule TX:%s \"@gt %d\" \"id:%d,phase:1,deny,status:403,msg:'too big %%{tx.%s}',severity:2\"\n", k, 6+rng.Intn(8), next(), k)
		case 6:
			fmt.Fprintf(&body, "SecRule TX:%s \"@eq %d\" \"id:%d,phase:1,pass,nolog,msg:'m %%{tx.%s}',logdata:'d %%{tx.%s}'\"\n", k, rng.Intn(3), next(), k, key())
		case 7:
			fmt.Fprintf(&body, "SecRule TX:%s \"@ge %d\" \"id:%d,phase:1,pass,nolog,rev:'%d',setvar:tx.%s=%%{tx.%s}\"\n", k, rng.Intn(4), next(), rng.Intn(9), key(), k)
		case 8:
			fmt.Fprintf(&body, "SecAction \"id:%d,phase:1,pass,nolog,setvar:!tx.%s\"\n", next(), k)
		case 9:
			// A quiet comparison whose setvar names its variable with a
			// macro: no rule of a run.
			fmt.Fprintf(&body, "SecRule TX:%s \"@ge 0\" \"id:%d,phase:1,pass,nolog,setvar:'tx.dyn_%%{tx.%s}=1'\"\n", k, next(), key())
		}
		initIDs = append(initIDs, id)
	}
	// What RULE holds after the run, then the markers not placed inside
	// it, some after a rule a skip leaves out.
	var after strings.Builder
	fmt.Fprintf(&after, "SecAction \"id:%d,phase:1,pass,log,logdata:'%%{rule.id}/%%{rule.rev}/%%{rule.msg}/%%{rule.logdata}/%%{rule.severity}'\"\n", next())
	var late []string
	for _, m := range markers {
		if !strings.Contains(body.String(), "SecMarker "+m+"\n") || rng.Intn(3) == 0 {
			if rng.Intn(2) == 0 {
				fmt.Fprintf(&after, "SecMarker %s\n", m)
			} else {
				late = append(late, m)
			}
		}
	}
	fmt.Fprintf(&after, "SecAction \"id:%d,phase:1,pass,log,msg:'not skipped',setvar:tx.late=1\"\n", next())
	for _, m := range late {
		fmt.Fprintf(&after, "SecMarker %s\n", m)
	}
	victim := initIDs[rng.Intn(len(initIDs))]
	fmt.Fprintf(pre, "SecRule ARGS:pre \"@streq 1\" \"id:10,phase:1,pass,nolog,setvar:tx.a=7\"\n")
	fmt.Fprintf(pre, "SecRule ARGS:rm \"@streq 1\" \"id:11,phase:1,pass,nolog,ctl:ruleRemoveById=%d\"\n", victim)
	fmt.Fprintf(pre, "SecRule ARGS:nt \"@streq 1\" \"id:12,phase:1,pass,nolog,ctl:ruleRemoveTargetById=%d;TX:%s\"\n", victim, key())
	fmt.Fprintf(pre, "SecRule ARGS:m \"@streq 1\" \"id:13,phase:1,pass,log,msg:'before %%{MATCHED_VAR}'\"\n")
	// A rule that does not match, whose msg and logdata (read through
	// RULE after the run) are expanded on what was there before the run.
	fmt.Fprintf(pre, "SecRule ARGS:q \"@streq zzz\" \"id:14,phase:1,pass,nolog,msg:'q %%{MATCHED_VAR}',logdata:'%%{MATCHED_VAR_NAME}'\"\n")
	// After it: request data, and readers of what the run left.
	fmt.Fprintf(&after, "SecRule ARGS:x \"@streq v\" \"id:%d,phase:1,pass,log,msg:'x %%{MATCHED_VAR_NAME} %%{rule.id} %%{rule.rev} %%{rule.severity}',logdata:'%%{rule.msg}|%%{rule.logdata}',setvar:tx.sum=+%%{tx.a}\"\n", next())
	fmt.Fprintf(&after, "SecRule TX:b \"@ge 0\" \"id:%d,phase:1,pass,log,msg:'b %%{MATCHED_VAR} %%{tx.c}'\"\n", next())
	fmt.Fprintf(&after, "SecRule TX:a|TX:b|TX:c|TX:d|TX:e \"@ge 2\" \"id:%d,phase:2,pass,log,msg:'ge2 %%{MATCHED_VAR_NAME}=%%{MATCHED_VAR}'\"\n", next())
	fmt.Fprintf(&after, "SecRule &TX:e \"@eq 1\" \"id:%d,phase:2,deny,status:418,msg:'e set %%{tx.e}'\"\n", next())
	// Phase 2 ends with a run reading what request data changed (tx.sum,
	// tx.late, tx.a with pre=1).
	var tail strings.Builder
	// A request's g jumps to the run's first marker (the marker ends the
	// skip unevaluated), leaving MATCHED_VAR the value of g.
	fmt.Fprintf(&tail, "SecRule ARGS:g \"@rx ^[0-9]\" \"id:%d,phase:2,pass,nolog,skipAfter:END-2\"\n", next())
	fmt.Fprintf(&tail, "SecMarker END-2\n")
	for i := 0; i < 4+rng.Intn(6); i++ {
		k := []string{"sum", "late", "a", "c", "score"}[rng.Intn(5)]
		switch rng.Intn(5) {
		case 0:
			fmt.Fprintf(&tail, "SecAction \"id:%d,phase:2,pass,nolog,setvar:tx.score=+%%{tx.%s}\"\n", next(), k)
		case 1:
			fmt.Fprintf(&tail, "SecRule TX:%s \"@lt %d\" \"id:%d,phase:2,pass,nolog,skipAfter:END-2B\"\n", k, rng.Intn(4), next())
		case 2:
			fmt.Fprintf(&tail, "SecRule TX:score \"@ge %d\" \"id:%d,phase:2,deny,status:403,msg:'score %%{tx.score}',severity:2\"\n", 3+rng.Intn(6), next())
		case 3:
			fmt.Fprintf(&tail, "SecRule &TX:%s \"@eq 0\" \"id:%d,phase:2,pass,nolog,setvar:tx.%s=0\"\n", k, next(), k)
		case 4:
			fmt.Fprintf(&tail, "SecMarker END-2B\n")
		}
		if rng.Intn(4) == 0 {
			// A comparison of request data, applied by the loop like a TX
			// one, but no rule of a run.
			fmt.Fprintf(&tail, "SecRule ARGS:g \"@eq 5\" \"id:%d,phase:2,pass,nolog,setvar:tx.score=+1\"\n", next())
		}
	}
	fmt.Fprintf(&tail, "SecMarker END-2B\n")
	if rng.Intn(2) == 0 { // else the phase ends with the run: its MATCHED_VARS shows
		fmt.Fprintf(&tail, "SecAction \"id:%d,phase:2,pass,log,logdata:'%%{rule.id}/%%{rule.msg}/%%{MATCHED_VAR_NAME}/%%{tx.score}'\"\n", next())
	}
	// A run none of whose rules matches after its first marker: entered by
	// a skip (h), it leaves MATCHED_VAR the value of h.
	fmt.Fprintf(&tail, "SecRule ARGS:h \"@rx ^[0-9]\" \"id:%d,phase:2,pass,nolog,skipAfter:END-3\"\n", next())
	fmt.Fprintf(&tail, "SecMarker END-3\n")
	for i := 0; i < 4; i++ {
		fmt.Fprintf(&tail, "SecRule TX:score \"@lt -100\" \"id:%d,phase:2,pass,nolog\"\n", next())
	}
	fmt.Fprintf(&tail, "SecAction \"id:%d,phase:2,pass,log,logdata:'%%{MATCHED_VAR}|%%{MATCHED_VAR_NAME}|%%{rule.id}'\"\n", next())
	return b.String() + pre.String() + body.String() + after.String() + tail.String()
}

func staticRunQuery(rng *rand.Rand) string {
	var q []string
	for _, p := range []string{"pre=1", "rm=1", "nt=1", "m=1", "x=v"} {
		if rng.Intn(5) == 0 {
			q = append(q, p)
		}
	}
	if rng.Intn(2) == 0 {
		q = append(q, fmt.Sprintf("g=%d", rng.Intn(10)))
	}
	if rng.Intn(2) == 0 {
		q = append(q, fmt.Sprintf("h=%d", rng.Intn(10)))
	}
	return strings.Join(q, "&")
}

func staticRunOutcome(t *testing.T, w coraza.WAF, query string) string {
	tx := w.NewTransaction()
	defer tx.Close()
	tx.ProcessURI("/?"+query, "GET", "HTTP/1.1")
	var out []string
	state := func(phase string) {
		out = append(append(out, "-- "+phase), bookkeepingState(tx)...)
	}
	it := tx.ProcessRequestHeaders()
	state("phase 1")
	if it == nil {
		var err error
		if it, err = tx.ProcessRequestBody(); err != nil {
			t.Fatal(err)
		}
		state("phase 2")
	}
	if it != nil {
		out = append(out, fmt.Sprintf("interrupted by %d: %s %d", it.RuleID, it.Action, it.Status))
	}
	for _, mr := range tx.MatchedRules() {
		if mr.Message() != "" || mr.Data() != "" {
			out = append(out, fmt.Sprintf("rule %d msg=%q data=%q", mr.Rule().ID(), mr.Message(), mr.Data()))
		}
	}
	return strings.Join(out, "\n")
}

// A static run is not copied into a transaction that narrowed one of its
// rules' targets (runUsable): the copy would apply what the rule did
// with the target it no longer reads. Recorded without the removal, then
// asked with it, and the other way round.
func TestStaticRunTargetRemoval(t *testing.T) {
	const rules = `SecRuleEngine On
SecRule ARGS:narrow "@streq 1" "id:10,phase:1,pass,nolog,noauditlog,ctl:ruleRemoveTargetById=23;TX:a"
SecAction "id:20,phase:1,pass,nolog,noauditlog,setvar:tx.a=1"
SecAction "id:21,phase:1,pass,nolog,noauditlog,setvar:tx.c=1"
SecAction "id:22,phase:1,pass,nolog,noauditlog,setvar:tx.d=1"
SecRule TX:a "@eq 1" "id:23,phase:1,pass,nolog,noauditlog,setvar:tx.b=1"
SecAction "id:24,phase:1,pass,nolog,noauditlog,setvar:tx.e=1"
SecRule ARGS:y "@streq 1" "id:25,phase:1,pass,nolog,noauditlog"
SecRule TX:b "@eq 1" "id:30,phase:1,deny,status:403"
`
	on, err := coraza.NewWAF(coraza.NewWAFConfig().WithDirectives(rules).WithPrescreen(true).WithRecordReuse(true).WithQuietMatchesUnrecorded(true))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ query, want string }{
		{"x=1", "403"}, {"x=1", "403"}, {"narrow=1", ""}, {"narrow=1", ""}, {"x=1", "403"},
	} {
		if got := statusOf(on, tc.query); got != tc.want {
			t.Errorf("%s: status %q, want %q", tc.query, got, tc.want)
		}
	}
	if runs, rec := coraza.StaticRunState(on); runs != 1 || rec != 1 {
		t.Errorf("%d static runs, %d recorded; want 1, 1", runs, rec)
	}
}
