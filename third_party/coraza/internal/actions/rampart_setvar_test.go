// Copyright 2026 The Rampart authors
// SPDX-License-Identifier: Apache-2.0

package actions

import (
	"fmt"
	"testing"

	"github.com/corazawaf/coraza/v3/debuglog"
	"github.com/corazawaf/coraza/v3/internal/corazawaf"
)

// TestSetvarSignedVariable compares setvar's path for a constant key and a
// "+/-%{var}" value (addVariable) with the general one, on current values
// and variable values that are missing, empty, numbers and not numbers.
func TestSetvarSignedVariable(t *testing.T) {
	vals := []*string{nil, ptr(""), ptr("5"), ptr("-3"), ptr("abc"), ptr("tx.other"), ptr("12345678")}
	for _, sign := range []string{"+", "-"} {
		for _, cur := range vals {
			for _, add := range vals {
				run := func(fast bool) string {
					tx := corazawaf.NewWAF().NewTransaction()
					defer tx.Close()
					txc := tx.Variables().TX()
					if cur != nil {
						txc.Set("score", []string{*cur})
					}
					if add != nil {
						txc.Set("add", []string{*add})
					}
					a := setvar().(*setvarFn)
					if err := a.Init(nil, "tx.Score="+sign+"%{tx.add}"); err != nil {
						t.Fatal(err)
					}
					if a.valueVar == nil || a.keyLower != "score" {
						t.Fatal("the value was not split")
					}
					if !fast {
						a.valueVar = nil // the general path
					}
					a.Evaluate(ruleMeta{}, tx)
					return fmt.Sprint(txc.Get("score"), txc.Get("Score"))
				}
				got, want := run(true), run(false)
				if got != want {
					t.Errorf("sign %s, current %v, added %v: %s, want %s", sign, show(cur), show(add), got, want)
				}
				// A few outcomes spelled out, so that both paths are held
				// to setvar's arithmetic and not only to each other.
				if e, ok := expected[fmt.Sprint(sign, show(cur), show(add))]; ok && got != e {
					t.Errorf("sign %s, current %v, added %v: %s, want %s", sign, show(cur), show(add), got, e)
				}
			}
		}
	}
}

// expected outcomes (TX:score as Get returns it, twice: lower and upper
// case key) by sign, current value and added value.
var expected = map[string]string{
	`+"5""-3"`:             "[2] [2]",
	`-"5""-3"`:             "[8] [8]",
	`+(missing)"12345678"`: "[12345678] [12345678]",
	`+"5""abc"`:            "[+abc] [+abc]",
	`+"5""tx.other"`:       "[5] [5]",
	`+"abc""5"`:            "[abc] [abc]",
	`-"5"(missing)`:        "[5] [5]",
}

type ruleMeta struct{}

func (ruleMeta) ID() int       { return 1 }
func (ruleMeta) ParentID() int { return 0 }
func (ruleMeta) Status() int   { return 0 }

func ptr(s string) *string { return &s }

func show(s *string) string {
	if s == nil {
		return "(missing)"
	}
	return fmt.Sprintf("%q", *s)
}

// TestSetvarWithoutValue: "tx.key" without a value sets it to 1 (as
// ModSecurity does) and "!tx.key" removes it, on the constant-key path and
// the general one (a debug logger on); upstream expanded a nil value
// macro for both and panicked (Rampart fork).
func TestSetvarWithoutValue(t *testing.T) {
	for _, debug := range []bool{false, true} {
		for _, c := range []struct{ arg, want string }{
			{"tx.Flag", "[1]"},
			{"!tx.Flag", "[]"},
			{"tx.flag=7", "[7]"},
		} {
			tx := corazawaf.NewWAF().NewTransaction()
			if debug {
				tx.SetDebugLogLevel(debuglog.LevelDebug)
				if !tx.DebugOn() {
					t.Fatal("debug logging is not on")
				}
			}
			tx.Variables().TX().Set("flag", []string{"3"})
			a := setvar().(*setvarFn)
			if err := a.Init(nil, c.arg); err != nil {
				t.Fatalf("%s: %v", c.arg, err)
			}
			a.Evaluate(ruleMeta{}, tx)
			if got := fmt.Sprint(tx.Variables().TX().Get("flag")); got != c.want {
				t.Errorf("setvar:%s (debug %v): TX:flag %s, want %s", c.arg, debug, got, c.want)
			}
			tx.Close()
		}
	}
}
