// Copyright 2026 Rampart contributors
// SPDX-License-Identifier: Apache-2.0

package transformations

// Identity masks (Rampart fork). Most transformations leave a value as it
// is unless it holds one of a few bytes: urlDecodeUni needs '%' or '+',
// jsDecode a backslash, lowercase an upper-case or non-ASCII letter. The
// prescreen transforms every value of a request with every chain of the
// rules it screens; with a class mask of each value (which of the bytes
// that some transformation looks at it holds) a step whose trigger classes
// the value lacks is known to return the value unchanged without calling
// it.

import (
	"reflect"
	"sync"

	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
)

// Byte classes: one bit for each byte (or range) that some
// transformation's fast path looks for; other bytes have none.
const (
	classNUL      = 1 << iota // 0x00
	classCtlSpace             // \t \n \v \f \r
	classSpace                // ' '
	classDQuote               // "
	classSQuote               // '
	classBackslash
	classCaret
	classComma
	classSemicolon
	classSlash
	classParen // (
	classPercent
	classPlus
	classAmp
	classDot
	classColon
	classStar
	classDash
	classHash
	classUpper    // A-Z
	classLower    // a-z
	classNonASCII // 0x80-0xff
)

var byteClass = func() (t [256]uint64) {
	for i := range t {
		c := byte(i)
		switch {
		case c == 0:
			t[i] = classNUL
		case c >= '\t' && c <= '\r':
			t[i] = classCtlSpace
		case c >= 'A' && c <= 'Z':
			t[i] = classUpper
		case c >= 'a' && c <= 'z':
			t[i] = classLower
		case c >= 0x80:
			t[i] = classNonASCII
		}
	}
	for c, cl := range map[byte]uint64{
		' ': classSpace, '"': classDQuote, '\'': classSQuote, '\\': classBackslash,
		'^': classCaret, ',': classComma, ';': classSemicolon, '/': classSlash,
		'(': classParen, '%': classPercent, '+': classPlus, '&': classAmp,
		'.': classDot, ':': classColon, '*': classStar, '-': classDash, '#': classHash,
	} {
		t[c] = cl
	}
	return t
}()

// classAny is in every value's mask, even the empty string's: a step
// without an identity mask (its triggers all ones) is never skipped, also
// for a value whose bytes are in no class (digits, "<>", "").
const classAny = 1 << 63

// ClassMask returns the classes of the bytes of s, and classAny, for
// IdentityTriggers.
func ClassMask(s string) uint64 {
	m := uint64(classAny)
	// Eight bytes a step: a 1 KB body in two thirds of the time.
	for len(s) >= 8 {
		_ = s[7]
		m |= byteClass[s[0]] | byteClass[s[1]] | byteClass[s[2]] | byteClass[s[3]] |
			byteClass[s[4]] | byteClass[s[5]] | byteClass[s[6]] | byteClass[s[7]]
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		m |= byteClass[s[i]]
	}
	return m
}

// MaskNonASCII reports whether a ClassMask saw a byte outside ASCII.
func MaskNonASCII(mask uint64) bool { return mask&classNonASCII != 0 }

// identities are this package's transformations that return their input
// unchanged, (s, false, nil), unless it holds a byte of one of the classes
// listed. Each entry follows the function's own early return (or, for
// those calling the standard library, the byte it first looks for);
// TestIdentityTriggers checks every one on random input made without
// those bytes.
var identities = []struct {
	name     string
	fn       plugintypes.Transformation
	triggers uint64
}{
	{"none", none, 0},
	{"urlDecode", urlDecode, classPercent | classPlus},
	{"urlDecodeUni", urlDecodeUni, classPercent | classPlus},
	{"jsDecode", jsDecode, classBackslash},
	{"cssDecode", cssDecode, classBackslash},
	{"escapeSeqDecode", escapeSeqDecode, classBackslash},
	{"htmlEntityDecode", htmlEntityDecode, classAmp}, // html.UnescapeString returns s without '&'
	{"lowercase", lowerCase, classUpper | classNonASCII},
	{"uppercase", upperCase, classLower | classNonASCII},
	{"removeNulls", removeNulls, classNUL},
	{"replaceNulls", replaceNulls, classNUL},
	{"utf8toUnicode", utf8ToUnicode, classNonASCII},
	{"removeWhitespace", removeWhitespace, classCtlSpace | classSpace | classNonASCII},
	{"compressWhitespace", compressWhitespace, classCtlSpace | classSpace | classNonASCII},
	{"trim", trim, classCtlSpace | classSpace},
	{"trimLeft", trimLeft, classCtlSpace | classSpace},
	{"trimRight", trimRight, classCtlSpace | classSpace},
	{"cmdLine", cmdLine, classUpper | classDQuote | classSQuote | classBackslash | classCaret |
		classSpace | classComma | classSemicolon | classCtlSpace | classSlash | classParen},
	{"removeComments", removeComments, classSlash | classStar | classDash | classHash},
	{"removeCommentsChar", removeCommentsChar, classSlash | classStar | classDash | classHash},
	{"replaceComments", replaceComments, classSlash | classStar},
	// filepath.Clean changes nothing without a separator but ".".
	{"normalisePath", normalisePath, classSlash | classDot},
	{"normalisePathWin", normalisePathWin, classSlash | classDot | classBackslash | classColon | classSpace},
}

// changers are this package's transformations that may change any input.
var changers = []plugintypes.Transformation{
	base64decode, base64decodeext, base64encode, hexDecode, hexEncode, length, md5T, sha1T, urlEncode,
}

// byFunc are this package's transformations keyed by code pointer (a
// top-level function's is its own; a transformation registered from
// elsewhere, a closure perhaps, is never one of these): their identity
// triggers, or -1 for the changers.
var byFunc = sync.OnceValue(func() map[uintptr]int64 {
	m := map[uintptr]int64{}
	for _, id := range identities {
		m[reflect.ValueOf(id.fn).Pointer()] = int64(id.triggers)
	}
	for _, fn := range changers {
		m[reflect.ValueOf(fn).Pointer()] = -1
	}
	return m
})

// IdentityTriggers returns the classes (see ClassMask) without which t
// returns its input unchanged; ok is false for a transformation that may
// change any input (base64Decode, length, sha1, ...) or that is not one of
// this package's.
func IdentityTriggers(t plugintypes.Transformation) (mask uint64, ok bool) {
	if t == nil {
		return 0, false
	}
	m, ok := byFunc()[reflect.ValueOf(t).Pointer()]
	if !ok || m < 0 {
		return 0, false
	}
	return uint64(m), true
}

// Pure reports whether t is one of this package's transformations: a
// function of its input alone, so that its result on a value may be
// reused.
func Pure(t plugintypes.Transformation) bool {
	if t == nil {
		return false
	}
	_, ok := byFunc()[reflect.ValueOf(t).Pointer()]
	return ok
}
