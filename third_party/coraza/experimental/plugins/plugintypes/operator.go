// Copyright 2022 Juan Pablo Tosso and the OWASP Coraza contributors
// SPDX-License-Identifier: Apache-2.0

package plugintypes

import "io/fs"

// Memoizer caches the result of expensive function calls by key.
// Implementations must be safe for concurrent use.
type Memoizer interface {
	Do(key string, fn func() (any, error)) (any, error)
}

// OperatorOptions is used to store the options for a rule operator
type OperatorOptions struct {
	// Arguments stores the operator args.
	Arguments string

	// Path stores a list of possible data paths.
	Path []string

	// Root is the root to resolve Path from.
	Root fs.FS

	// Datasets contains input datasets or dictionaries.
	Datasets map[string][]string

	// Memoizer caches expensive compilations (regex, aho-corasick).
	Memoizer Memoizer

	// RxPreFilterEnabled controls whether the @rx operator uses
	// literal pre-filtering. Set by the SecRxPreFilter directive.
	RxPreFilterEnabled bool
}

// Operator interface is used to define rule @operators
type Operator interface {
	// Evaluate is used during the rule evaluation,
	// it returns true if the operator succeeded against
	// the input data for the transaction
	Evaluate(TransactionState, string) bool
}

type OperatorFactory func(options OperatorOptions) (Operator, error)

// OperatorScreener is implemented by operators that can name literals
// every input they match contains. (Rampart fork: the rule group's
// prescreen uses it to skip rules that cannot match any value of a phase.)
type OperatorScreener interface {
	// ScreenLiterals returns sets of non-empty lower-case literals such
	// that Evaluate(tx, v) is true only if v, its ASCII letters
	// lower-cased, contains a literal of every set, or v contains U+212A
	// KELVIN SIGN or U+017F LATIN SMALL LETTER LONG S (which case-folding
	// regexps match as k and s). ok is false when the operator cannot
	// promise that. An operator that also implements OperatorPrefilter may
	// return no sets and ok: the prescreen then tests every value with
	// MayMatch.
	ScreenLiterals() (sets [][]string, ok bool)
}

// OperatorPrefilter is implemented by operators with a cheap test that
// rules out inputs they cannot match. (Rampart fork: the prescreen checks
// the values whose literals it found, and the values of rules it has no
// literals for, with it.)
type OperatorPrefilter interface {
	// MayMatch is false only if Evaluate(tx, value) is false for every
	// transaction.
	MayMatch(value string) bool
}

// OperatorLiteralMatch is implemented by operators that, when the
// transaction is not capturing, match a value exactly when it contains one
// of the literals of ScreenLiterals' one set (ASCII letters compared
// case-insensitively), if LiteralMatch is true (Rampart fork: the
// prescreen's search of the raw values then answers them).
type OperatorLiteralMatch interface {
	OperatorScreener
	LiteralMatch() bool
}

// OperatorPure is implemented by operators whose Evaluate only reads its
// value and the transaction's collections and changes nothing, except the
// capture variables while the transaction captures (Rampart fork: the
// engine evaluates such an operator ahead of a rule without capture that
// reads one variable, and skips the rule when it does not match).
type OperatorPure interface {
	PureOperator()
}
