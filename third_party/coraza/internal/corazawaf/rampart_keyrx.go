// Copyright 2026 The Rampart authors
// SPDX-License-Identifier: Apache-2.0

package corazawaf

import (
	"regexp"
	"regexp/syntax"
)

// requiredLiteral returns a string every match of re contains, "" when it
// cannot tell (Rampart fork: Map.FindRegexLiteral tests keys for it before
// running re). It reads the pattern as regexp.Compile does and follows
// only what a match cannot do without: a literal (not case-folded), every
// part of a concatenation (the longest literal found is kept), a capture,
// and a repetition of at least once.
func requiredLiteral(re *regexp.Regexp) string {
	t, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return ""
	}
	return mustContain(t)
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
