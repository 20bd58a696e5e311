// Copyright 2026 The Rampart authors
// SPDX-License-Identifier: Apache-2.0

package coraza_test

import (
	"strconv"
	"testing"

	"github.com/corazawaf/coraza/v3"
)

// A skipAfter lands on its marker's next position in the phase it fires
// in, also when a marker of that name is in several phases, when the
// marker is not in the phase (the skip ends with the phase), and when a
// static run's copy sets it: the prescreening engine, which
// finds the positions from the rule or the run that set the skip, agrees
// with upstream's look-up by name, both when the engine keeps RULE and
// when no rule reads it.
func TestSkipAfterMarkerPositions(t *testing.T) {
	rules := `
SecAction "id:1,phase:1,pass,nolog,setvar:tx.a=1"
SecAction "id:2,phase:1,pass,nolog,setvar:tx.b=2"
SecAction "id:3,phase:1,pass,nolog,setvar:tx.c=3"
SecRule TX:a "@lt 5" "id:4,phase:1,pass,nolog,skipAfter:END"
SecAction "id:5,phase:1,pass,nolog,setvar:tx.skipped=1"
SecMarker END
SecRule ARGS:p1 "@streq x" "id:10,phase:1,pass,nolog,skipAfter:END"
SecRule ARGS:p1 "@streq x" "id:11,phase:1,deny,status:401"
SecMarker END
SecRule ARGS:far "@streq x" "id:12,phase:1,pass,nolog,skipAfter:LATER"
SecRule ARGS:p2 "@streq x" "id:20,phase:2,pass,nolog,skipAfter:END"
SecRule ARGS:p2 "@streq x" "id:21,phase:2,deny,status:402"
SecMarker END
SecRule ARGS:any "@rx ." "id:22,phase:2,deny,status:403"
SecRule ARGS:far "@streq x" "id:23,phase:2,deny,status:404"
SecMarker LATER
SecRule ARGS:far "@streq x" "id:24,phase:2,deny,status:405"
`
	for _, reader := range []string{"", ruleReader} {
		skipAfterMarkerPositions(t, rules+reader, reader != "")
	}
}

func skipAfterMarkerPositions(t *testing.T, rules string, keepsRule bool) {
	on, err := coraza.NewWAF(coraza.NewWAFConfig().WithDirectives(rules).WithPrescreen(true).WithRecordReuse(true).WithQuietMatchesUnrecorded(true))
	if err != nil {
		t.Fatal(err)
	}
	if coraza.KeepsRule(on) != keepsRule {
		t.Fatalf("keeps RULE: %v, want %v", !keepsRule, keepsRule)
	}
	off, err := coraza.NewWAF(coraza.NewWAFConfig().WithDirectives(rules))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ query, want string }{
		{"p1=x", ""},            // rule 11 skipped
		{"p2=x", ""},            // rule 21 skipped, to phase 2's END
		{"p2=x&any=1", "403"},   // past phase 2's END, not phase 1's
		{"p1=y&p2=y", ""},       //
		{"p1=y&any=1", "403"},   //
		{"far=x", "404"},        // LATER is not in phase 1: the skip ends with it
		{"far=x&any=1", "403"},  //
		{"p1=x&p2=x&far=y", ""}, //
	} {
		for i := 0; i < 3; i++ { // the runs are recorded, then copied
			got, want := withoutRule(on, staticRunOutcome(t, on, tc.query)), withoutRule(on, staticRunOutcome(t, off, tc.query))
			if got != want {
				t.Fatalf("%s: prescreen\n%s\nupstream\n%s", tc.query, got, want)
			}
			if st := statusOf(off, tc.query); st != tc.want {
				t.Errorf("%s: status %q, want %q", tc.query, st, tc.want)
			}
		}
	}
}

func statusOf(w coraza.WAF, query string) string {
	tx := w.NewTransaction()
	defer tx.Close()
	tx.ProcessURI("/?"+query, "GET", "HTTP/1.1")
	it := tx.ProcessRequestHeaders()
	if it == nil {
		it, _ = tx.ProcessRequestBody()
	}
	if it == nil {
		return ""
	}
	return strconv.Itoa(it.Status)
}
