// Copyright 2022 Juan Pablo Tosso and the OWASP Coraza contributors
// SPDX-License-Identifier: Apache-2.0

//go:build !coraza.disabled_operators.eq

package operators

import (
	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
)

// Description:
// Performs numerical comparison and returns true if the input value is equal to the provided parameter.
// Both values are converted to integers before comparison. Supports macro expansion for dynamic comparison.
//
// Arguments:
// Integer value to compare against. Supports variable expansion using %{VAR} syntax.
//
// Returns:
// true if the input value equals the parameter value numerically, false otherwise
//
// Example:
// ```seclang
// # Check if request header count is exactly 15
// SecRule &REQUEST_HEADERS_NAMES "@eq 15" "id:153,deny,log"
//
// # Compare parameter value to expected number
// SecRule ARGS:quantity "@eq 100" "id:154,pass"
// ```
type eq struct {
	data numArg // Rampart fork: see numArg
}

var _ plugintypes.Operator = (*eq)(nil)

func newEq(options plugintypes.OperatorOptions) (plugintypes.Operator, error) {
	m, err := newNumArg(options.Arguments)
	if err != nil {
		return nil, err
	}
	return &eq{data: m}, nil
}

func (o *eq) Evaluate(tx plugintypes.TransactionState, value string) bool {
	return o.data.value(tx) == atoi(value)
}

func init() {
	Register("eq", newEq)
}
