// Copyright 2022 Juan Pablo Tosso and the OWASP Coraza contributors
// SPDX-License-Identifier: Apache-2.0

//go:build !coraza.disabled_operators.pm

package operators

import (
	"strings"

	ahocorasick "github.com/petar-dambovaliev/aho-corasick"

	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
	"github.com/corazawaf/coraza/v3/internal/litscan"
)

// Description:
// Performs case-insensitive pattern matching using the Aho-Corasick algorithm for efficient
// multi-pattern searching. Matches space-separated keywords or patterns provided as arguments.
//
// Arguments:
// Space-separated keywords or patterns to match. Supports Snort data syntax like "A|42|C|44|F"
// for hex notation. All patterns are converted to lowercase for case-insensitive matching.
//
// Returns:
// true if any of the patterns are found in the input, false otherwise
//
// Example:
// ```seclang
// # Detect known malicious user agents
// SecRule REQUEST_HEADERS:User-Agent "@pm WebZIP WebCopier Webster" "id:170,deny,log"
//
// # Match multiple attack patterns
// SecRule ARGS "@pm <script> javascript: onerror=" "id:171,deny"
// ```
type pm struct {
	matcher ahocorasick.AhoCorasick
	// minLen is the length of the shortest pattern. If the input is shorter
	// than this, no pattern can match and we skip the Aho-Corasick automaton.
	minLen int
	// patterns are the lower-cased patterns, for ScreenLiterals.
	patterns []string
	// scan answers Evaluate when the transaction is not capturing (any
	// pattern in the value, ASCII letters compared case-insensitively, as
	// the matcher does): one pass at a few ns a byte instead of the
	// matcher's iterator. Its one owner is the patterns. Nil when a
	// pattern is empty (Rampart fork).
	scan *litscan.Set
}

// newScan is the litscan Set of the lower-cased patterns, nil when there
// are none or one is empty (an empty pattern matches every value; litscan
// ignores it).
func newScan(m plugintypes.Memoizer, key string, patterns []string) *litscan.Set {
	if minPatternLen(patterns) == 0 {
		return nil
	}
	s, _ := memoizeDo(m, "rampart-litscan\x00"+key, func() (any, error) { return litscan.New([][]string{patterns}), nil })
	return s.(*litscan.Set)
}

var _ plugintypes.Operator = (*pm)(nil)

func newPM(options plugintypes.OperatorOptions) (plugintypes.Operator, error) {
	data := options.Arguments

	data = strings.ToLower(data)
	dict := strings.Split(data, " ")
	builder := ahocorasick.NewAhoCorasickBuilder(ahocorasick.Opts{
		AsciiCaseInsensitive: true,
		MatchOnlyWholeWords:  false,
		MatchKind:            ahocorasick.LeftMostLongestMatch,
		DFA:                  true,
	})

	m, _ := memoizeDo(options.Memoizer, data, func() (any, error) { return builder.Build(dict), nil })
	// TODO this operator is supposed to support snort data syntax: "@pm A|42|C|44|F"
	return &pm{matcher: m.(ahocorasick.AhoCorasick), minLen: minPatternLen(dict), patterns: dict, scan: newScan(options.Memoizer, data, dict)}, nil
}

func (o *pm) Evaluate(tx plugintypes.TransactionState, value string) bool {
	if len(value) < o.minLen {
		return false
	}
	if o.scan != nil && !tx.Capturing() {
		return o.scanFinds(value)
	}
	return pmEvaluate(o.matcher, tx, value)
}

// scanFinds reports whether scan finds a pattern in value.
func (o *pm) scanFinds(value string) bool {
	var found [1]uint64
	o.scan.ScanBits(value, found[:])
	return found[0] != 0
}

// minPatternLen returns the length of the shortest pattern.
// If any pattern is empty it returns 0 immediately, disabling short-circuiting:
// an empty pattern matches every input, so no input can be safely skipped.
// If there are no patterns, it returns 0.
func minPatternLen(patterns []string) int {
	min := 0
	for _, p := range patterns {
		if len(p) == 0 {
			return 0
		}
		if min == 0 || len(p) < min {
			min = len(p)
		}
	}
	return min
}

// ScreenLiterals implements plugintypes.OperatorScreener (Rampart fork):
// a match is one of the patterns, which are lower-case and matched
// ignoring ASCII case. An empty pattern matches everything.
func (o *pm) ScreenLiterals() ([][]string, bool) {
	if len(o.patterns) == 0 || o.minLen == 0 {
		return nil, false
	}
	return [][]string{o.patterns}, true
}

// LiteralMatch implements plugintypes.OperatorLiteralMatch (Rampart
// fork): without capturing, Evaluate is the scan of the patterns, which
// there is when no pattern is empty (then ScreenLiterals has them).
func (o *pm) LiteralMatch() bool { return o.scan != nil }

func pmEvaluate(matcher ahocorasick.AhoCorasick, tx plugintypes.TransactionState, value string) bool {
	iter := matcher.Iter(value)

	if !tx.Capturing() {
		// Not capturing so just one match is enough.
		return iter.Next() != nil
	}

	var numMatches int
	for {
		m := iter.Next()
		if m == nil {
			break
		}

		tx.CaptureField(numMatches, value[m.Start():m.End()])

		numMatches++
		if numMatches == 10 {
			return true
		}
	}

	return numMatches > 0
}

func init() {
	Register("pm", newPM)
}
