// Copyright 2026 Rampart contributors
// SPDX-License-Identifier: Apache-2.0

package macro

import (
	"testing"

	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
)

type otherMacro struct{}

func (otherMacro) Expand(plugintypes.TransactionState) string { return "x" }
func (otherMacro) String() string                             { return "x" }

// TestConstant: only a macro without a variable is constant (Rampart fork).
func TestConstant(t *testing.T) {
	for in, want := range map[string]bool{
		"Host header is a numeric IP address": true,
		"100%":                                true,
		"%{tx.0}":                             false,
		"Matched %{MATCHED_VAR} here":         false,
		"score %{tx.inbound_anomaly_score}":   false,
	} {
		m, err := NewMacro(in)
		if err != nil {
			t.Fatal(err)
		}
		text, ok := Constant(m)
		if ok != want || (ok && text != in) {
			t.Errorf("Constant(%q) = %q, %v; want constant %v", in, text, ok, want)
		}
	}
	if _, ok := Constant(otherMacro{}); ok {
		t.Error("a Macro of another package is constant")
	}
}

func TestSignedVariable(t *testing.T) {
	for in, want := range map[string]string{
		"+%{tx.critical_anomaly_score}": "+TX:critical_anomaly_score",
		"-%{TX.a}":                      "-TX:a",
		"+5":                            "",
		"%{tx.a}":                       "",
		"++%{tx.a}":                     "",
		"+%{tx.a}x":                     "",
		"x%{tx.a}":                      "",
	} {
		m, err := NewMacro(in)
		if err != nil {
			t.Fatal(err)
		}
		sign, rest, ok := SignedVariable(m)
		got := ""
		if ok {
			tok := rest.(*macro).tokens
			got = string(sign) + tok[0].variable.Name() + ":" + tok[0].key
			if len(tok) != 1 {
				got += " and more"
			}
		}
		if got != want {
			t.Errorf("SignedVariable(%q) = %q, want %q", in, got, want)
		}
	}
}
