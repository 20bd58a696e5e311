//go:build tools

// Package tools pins the command-line tools the test script builds
// (go build -o bin/actionlint github.com/rhysd/actionlint/cmd/actionlint).
package tools

import _ "github.com/rhysd/actionlint/cmd/actionlint"
