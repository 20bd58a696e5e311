// Copyright 2022 Juan Pablo Tosso and the OWASP Coraza contributors
// SPDX-License-Identifier: Apache-2.0

//go:build !coraza.disabled_operators.detectXSS

package operators

import (
	"strings"

	"github.com/corazawaf/libinjection-go"

	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
)

// Description:
// Detects Cross-Site Scripting (XSS) attacks using libinjection library. Returns true if
// XSS payload is found in the input. Uses advanced pattern matching to identify XSS vectors.
//
// Arguments:
// None. Operates on the target variable specified in the rule.
//
// Returns:
// true if XSS injection is detected, false otherwise
//
// Example:
// ```seclang
// # Detect XSS in request parameters
// SecRule ARGS "@detectXSS" "id:187,deny,log,msg:'XSS Attack Detected'"
//
// # Check request body for XSS
// SecRule REQUEST_BODY "@detectXSS" "id:188,deny"
// ```
type detectXSS struct{}

var _ plugintypes.Operator = (*detectXSS)(nil)

func newDetectXSS(plugintypes.OperatorOptions) (plugintypes.Operator, error) {
	return &detectXSS{}, nil
}

func (o *detectXSS) Evaluate(_ plugintypes.TransactionState, value string) bool {
	return isXSS(value)
}

// isXSS is libinjection.IsXSS(value) (Rampart fork): a value holding
// neither '<' nor '=' is never XSS for libinjection-go v0.3.3, so it is
// not parsed. Why, from its html5.go and xss.go: IsXSS reports XSS only
// for a DOCTYPE, tag-open or comment token, or for an attribute value
// token directly after an attribute name token. The first three come only
// from stateTagOpen, which only stateData enters, on a '<'. An attribute
// value token is either the first token of a quoted-value pass (judged
// with no attribute, so never XSS) or comes from stateBeforeAttributeValue,
// which is entered only on an '='.
func isXSS(value string) bool {
	if strings.IndexByte(value, '<') < 0 && strings.IndexByte(value, '=') < 0 {
		return false
	}
	return libinjection.IsXSS(value)
}

func init() {
	Register("detectXSS", newDetectXSS)
}

// ScreenLiterals implements plugintypes.OperatorScreener (Rampart fork):
// no literals, but MayMatch is exact.
func (o *detectXSS) ScreenLiterals() ([][]string, bool) { return nil, true }

// MayMatch implements plugintypes.OperatorPrefilter (Rampart fork):
// Evaluate does not depend on the transaction.
func (o *detectXSS) MayMatch(value string) bool { return isXSS(value) }
