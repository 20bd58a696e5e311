// Copyright 2026 Rampart contributors
// SPDX-License-Identifier: Apache-2.0

package transformations

import (
	"math/rand"
	"strings"
	"testing"
	"unicode"
)

// TestRemoveWhitespaceFastPath compares removeWhitespace with the
// strings.Map form it shortcuts, on every byte (Rampart fork).
func TestRemoveWhitespaceFastPath(t *testing.T) {
	for c := 0; c < 256; c++ {
		b := string([]byte{byte(c)})
		for _, s := range []string{b, "ab" + b + "cd", "x\u00a0" + b, b + " a\tb\r\n" + b + b, "\v\f" + b} {
			changed := false
			want := strings.Map(func(r rune) rune {
				if unicode.IsSpace(r) {
					changed = true
					return -1
				}
				return r
			}, s)
			got, gotChanged, _ := removeWhitespace(s)
			if got != want || gotChanged != changed {
				t.Fatalf("removeWhitespace(%q) = %q, %v; want %q, %v", s, got, gotChanged, want, changed)
			}
		}
	}
}

// TestCommentFastPaths checks that replaceComments, removeComments and
// removeCommentsChar return what their full loops return (Rampart fork):
// inputs made of the bytes their cases look at.
func TestCommentFastPaths(t *testing.T) {
	parts := []string{"/", "*", "-", "<", "!", ">", "#", "a", " ", "\x00"}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 200000; i++ {
		var b strings.Builder
		for n := rng.Intn(8); n >= 0; n-- {
			b.WriteString(parts[rng.Intn(len(parts))])
		}
		s := b.String()
		for _, f := range []struct {
			name      string
			fast, ref func(string) (string, bool, error)
		}{
			{"replaceComments", replaceComments, func(v string) (string, bool, error) { o, c := doReplaceComments(v); return o, c, nil }},
			{"removeComments", removeComments, removeCommentsLoop},
			{"removeCommentsChar", removeCommentsChar, removeCommentsCharLoop},
		} {
			got, gotC, _ := f.fast(s)
			want, wantC, _ := f.ref(s)
			if got != want || gotC != wantC {
				t.Fatalf("%s(%q) = %q, %v; want %q, %v", f.name, s, got, gotC, want, wantC)
			}
		}
	}
}
