// Copyright 2026 Rampart contributors
// SPDX-License-Identifier: Apache-2.0

package operators

import (
	"strconv"

	"github.com/corazawaf/coraza/v3/experimental/plugins/macro"
	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
)

// numArg is a comparison operator's argument (Rampart fork): a constant
// is converted once, when the rule is compiled, instead of at every
// evaluation (the CRS's paranoia-level gates compare with constants on
// every request). The value is the one Evaluate used to compute:
// strconv.Atoi of the expansion, 0 when that is not a number.
type numArg struct {
	m       macro.Macro
	n       int
	isConst bool
}

func newNumArg(arguments string) (numArg, error) {
	m, err := macro.NewMacro(arguments)
	if err != nil {
		return numArg{}, err
	}
	a := numArg{m: m}
	if s, ok := macro.Constant(m); ok {
		a.n, _ = strconv.Atoi(s)
		a.isConst = true
	}
	return a, nil
}

func (a *numArg) value(tx plugintypes.TransactionState) int {
	if a.isConst {
		return a.n
	}
	n, _ := strconv.Atoi(a.m.Expand(tx))
	return n
}

// atoi is strconv.Atoi without the error: 0 for what is not a number, as
// the comparison operators have always read their input.
func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
