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
// transformation's fast path looks for, one for everything else.
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
	classOther    // every other byte
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
		default:
			t[i] = classOther
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

// ClassMask returns the classes of the bytes of s, for IdentityTriggers.
func ClassMask(s string) uint64 {
	var m uint64
	for i := 0; i < len(s); i++ {
		m |= byteClass[s[i]]
	}
	return m
}

// triggers are, by transformation name, the classes without which the
// transformation returns its input unchanged: (s, false, nil). Each entry
// follows the function's own early return (or, for those calling the
// standard library, the byte it first looks for); TestIdentityTriggers
// checks every one on random input made without those bytes.
var triggers = map[string]uint64{
	"none":               0,
	"urlDecode":          classPercent | classPlus,
	"urlDecodeUni":       classPercent | classPlus,
	"jsDecode":           classBackslash,
	"cssDecode":          classBackslash,
	"escapeSeqDecode":    classBackslash,
	"htmlEntityDecode":   classAmp, // html.UnescapeString returns s without '&'
	"lowercase":          classUpper | classNonASCII,
	"uppercase":          classLower | classNonASCII,
	"removeNulls":        classNUL,
	"replaceNulls":       classNUL,
	"utf8toUnicode":      classNonASCII,
	"removeWhitespace":   classCtlSpace | classSpace | classNonASCII,
	"compressWhitespace": classCtlSpace | classSpace | classNonASCII,
	"trim":               classCtlSpace | classSpace,
	"trimLeft":           classCtlSpace | classSpace,
	"trimRight":          classCtlSpace | classSpace,
	"cmdLine": classUpper | classDQuote | classSQuote | classBackslash | classCaret |
		classSpace | classComma | classSemicolon | classCtlSpace | classSlash | classParen,
	"removeComments":     classSlash | classStar | classDash | classHash,
	"removeCommentsChar": classSlash | classStar | classDash | classHash,
	"replaceComments":    classSlash | classStar,
	// filepath.Clean changes nothing without a separator but ".".
	"normalisePath":    classSlash | classDot,
	"normalizePath":    classSlash | classDot,
	"normalisePathWin": classSlash | classDot | classBackslash | classColon | classSpace,
	"normalizePathWin": classSlash | classDot | classBackslash | classColon | classSpace,
}

// triggersByFunc is triggers keyed by the registered function's code
// pointer, so that a rule's transformation (a func value) can be looked up;
// made on first use, after this package's init has registered them.
var triggersByFunc = sync.OnceValue(func() map[uintptr]uint64 {
	byFunc := map[uintptr]uint64{}
	for name, m := range triggers {
		if t, err := GetTransformation(name); err == nil {
			byFunc[reflect.ValueOf(t).Pointer()] = m
		}
	}
	return byFunc
})

// IdentityTriggers returns the classes (see ClassMask) without which t
// returns its input unchanged; ok is false for a transformation that may
// change any input (base64Decode, length, sha1, ...) or that is not one of
// this package's.
func IdentityTriggers(t plugintypes.Transformation) (mask uint64, ok bool) {
	if t == nil {
		return 0, false
	}
	mask, ok = triggersByFunc()[reflect.ValueOf(t).Pointer()]
	return mask, ok
}
