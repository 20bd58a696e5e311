// Copyright 2022 Juan Pablo Tosso and the OWASP Coraza contributors
// SPDX-License-Identifier: Apache-2.0

//go:build !coraza.disabled_operators.validateByteRange

package operators

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
)

// Description:
// Validates that the byte values used in input fall into the specified range(s).
// Returns true (violation) if any byte is found outside the allowed ranges. Useful for
// detecting binary data, control characters, or restricting character sets.
//
// Arguments:
// Comma-separated byte values or ranges (e.g., "10, 13, 32-126" for printable ASCII).
// Ranges are specified as "start-end" and individual bytes as single numbers (0-255).
//
// Returns:
// true if any byte is outside the allowed range (violation detected), false if all bytes are valid
//
// Example:
// ```seclang
// # Allow only printable ASCII characters
// SecRule ARGS "@validateByteRange 10, 13, 32-126" "id:189,deny,log,msg:'Invalid characters'"
//
// # Detect null bytes
// SecRule REQUEST_URI "@validateByteRange 1-255" "id:190,deny"
// ```
type validateByteRange struct {
	validBytes [256]bool // array, not slice, so don't pass as-is to functions
}

var _ plugintypes.Operator = (*validateByteRange)(nil)

func newValidateByteRange(options plugintypes.OperatorOptions) (plugintypes.Operator, error) {
	data := options.Arguments

	if data == "" {
		return &unconditionalMatch{}, nil
	}

	var validBytes [256]bool
	for _, br := range strings.Split(data, ",") {
		br = strings.TrimSpace(br)
		start, end, ok := strings.Cut(br, "-")

		if !ok {
			if b, err := strconv.Atoi(start); err != nil {
				return nil, err
			} else if err := validateByte(b); err != nil {
				return nil, err
			} else {
				validBytes[b] = true
			}
			continue
		}
		s, err := strconv.Atoi(start)
		if err != nil {
			return nil, err
		}
		if err := validateByte(s); err != nil {
			return nil, err
		}
		e, err := strconv.Atoi(end)
		if err != nil {
			return nil, err
		}
		if err := validateByte(e); err != nil {
			return nil, err
		}
		for i := s; i <= e; i++ {
			validBytes[i] = true
		}
	}
	return &validateByteRange{validBytes: validBytes}, nil
}

func validateByte(b int) error {
	if b < 0 || b > 255 {
		return fmt.Errorf("invalid byte %d", b)
	}
	return nil
}

func (o *validateByteRange) Evaluate(tx plugintypes.TransactionState, data string) bool {
	if data == "" {
		return false
	}
	// we must iterate each byte from input and check if it is in the range
	// if every byte is within the range we return false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if !o.validBytes[c] {
			return true
		}
	}
	return false
}

func init() {
	Register("validateByteRange", newValidateByteRange)
}

// ScreenLiterals implements plugintypes.OperatorScreener (Rampart fork):
// no literals, but MayMatch is exact.
func (o *validateByteRange) ScreenLiterals() ([][]string, bool) { return nil, true }

// MayMatch implements plugintypes.OperatorPrefilter (Rampart fork):
// Evaluate does not depend on the transaction.
func (o *validateByteRange) MayMatch(value string) bool { return o.Evaluate(nil, value) }
