// Copyright 2022 Juan Pablo Tosso and the OWASP Coraza contributors
// SPDX-License-Identifier: Apache-2.0

package macro

import (
	"errors"
	"fmt"
	"strings"

	"github.com/corazawaf/coraza/v3/collection"
	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
	"github.com/corazawaf/coraza/v3/internal/collections"
	"github.com/corazawaf/coraza/v3/types/variables"
)

type Macro interface {
	Expand(tx plugintypes.TransactionState) string
	String() string
}

var errEmptyData = errors.New("empty data")

func NewMacro(data string) (Macro, error) {
	if len(data) == 0 {
		return nil, errEmptyData
	}

	macro := &macro{
		tokens: []macroToken{},
	}
	if err := macro.compile(data); err != nil {
		return nil, err
	}
	return macro, nil
}

type macroToken struct {
	text     string
	variable variables.RuleVariable
	key      string
	keyID    int32 // key's collections.KeyID (Rampart fork), 0 for none
}

// macro is used to create tokenized strings that can be
// "expanded" at high speed and concurrent-safe.
// A macro contains tokens for strings and expansions
// For example: some string %{tx.var} some string
// The previous example would create 3 tokens:
// - String token: some string
// - Variable token: Variable: TX, key: var
// - String token: some string
type macro struct {
	original string
	tokens   []macroToken
}

// Expand the pre-compiled macro expression into a string
func (m *macro) Expand(tx plugintypes.TransactionState) string {
	if len(m.tokens) == 1 {
		return expandToken(tx, m.tokens[0])
	}
	// Rampart fork: the tokens are expanded (in order, as before) first, so
	// that the result is built with one allocation.
	var buf [8]string
	parts := buf[:0]
	n := 0
	for _, token := range m.tokens {
		s := expandToken(tx, token)
		parts = append(parts, s)
		n += len(s)
	}
	res := strings.Builder{}
	res.Grow(n)
	for _, s := range parts {
		res.WriteString(s)
	}
	return res.String()
}

func expandToken(tx plugintypes.TransactionState, token macroToken) string {
	if token.variable == variables.Unknown {
		return token.text
	}
	c := tx.Collection(token.variable)
	// Rampart fork: the TX Map by its concrete type first (an assertion to
	// an interface type looks its itab up); what the Keyed case does.
	if m, ok := c.(*collections.Map); ok {
		v, found := "", false
		if token.keyID > 0 {
			v, found = m.GetFirstID(token.keyID, token.key)
		} else {
			v, found = m.GetFirst(token.key)
		}
		if found {
			return v
		}
		c = nil
	}
	switch col := c.(type) {
	case nil:
	case collection.Keyed:
		// Rampart fork: the first value without the slice when the
		// collection can give it (collections.Map).
		if g, ok := col.(interface {
			GetFirstID(int32, string) (string, bool)
		}); ok && token.keyID > 0 {
			if v, ok := g.GetFirstID(token.keyID, token.key); ok {
				return v
			}
		} else if g, ok := col.(interface{ GetFirst(string) (string, bool) }); ok {
			if v, ok := g.GetFirst(token.key); ok {
				return v
			}
		} else if c := col.Get(token.key); len(c) > 0 {
			return c[0]
		}
	case collection.Single:
		return col.Get()
	default:
		if c := col.FindAll(); len(c) > 0 {
			return c[0].Value()
		}
	}

	// If the variable is known (e.g. TX) but the key is not found, we return the original text
	tx.DebugLogger().Warn().Str("variable", token.variable.Name()).Str("key", token.key).Msg("key not found in collection, returning the original text")
	return token.text
}

// compile is used to parse the input and generate the corresponding token
// Example input: %{var.foo} and %{var.bar}
// expected result:
// [0] macroToken{text: "%{var.foo}", variable: &variables.Var, key: "foo"},
// [1] macroToken{text: " and ", variable: nil, key: ""}
// [2] macroToken{text: "%{var.bar}", variable: &variables.Var, key: "bar"}
func (m *macro) compile(input string) error {
	l := len(input)
	if l == 0 {
		return fmt.Errorf("empty macro")
	}

	m.original = input
	var currentToken strings.Builder
	isMacro := false

	for i := 0; i < l; i++ {
		c := input[i]

		if c == '%' && i+1 < l && input[i+1] == '{' {
			if currentToken.Len() > 0 {
				m.tokens = append(m.tokens, macroToken{
					text:     currentToken.String(),
					variable: variables.Unknown,
					key:      "",
				})
				currentToken.Reset()
			}
			isMacro = true
			i++ // Skip '{'
			continue
		}

		if isMacro {
			if c == '}' {
				isMacro = false
				if input[i-1] == '.' {
					return fmt.Errorf("empty variable name")
				}
				varName, key, _ := strings.Cut(currentToken.String(), ".")
				v, err := variables.Parse(varName)
				if err != nil {
					return fmt.Errorf("unknown variable %q", varName)
				}
				lower := strings.ToLower(key)
				var id int32
				if lower != "" && v == variables.TX {
					id = collections.KeyID(lower)
				}
				m.tokens = append(m.tokens, macroToken{
					text:     currentToken.String(),
					variable: v,
					key:      lower,
					keyID:    id,
				})
				currentToken.Reset()
				continue
			}

			if !isValidMacroChar(c) {
				return fmt.Errorf("malformed variable starting with %q", "%{"+currentToken.String())
			}

			currentToken.WriteByte(c)

			if i+1 == l {
				return errors.New("malformed variable: no closing braces")
			}
			continue
		}

		currentToken.WriteByte(c)
	}

	if currentToken.Len() > 0 {
		m.tokens = append(m.tokens, macroToken{
			text:     currentToken.String(),
			variable: variables.Unknown,
			key:      "",
		})
	}
	return nil
}

func isValidMacroChar(c byte) bool {
	return c == '[' || c == ']' || c == '.' || c == '_' || c == '-' || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
}

// String returns the original string
func (m *macro) String() string {
	return m.original
}

// IsExpandable return true if there are macro expanadable tokens
// TODO(jcchavezs): this is used only in a commented out section
func (m *macro) IsExpandable() bool {
	return len(m.tokens) > 1
}

// MayRead reports whether expanding m may read collection v: false only
// for a macro of this package none of whose tokens names v (Rampart fork;
// lets the engine defer an expansion that cannot depend on v).
func MayRead(m Macro, v variables.RuleVariable) bool {
	mm, ok := m.(*macro)
	if !ok {
		return true
	}
	for _, t := range mm.tokens {
		if t.variable == v {
			return true
		}
	}
	return false
}

// Constant returns the text m always expands to when m is a macro of this
// package without a variable (Rampart fork: the engine sets RULE:msg for
// every rule it evaluates, most of them with a fixed message).
func Constant(m Macro) (string, bool) {
	mm, ok := m.(*macro)
	if !ok || len(mm.tokens) != 1 || mm.tokens[0].variable != variables.Unknown {
		return "", false
	}
	return mm.tokens[0].text, true
}

// SignedVariable splits a macro that is a constant "+" or "-" followed by
// one variable, such as setvar's "+%{tx.critical_anomaly_score}", into
// the sign and a macro of the variable alone, whose expansion the sign
// precedes (Rampart fork: setvar adds the variable without building the
// joined string).
func SignedVariable(m Macro) (byte, Macro, bool) {
	mm, ok := m.(*macro)
	if !ok || len(mm.tokens) != 2 {
		return 0, nil, false
	}
	sign, v := mm.tokens[0], mm.tokens[1]
	if sign.variable != variables.Unknown || (sign.text != "+" && sign.text != "-") || v.variable == variables.Unknown {
		return 0, nil, false
	}
	return sign.text[0], &macro{original: mm.original[1:], tokens: []macroToken{v}}, true
}

// Keys returns the keys of the variable v that m reads, and whether m
// reads no other variable (Rampart fork); false for a macro of another
// package.
func Keys(m Macro, v variables.RuleVariable) ([]string, bool) {
	mm, ok := m.(*macro)
	if !ok {
		return nil, false
	}
	var keys []string
	for _, t := range mm.tokens {
		switch t.variable {
		case v:
			keys = append(keys, t.key)
		case variables.Unknown:
		default:
			return nil, false
		}
	}
	return keys, true
}
