// Copyright 2026 Rampart contributors
// SPDX-License-Identifier: Apache-2.0

package transformations

import (
	"math/rand"
	"path/filepath"
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

// TestBase64DecodeMatchesUpstream compares doBase64decode with the
// version it replaced (Rampart fork: a stack buffer instead of a
// strings.Builder), in both modes, on inputs made of the bytes its cases
// look at, on both sides of the stack buffer's size.
func TestBase64DecodeMatchesUpstream(t *testing.T) {
	parts := []string{"QUJD", "ZA", "Zm9v", "=", "==", " ", "\r", "\n", "\t", ".", "-", "_", "+", "/", "!", "\x00", "\xff", "é", "a", "9"}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 100000; i++ {
		var b strings.Builder
		for n := rng.Intn(1 + []int{8, 40, 80}[i%3]); n >= 0; n-- {
			b.WriteString(parts[rng.Intn(len(parts))])
		}
		s := b.String()
		for _, ext := range []bool{false, true} {
			if got, want := doBase64decode(s, ext), base64decodeRef(s, ext); got != want {
				t.Fatalf("doBase64decode(%q, %v) = %q, want %q", s, ext, got, want)
			}
		}
	}
	long := strings.Repeat("QUJD", 200) // 600 bytes decoded: the heap buffer
	if got, want := doBase64decode(long, false), base64decodeRef(long, false); got != want || len(got) != 600 {
		t.Fatalf("a long value decoded to %d bytes, want %d", len(got), len(want))
	}
}

// base64decodeRef is Coraza v3.8.1's doBase64decode, as vendored before
// the change above.
func base64decodeRef(src string, ext bool) string {
	slen := len(src)
	if slen == 0 {
		return src
	}

	var n, x int
	var dst strings.Builder
	dst.Grow(slen)

	for i := range slen {
		currChar := src[i]

		if ext && (unicode.IsSpace(rune(currChar)) || currChar == '.') {
			continue
		}

		if currChar == '\r' || currChar == '\n' {
			continue
		}
		if currChar == '=' || currChar == ' ' {
			break
		}

		if ext {
			switch currChar {
			case '-':
				currChar = '+'
			case '_':
				currChar = '/'
			}
		}

		decodedChar := byte(127)
		if currChar <= 127 {
			decodedChar = base64DecMap[currChar]
		}
		if decodedChar == 127 {
			if ext {
				continue
			}
			break
		}

		x = (x << 6) | int(decodedChar&0x3F)
		n++
		if n == 4 {
			dst.WriteByte(byte(x >> 16))
			dst.WriteByte(byte(x >> 8))
			dst.WriteByte(byte(x))
			n = 0
			x = 0
		}
	}

	switch n {
	case 2:
		x <<= 12
		dst.WriteByte(byte(x >> 16))
	case 3:
		x <<= 6
		dst.WriteByte(byte(x >> 16))
		dst.WriteByte(byte(x >> 8))
	}

	return dst.String()
}

// TestNormalisePathFastPath compares normalisePath with the filepath.Clean
// form it shortcuts for values without '/' or '.' (Rampart fork).
func TestNormalisePathFastPath(t *testing.T) {
	ref := func(data string) (string, bool) {
		clean := filepath.Clean(data)
		if clean == "." {
			return "", true
		}
		if data[len(data)-1] == '/' {
			return clean + "/", data != clean+"/"
		}
		return clean, data != clean
	}
	parts := []string{"/", ".", "..", "a", "b", "\\", " ", "\x00", "é", "~"}
	rng := rand.New(rand.NewSource(3))
	for i := 0; i < 200000; i++ {
		var b strings.Builder
		for n := rng.Intn(8); n >= 0; n-- {
			b.WriteString(parts[rng.Intn(len(parts))])
		}
		s := b.String()
		want, wantChanged := ref(s)
		if got, changed, _ := normalisePath(s); got != want || changed != wantChanged {
			t.Fatalf("normalisePath(%q) = %q, %v; want %q, %v", s, got, changed, want, wantChanged)
		}
	}
}
