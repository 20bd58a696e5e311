// Copyright 2026 Rampart contributors
// SPDX-License-Identifier: Apache-2.0

package transformations

import (
	"math/rand"
	"reflect"
	"strings"
	"testing"
)

// TestIdentityTriggers checks every identity mask (Rampart fork): a
// transformation given a value without its trigger classes must return
// the value unchanged, and report no change and no error. The inputs are
// random strings over every byte outside the triggers (so multi-byte
// UTF-8, invalid UTF-8 and control bytes too where they are not
// triggers), plus every such single byte and pair.
func TestIdentityTriggers(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for _, id := range identities {
		name, fn, trig := id.name, id.fn, id.triggers
		if reg, err := GetTransformation(name); err != nil || reflect.ValueOf(reg).Pointer() != reflect.ValueOf(fn).Pointer() {
			t.Fatalf("%s is not the registered function of that name (%v)", name, err)
		}
		if m, ok := IdentityTriggers(fn); !ok || m != trig {
			t.Fatalf("IdentityTriggers(%s) = %x, %v; want %x", name, m, ok, trig)
		}
		var alphabet []byte
		for c := 0; c < 256; c++ {
			if byteClass[c]&trig == 0 {
				alphabet = append(alphabet, byte(c))
			}
		}
		check := func(s string) {
			out, changed, err := fn(s)
			if out != s || changed || err != nil {
				t.Fatalf("%s(%q) = %q, %v, %v: not the identity, but %q has none of its triggers", name, s, out, changed, err, s)
			}
		}
		check("")
		for _, a := range alphabet {
			check(string([]byte{a}))
			for _, b := range alphabet {
				check(string([]byte{a, b}))
			}
		}
		buf := make([]byte, 0, 64)
		for i := 0; i < 20000; i++ {
			buf = buf[:0]
			for n := rng.Intn(40); n > 0; n-- {
				buf = append(buf, alphabet[rng.Intn(len(alphabet))])
			}
			check(string(buf))
		}
		// Text such values are made of: words, numbers, UTF-8 letters.
		for _, s := range []string{"red", "W-1000", "json.12.price", "5.5", "rampart-bench", "héllo wörld", "日本語", "a.b.c", "..", "..."} {
			if ClassMask(s)&trig == 0 {
				check(s)
			}
		}
	}
}

// TestIdentityTriggersUnknown: transformations that change their input
// have no mask.
func TestIdentityTriggersUnknown(t *testing.T) {
	for _, name := range []string{"base64Decode", "base64DecodeExt", "base64Encode", "hexDecode", "hexEncode", "length", "md5", "sha1", "urlEncode"} {
		fn, err := GetTransformation(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := IdentityTriggers(fn); ok {
			t.Errorf("%s has an identity mask", name)
		}
		if !Pure(fn) {
			t.Errorf("%s is not known as pure", name)
		}
	}
	outside := func(s string) (string, bool, error) { return s, false, nil }
	if _, ok := IdentityTriggers(outside); ok || Pure(outside) {
		t.Error("a transformation from outside the package has an identity mask or is called pure")
	}
}

// TestClassMaskEveryByte: ClassMask is the classes of every byte of its
// value, wherever the byte is (the eight-byte steps and the tail).
func TestClassMaskEveryByte(t *testing.T) {
	for n := 0; n <= 20; n++ {
		for c := 0; c < 256; c++ {
			for at := 0; at < n; at++ {
				b := []byte(strings.Repeat("0", n))
				b[at] = byte(c)
				if got, want := ClassMask(string(b)), uint64(classAny)|byteClass[c]; got != want {
					t.Fatalf("%q: mask %x, want %x", b, got, want)
				}
			}
		}
	}
}
