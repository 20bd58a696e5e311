// Package rxprefilter decides cheaply, before a regular expression runs,
// that it cannot match: it derives from the expression's syntax tree the
// literal strings any match must contain (an AND/OR tree of atoms, in the
// style of RE2's prefilter), and the fewest bytes any match needs.
//
// A Filter only ever answers "cannot match" when that is certain; when in
// doubt it answers "may match" and the caller runs the expression. Every
// atom is ASCII-lower-cased and compared with the ASCII-lower-cased input,
// which over-approximates both case-sensitive and case-insensitive literals.
package rxprefilter

import (
	"regexp/syntax"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on the exact sets tracked while walking the tree (RE2 uses the same
// orders of magnitude): larger sets become OR conditions.
const (
	maxExact      = 16 // strings in an exact set
	maxClassRunes = 4  // a character class with more runes matches "anything"
)

// Filter is the compiled prefilter of one expression. The zero value and
// nil say "may match" for every input.
type Filter struct {
	root   *node // nil: no literal condition
	minLen int   // bytes
}

// New builds the filter for re, parsed with the flags the regexp will be
// compiled with (regexp.Compile uses syntax.Perl).
func New(re *syntax.Regexp) *Filter {
	re = re.Simplify()
	f := &Filter{minLen: minLen(re)}
	root := analyze(re).match()
	if root.op != opAll {
		f.root = root
	}
	return f
}

// MinLen is the fewest bytes a match needs.
func (f *Filter) MinLen() int {
	if f == nil {
		return 0
	}
	return f.minLen
}

// Trivial reports whether the filter never rules anything out.
func (f *Filter) Trivial() bool { return f == nil || (f.root == nil && f.minLen == 0) }

// String shows the condition, for tests and debugging.
func (f *Filter) String() string {
	if f == nil || f.root == nil {
		return "*"
	}
	return f.root.String()
}

// MayMatch reports whether the expression can match s. False is certain:
// the expression does not match s.
func (f *Filter) MayMatch(s string) bool {
	if f == nil {
		return true
	}
	if len(s) < f.minLen {
		return false
	}
	if f.root == nil {
		return true
	}
	upper, high := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			high = true
		} else if 'A' <= c && c <= 'Z' {
			upper = true
		}
	}
	// The only non-ASCII runes that fold to ASCII letters: KELVIN SIGN (k)
	// and LATIN SMALL LETTER LONG S (s). Lower-casing bytes does not map
	// them, so an input holding one is left to the expression.
	if high && (strings.Contains(s, "\u212a") || strings.Contains(s, "\u017f")) {
		return true
	}
	if !upper {
		return f.root.eval(s)
	}
	var buf [256]byte
	var b []byte
	if len(s) <= len(buf) {
		b = buf[:len(s)]
	} else {
		b = make([]byte, len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	return f.root.evalBytes(b)
}

type nodeOp uint8

const (
	opAll  nodeOp = iota // always true: no condition
	opAtom               // the input contains atom
	opAnd                // every sub holds
	opOr                 // some sub holds
)

type node struct {
	op   nodeOp
	atom string
	subs []*node
}

var all = &node{op: opAll}

func (n *node) eval(s string) bool {
	switch n.op {
	case opAtom:
		return strings.Contains(s, n.atom)
	case opAnd:
		for _, c := range n.subs {
			if !c.eval(s) {
				return false
			}
		}
		return true
	case opOr:
		for _, c := range n.subs {
			if c.eval(s) {
				return true
			}
		}
		return false
	}
	return true
}

func (n *node) evalBytes(b []byte) bool {
	switch n.op {
	case opAtom:
		return indexBytes(b, n.atom)
	case opAnd:
		for _, c := range n.subs {
			if !c.evalBytes(b) {
				return false
			}
		}
		return true
	case opOr:
		for _, c := range n.subs {
			if c.evalBytes(b) {
				return true
			}
		}
		return false
	}
	return true
}

// indexBytes is strings.Contains on a byte slice without converting it.
func indexBytes(b []byte, atom string) bool {
	if len(atom) == 0 {
		return true
	}
	first := atom[0]
	for i := 0; i+len(atom) <= len(b); i++ {
		if b[i] != first {
			continue
		}
		if string(b[i:i+len(atom)]) == atom {
			return true
		}
	}
	return false
}

func (n *node) String() string {
	switch n.op {
	case opAtom:
		return `"` + n.atom + `"`
	case opAnd, opOr:
		parts := make([]string, len(n.subs))
		for i, c := range n.subs {
			parts[i] = c.String()
		}
		sep := " AND "
		if n.op == opOr {
			sep = " OR "
		}
		return "(" + strings.Join(parts, sep) + ")"
	}
	return "*"
}

// and combines conditions that must all hold.
func and(subs ...*node) *node {
	var out []*node
	for _, s := range subs {
		switch s.op {
		case opAll:
			continue
		case opAnd:
			out = append(out, s.subs...)
		default:
			out = append(out, s)
		}
	}
	out = dedupe(out)
	switch len(out) {
	case 0:
		return all
	case 1:
		return out[0]
	}
	return &node{op: opAnd, subs: out}
}

// or combines conditions of which one must hold.
func or(subs ...*node) *node {
	var out []*node
	for _, s := range subs {
		switch s.op {
		case opAll:
			return all
		case opOr:
			out = append(out, s.subs...)
		default:
			out = append(out, s)
		}
	}
	out = dedupe(out)
	// An atom that contains another atom of the same OR adds nothing: the
	// shorter one is present whenever the longer one is.
	var atoms []string
	for _, s := range out {
		if s.op == opAtom {
			atoms = append(atoms, s.atom)
		}
	}
	out = slices.DeleteFunc(out, func(s *node) bool {
		if s.op != opAtom {
			return false
		}
		for _, a := range atoms {
			if a != s.atom && strings.Contains(s.atom, a) {
				return true
			}
		}
		return false
	})
	switch len(out) {
	case 0:
		return all // cannot happen: or() of nothing is not built
	case 1:
		return out[0]
	}
	return &node{op: opOr, subs: out}
}

// dedupe drops repeated atoms.
func dedupe(ns []*node) []*node {
	seen := map[string]bool{}
	return slices.DeleteFunc(ns, func(n *node) bool {
		if n.op != opAtom {
			return false
		}
		if seen[n.atom] {
			return true
		}
		seen[n.atom] = true
		return false
	})
}

// info is what is known about the strings a sub-expression matches:
// either exactly one of a small set of (lower-cased) strings, or a
// condition on the input.
type info struct {
	exact   []string // valid when isExact
	isExact bool
	cond    *node
}

func exactInfo(ss ...string) info { return info{exact: ss, isExact: true} }

var anything = info{cond: all}

// match turns the info into a condition on the input.
func (i info) match() *node {
	if !i.isExact {
		return i.cond
	}
	subs := make([]*node, 0, len(i.exact))
	for _, s := range i.exact {
		if s == "" {
			return all
		}
		subs = append(subs, &node{op: opAtom, atom: s})
	}
	if len(subs) == 0 {
		return all
	}
	return or(subs...)
}

func concat(a, b info) info {
	if a.isExact && b.isExact && len(a.exact)*len(b.exact) <= maxExact {
		out := make([]string, 0, len(a.exact)*len(b.exact))
		for _, x := range a.exact {
			for _, y := range b.exact {
				out = append(out, x+y)
			}
		}
		return exactInfo(uniq(out)...)
	}
	return info{cond: and(a.match(), b.match())}
}

func alternate(subs []info) info {
	exact := true
	var set []string
	for _, s := range subs {
		if !s.isExact {
			exact = false
			break
		}
		set = append(set, s.exact...)
	}
	if exact {
		set = uniq(set)
		if len(set) <= maxExact {
			return exactInfo(set...)
		}
	}
	conds := make([]*node, len(subs))
	for i, s := range subs {
		conds[i] = s.match()
	}
	return info{cond: or(conds...)}
}

func uniq(ss []string) []string {
	slices.Sort(ss)
	return slices.Compact(ss)
}

// lowerASCII lower-cases ASCII letters only.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// runeInfo is what one literal rune contributes.
func runeInfo(r rune, fold bool) info {
	if r == utf8.RuneError || !utf8.ValidRune(r) {
		// Go's regexp matches U+FFFD against any invalid byte.
		return anything
	}
	if fold && unicode.SimpleFold(r) != r {
		if r < utf8.RuneSelf {
			// An ASCII letter: its case variants are ASCII, or KELVIN SIGN
			// and LONG S, which MayMatch hands to the expression.
			return exactInfo(lowerASCII(string(r)))
		}
		return anything // a non-ASCII letter with case variants
	}
	return exactInfo(lowerASCII(string(r)))
}

func analyze(re *syntax.Regexp) info {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText,
		syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return exactInfo("")
	case syntax.OpLiteral:
		fold := re.Flags&syntax.FoldCase != 0
		acc := exactInfo("")
		for _, r := range re.Rune {
			acc = concat(acc, runeInfo(r, fold))
		}
		return acc
	case syntax.OpCharClass:
		var set []string
		n := 0
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			n += int(hi-lo) + 1
			if n > maxClassRunes {
				return anything
			}
			for r := lo; r <= hi; r++ {
				if r == utf8.RuneError || !utf8.ValidRune(r) {
					return anything
				}
				set = append(set, lowerASCII(string(r)))
			}
		}
		if len(set) == 0 {
			return anything // an empty class never matches; nothing to say
		}
		return exactInfo(uniq(set)...)
	case syntax.OpCapture:
		return analyze(re.Sub[0])
	case syntax.OpConcat:
		acc := exactInfo("")
		for _, s := range re.Sub {
			acc = concat(acc, analyze(s))
		}
		return acc
	case syntax.OpAlternate:
		subs := make([]info, len(re.Sub))
		for i, s := range re.Sub {
			subs[i] = analyze(s)
		}
		return alternate(subs)
	case syntax.OpPlus:
		return info{cond: analyze(re.Sub[0]).match()}
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return info{cond: analyze(re.Sub[0]).match()}
		}
		return anything
	}
	// OpStar, OpQuest, OpAnyChar, OpAnyCharNotNL, OpNoMatch and anything new.
	return anything
}

// minLen is the fewest bytes a match of re needs; 0 when unknown.
func minLen(re *syntax.Regexp) int {
	const ceiling = 1 << 20
	switch re.Op {
	case syntax.OpLiteral:
		n := 0
		for _, r := range re.Rune {
			n += runeMinLen(r, re.Flags&syntax.FoldCase != 0)
		}
		return n
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL, syntax.OpCharClass:
		return 1 // an invalid byte is one byte and matches as U+FFFD
	case syntax.OpCapture:
		return minLen(re.Sub[0])
	case syntax.OpConcat:
		n := 0
		for _, s := range re.Sub {
			n += minLen(s)
			if n > ceiling {
				return ceiling
			}
		}
		return n
	case syntax.OpAlternate:
		m := -1
		for _, s := range re.Sub {
			if v := minLen(s); m < 0 || v < m {
				m = v
			}
		}
		return max(m, 0)
	case syntax.OpPlus:
		return minLen(re.Sub[0])
	case syntax.OpRepeat:
		return min(re.Min*minLen(re.Sub[0]), ceiling)
	}
	return 0
}

// runeMinLen is the fewest bytes of input a literal rune can match.
func runeMinLen(r rune, fold bool) int {
	if r == utf8.RuneError {
		return 1
	}
	n := utf8.RuneLen(r)
	if fold {
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			n = min(n, utf8.RuneLen(f))
		}
	}
	return max(n, 1)
}
