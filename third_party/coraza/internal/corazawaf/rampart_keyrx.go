// Copyright 2026 The Rampart authors
// SPDX-License-Identifier: Apache-2.0

package corazawaf

import (
	"regexp"
	"regexp/syntax"
)

// keyRxLiteral returns lit, a string every match of re contains, "" when
// it cannot tell (Rampart fork: Map.FindRegexLiteral tests keys for it
// before running re), and what more is known of it: prefix, every match
// begins the text with it (re is ^lit...); whole, a key matches exactly
// when it begins with it (re is ^lit): then no regexp is needed (the CRS's
// TX:/^header_name_920450_/, matched against every TX key for each
// request). It reads the pattern as regexp.Compile does and follows only
// what a match cannot do without: a literal (not case-folded), every part
// of a concatenation (the longest literal found is kept), a capture, and a
// repetition of at least once.
func keyRxLiteral(re *regexp.Regexp) (lit string, prefix, whole bool) {
	t, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return "", false, false
	}
	lit = mustContain(t)
	if t.Op == syntax.OpConcat && len(t.Sub) >= 2 && t.Sub[0].Op == syntax.OpBeginText &&
		t.Sub[1].Op == syntax.OpLiteral && t.Sub[1].Flags&syntax.FoldCase == 0 && len(t.Sub[1].Rune) > 0 {
		first := string(t.Sub[1].Rune)
		if len(first) >= len(lit) {
			return first, true, len(t.Sub) == 2
		}
	}
	return lit, false, false
}

func mustContain(t *syntax.Regexp) string {
	switch t.Op {
	case syntax.OpLiteral:
		if t.Flags&syntax.FoldCase != 0 {
			return ""
		}
		return string(t.Rune)
	case syntax.OpCapture:
		return mustContain(t.Sub[0])
	case syntax.OpPlus:
		return mustContain(t.Sub[0])
	case syntax.OpRepeat:
		if t.Min >= 1 {
			return mustContain(t.Sub[0])
		}
	case syntax.OpConcat:
		best := ""
		for _, s := range t.Sub {
			if l := mustContain(s); len(l) > len(best) {
				best = l
			}
		}
		return best
	}
	return ""
}
