// Copyright 2026 The Rampart authors
// SPDX-License-Identifier: Apache-2.0

package operators

import (
	"strings"

	"github.com/corazawaf/coraza/v3/experimental/plugins/macro"
)

// Rampart fork: @contains, @beginsWith, @endsWith and @streq with a fixed
// argument match only values that hold the argument, so they give the
// prescreen that literal (lower-cased: a value holding the argument holds
// it lower-cased once both are). Their own test is cheap and exact, so it
// is their prefilter too. An empty or macro argument gives no literal.

// fixedLiteral returns m's text lower-cased when m is constant and not
// empty.
func fixedLiteral(m macro.Macro) ([][]string, bool) {
	s, ok := macro.Constant(m)
	if !ok || s == "" {
		return nil, false
	}
	return [][]string{{asciiLower(s)}}, true
}

// asciiLower lower-cases the ASCII letters of s, as the prescreen's search
// does.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// ScreenLiterals implements plugintypes.OperatorScreener.
func (o *contains) ScreenLiterals() ([][]string, bool) { return fixedLiteral(o.data) }

// MayMatch implements plugintypes.OperatorPrefilter.
func (o *contains) MayMatch(value string) bool { return o.Evaluate(nil, value) }

// ScreenLiterals implements plugintypes.OperatorScreener.
func (o *beginsWith) ScreenLiterals() ([][]string, bool) { return fixedLiteral(o.data) }

// MayMatch implements plugintypes.OperatorPrefilter.
func (o *beginsWith) MayMatch(value string) bool { return o.Evaluate(nil, value) }

// ScreenLiterals implements plugintypes.OperatorScreener.
func (o *endsWith) ScreenLiterals() ([][]string, bool) { return fixedLiteral(o.data) }

// MayMatch implements plugintypes.OperatorPrefilter.
func (o *endsWith) MayMatch(value string) bool { return o.Evaluate(nil, value) }

// ScreenLiterals implements plugintypes.OperatorScreener.
func (o *streq) ScreenLiterals() ([][]string, bool) { return fixedLiteral(o.data) }

// MayMatch implements plugintypes.OperatorPrefilter.
func (o *streq) MayMatch(value string) bool { return o.Evaluate(nil, value) }

// The comparison operators are pure (plugintypes.OperatorPure): they read
// the value and expand their argument, nothing else.
func (*lt) PureOperator()         {}
func (*le) PureOperator()         {}
func (*gt) PureOperator()         {}
func (*ge) PureOperator()         {}
func (*eq) PureOperator()         {}
func (*streq) PureOperator()      {}
func (*within) PureOperator()     {}
func (*contains) PureOperator()   {}
func (*beginsWith) PureOperator() {}
func (*endsWith) PureOperator()   {}
