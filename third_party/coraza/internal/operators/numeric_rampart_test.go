// Copyright 2026 Rampart contributors
// SPDX-License-Identifier: Apache-2.0

package operators

import (
	"strconv"
	"testing"

	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
	"github.com/corazawaf/coraza/v3/internal/corazawaf"
)

// TestComparisonArguments: the comparison operators convert a constant
// argument once (Rampart fork: numArg); every answer must be the one the
// upstream code gives, Atoi of the expanded argument at each evaluation,
// for constants, non-numbers and macros alike.
func TestComparisonArguments(t *testing.T) {
	upstream := map[string]func(value, arg int) bool{
		"lt": func(v, a int) bool { return v < a },
		"le": func(v, a int) bool { return v <= a },
		"gt": func(v, a int) bool { return v > a },
		"ge": func(v, a int) bool { return v >= a },
		"eq": func(v, a int) bool { return v == a },
	}
	tx := corazawaf.NewWAF().NewTransaction()
	tx.Variables().TX().Set("n", []string{"3"})
	tx.Variables().TX().Set("word", []string{"three"})
	args := map[string]string{"2": "2", "-3": "-3", "0": "0", "abc": "abc", " 5": " 5",
		"%{tx.n}": "3", "%{tx.word}": "three", "%{tx.missing}": "", "1%{tx.n}": "13"}
	values := []string{"", "0", "1", "2", "3", "-3", "13", "14", "abc", " 5", "5", "99999999999999999999"}
	for name, cmp := range upstream {
		for arg, expanded := range args {
			op, err := Get(name, plugintypes.OperatorOptions{Arguments: arg})
			if err != nil {
				t.Fatalf("@%s %q: %v", name, arg, err)
			}
			a, _ := strconv.Atoi(expanded)
			for _, v := range values {
				n, _ := strconv.Atoi(v)
				if got, want := op.Evaluate(tx, v), cmp(n, a); got != want {
					t.Errorf("@%s %q on %q: %v, upstream %v", name, arg, v, got, want)
				}
			}
		}
	}
}
