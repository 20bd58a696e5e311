// Copyright 2022 Juan Pablo Tosso and the OWASP Coraza contributors
// SPDX-License-Identifier: Apache-2.0

//go:build !coraza.disabled_operators.le

package operators

import (
	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
)

// Description:
// Returns true if the input value is less than or equal to the operator parameter.
// Both values are converted to integers before comparison. Supports macro expansion for dynamic comparison.
//
// Arguments:
// Integer value to compare against. Supports variable expansion using %{VAR} syntax.
//
// Returns:
// true if the input value is less than or equal to the parameter value, false otherwise
//
// Example:
// ```seclang
// # Allow requests with reasonable header count
// SecRule &REQUEST_HEADERS_NAMES "@le 15" "id:164,pass,log"
//
// # Check maximum value constraint
// SecRule ARGS:limit "@le 100" "id:165,pass"
// ```
type le struct {
	data numArg // Rampart fork: see numArg
}

var _ plugintypes.Operator = (*le)(nil)

func newLE(options plugintypes.OperatorOptions) (plugintypes.Operator, error) {
	m, err := newNumArg(options.Arguments)
	if err != nil {
		return nil, err
	}
	return &le{data: m}, nil
}

func (o *le) Evaluate(tx plugintypes.TransactionState, value string) bool {
	return atoi(value) <= o.data.value(tx)
}

func init() {
	Register("le", newLE)
}
