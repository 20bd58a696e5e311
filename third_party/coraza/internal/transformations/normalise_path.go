// Copyright 2022 Juan Pablo Tosso and the OWASP Coraza contributors
// SPDX-License-Identifier: Apache-2.0

package transformations

import (
	"path/filepath"
	"strings"
)

func normalisePath(data string) (string, bool, error) {
	leng := len(data)
	if leng < 1 {
		return data, false, nil
	}
	// Rampart fork: a value without '/' or '.' is one path element that is
	// neither "." nor "..", which filepath.Clean returns as it is: skip
	// its walk (most arguments of a JSON body are such values).
	if strings.IndexByte(data, '/') < 0 && strings.IndexByte(data, '.') < 0 {
		return data, false, nil
	}
	clean := filepath.Clean(data)
	if clean == "." {
		return "", true, nil
	}
	if data[len(data)-1] == '/' {
		result := clean + "/"
		return result, data != result, nil
	}
	return clean, data != clean, nil
}
