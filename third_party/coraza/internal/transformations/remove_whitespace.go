// Copyright 2022 Juan Pablo Tosso and the OWASP Coraza contributors
// SPDX-License-Identifier: Apache-2.0

package transformations

import (
	"strings"
	"unicode"
)

// removeWhitespace removes all whitespace characters from input.
func removeWhitespace(data string) (string, bool, error) {
	// Rampart fork: ASCII text without ASCII whitespace is returned as is
	// (what strings.Map does below: unicode.IsSpace is, below U+0080, true
	// only for \t \n \v \f \r and space), without the rune loop.
	plain := true
	for i := 0; i < len(data); i++ {
		if c := data[i]; c >= 0x80 || c == ' ' || (c >= '\t' && c <= '\r') {
			plain = false
			break
		}
	}
	if plain {
		return data, false, nil
	}
	changed := false
	transformedData := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			// if the character is a space, drop it
			changed = true
			return -1
		}
		// else keep it in the string
		return r
	}, data)

	return transformedData, changed, nil
}
