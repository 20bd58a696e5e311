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
	plain, ascii := true, true
	for i := 0; i < len(data); i++ {
		if c := data[i]; c >= 0x80 {
			plain, ascii = false, false
			break
		} else if c == ' ' || (c >= '\t' && c <= '\r') {
			plain = false
		}
	}
	if plain {
		return data, false, nil
	}
	if ascii {
		// Rampart fork: ASCII with whitespace, byte by byte.
		b := make([]byte, 0, len(data))
		for i := 0; i < len(data); i++ {
			if c := data[i]; c != ' ' && (c < '\t' || c > '\r') {
				b = append(b, c)
			}
		}
		return string(b), true, nil
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
