// Copyright 2026 Rampart contributors
// SPDX-License-Identifier: Apache-2.0

//go:build !coraza.disabled_operators.detectXSS

package operators

import (
	"math/rand"
	"strings"
	"testing"

	"github.com/corazawaf/libinjection-go"
)

// TestIsXSSPrefilter checks isXSS's shortcut (no '<' and no '=' is never
// XSS) against libinjection on random inputs made of the bytes its HTML5
// tokenizer reacts to and of words it blacklists (Rampart fork).
func TestIsXSSPrefilter(t *testing.T) {
	parts := []string{" ", "\t", "\n", "\x00", "\x0b", "/", ">", "'", "\"", "`", "!", "?", "%", "-", "--",
		"[", "]", "[if", "xml", "import", "ENTITY", "doctype", "[CDATA[", "onerror", "on", "src", "href",
		"style", "javascript:", "vbscript:", "data:", "xlink:href", "alert(1)", "a", "B", "1", ";", ":", "&", "#",
		"script", "svg", "attributeName", "values", "from", "to", "by", "formaction", "xmlns"}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 300000; i++ {
		var b strings.Builder
		for n := rng.Intn(12); n >= 0; n-- {
			b.WriteString(parts[rng.Intn(len(parts))])
		}
		s := b.String()
		if got, want := isXSS(s), libinjection.IsXSS(s); got != want {
			t.Fatalf("isXSS(%q) = %v, libinjection says %v", s, got, want)
		}
	}
	// With '=' or '<' isXSS defers to libinjection.
	for _, s := range []string{"\" onerror=alert(1)", "onerror=alert(1)", "<script>"} {
		if !isXSS(s) {
			t.Errorf("isXSS(%q) = false", s)
		}
	}
}
