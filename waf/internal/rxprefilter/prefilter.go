// Package rxprefilter decides cheaply, before a regular expression runs,
// that it cannot match: it derives from the expression's syntax tree the
// literal strings any match must contain (an AND/OR tree of atoms, in the
// style of RE2's prefilter), the adjacent bytes any match must contain
// (pairs.go), and the fewest bytes any match needs.
//
// A Filter only ever answers "cannot match" when that is certain; when in
// doubt it answers "may match" and the caller runs the expression. Every
// atom is ASCII-lower-cased and compared with the ASCII-lower-cased input,
// which over-approximates both case-sensitive and case-insensitive literals.
package rxprefilter

import (
	"math/bits"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// Limits on the exact sets tracked while walking the tree (RE2 uses the same
// orders of magnitude): larger sets become OR conditions.
const (
	maxExact      = 16 // strings in an exact set
	maxClassRunes = 4  // a larger character class is a condition, not exact strings
	maxClassAtoms = 32 // a larger one says nothing
	// maxNodes bounds what one evaluation may visit; a larger condition is
	// dropped (the regexp always runs). The largest CRS 4.25 condition
	// visits about 57,000 nodes.
	maxNodes = 1 << 18
	// maxSimplify is the largest OR whose redundant members are looked for.
	maxSimplify = 64
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
	root := and(append([]*node{analyze(re).match()}, requiredPairs(re)...)...)
	if root.op != opAll && size(root, map[*node]int{}) <= maxNodes {
		finish(root, map[*node]bool{})
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

// Size is how many nodes an evaluation may visit (0 without a condition).
func (f *Filter) Size() int {
	if f == nil || f.root == nil {
		return 0
	}
	return size(f.root, map[*node]int{})
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
	// One pass: which bytes occur (lower-cased), so one-byte atoms are a
	// bit test, and whether the input needs lower-casing.
	var set byteSet
	upper, high := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			high = true
		} else if 'A' <= c && c <= 'Z' {
			upper = true
			c += 'a' - 'A'
		}
		set[c>>6] |= 1 << (c & 63)
	}
	// The only non-ASCII runes that fold to ASCII letters: KELVIN SIGN (k)
	// and LATIN SMALL LETTER LONG S (s). Lower-casing bytes does not map
	// them, so an input holding one is left to the expression.
	if high && (strings.Contains(s, "\u212a") || strings.Contains(s, "\u017f")) {
		return true
	}
	if !upper {
		return f.root.eval(s, &set)
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
	// eval only reads the lower-cased copy, during the call.
	return f.root.eval(unsafe.String(unsafe.SliceData(b), len(b)), &set)
}

// byteSet holds the bytes an input contains.
type byteSet [4]uint64

func (s *byteSet) add(c byte) { s[c>>6] |= 1 << (c & 63) }

// contains reports whether every byte of o is in s.
func (s *byteSet) contains(o *byteSet) bool {
	return s[0]&o[0] == o[0] && s[1]&o[1] == o[1] && s[2]&o[2] == o[2] && s[3]&o[3] == o[3]
}

// intersects reports whether s and o share a byte.
func (s *byteSet) intersects(o *byteSet) bool {
	return s[0]&o[0]|s[1]&o[1]|s[2]&o[2]|s[3]&o[3] != 0
}

func (s *byteSet) union(o *byteSet) {
	for i := range s {
		s[i] |= o[i]
	}
}

func (s *byteSet) intersect(o *byteSet) {
	for i := range s {
		s[i] &= o[i]
	}
}

type nodeOp uint8

const (
	opAll  nodeOp = iota // always true: no condition
	opAtom               // the input contains atom
	opAnd                // every sub holds
	opOr                 // some sub holds
	opPair               // the input has a byte of pair.x followed by one of pair.y
	opLast               // the input ends with a byte of *last, or holds a newline
)

type node struct {
	op   nodeOp
	atom string
	subs []*node
	// req holds bytes the input contains whenever the node holds: a quick
	// reject before any substring search.
	req byteSet
	// index, for a large OR, files each sub under one byte of its req:
	// only the subs filed under a byte the input holds can hold.
	index *orIndex
	// anyByte, for an OR of one-byte atoms, holds those bytes: the OR
	// holds when the input has one of them (byteOr set).
	anyByte byteSet
	byteOr  bool
	// pair, for opPair, holds the two byte sets (lower case).
	pair *bytePair
	// last, for opLast, holds the bytes a match can end with (lower case).
	last *byteSet
}

// bytePair is an opPair's condition: some byte of x directly followed by
// some byte of y.
type bytePair struct{ x, y byteSet }

// orIndex is a large OR's subs by key byte: those filed under byte b are
// subs[start[b]:start[b+1]]; always are the subs with an empty req.
type orIndex struct {
	start  [257]int32
	subs   []*node
	always []*node
}

// minIndexed is the smallest OR that gets an index.
const minIndexed = 12

// byteRank orders bytes from rarest to commonest in the text a WAF
// inspects (punctuation and controls, then digits, then letters by English
// frequency): a sub is filed under its rarest required byte, so that
// common inputs wake few subs. Any order is correct; this one is fast.
var byteRank = func() (r [256]int) {
	const common = "0123456789qjzxvkwyfbghmpducl" + "srnioate"
	for i := 0; i < len(common); i++ {
		r[common[i]] = 1 + i
	}
	return r
}()

// buildIndex files n's subs (n a large OR whose subs are finished).
func buildIndex(n *node) {
	key := make([]int, len(n.subs))
	ix := &orIndex{}
	var counts [256]int32
	for i, c := range n.subs {
		key[i] = -1
		for b := 0; b < 256; b++ {
			if c.req[b>>6]&(1<<(b&63)) != 0 && (key[i] < 0 || byteRank[b] < byteRank[key[i]]) {
				key[i] = b
			}
		}
		if key[i] < 0 {
			ix.always = append(ix.always, c)
			continue
		}
		counts[key[i]]++
	}
	for b := 0; b < 256; b++ {
		ix.start[b+1] = ix.start[b] + counts[b]
	}
	ix.subs = make([]*node, ix.start[256])
	next := ix.start
	for i, c := range n.subs {
		if b := key[i]; b >= 0 {
			ix.subs[next[b]] = c
			next[b]++
		}
	}
	n.index = ix
}

var all = &node{op: opAll}

// size is how many nodes an evaluation of n may visit (a shared node
// counts once per path to it), saturating past maxNodes.
func size(n *node, memo map[*node]int) int {
	if sz, ok := memo[n]; ok {
		return sz
	}
	sz := 1
	for _, c := range n.subs {
		sz = min(sz+size(c, memo), maxNodes+1)
	}
	memo[n] = sz
	return sz
}

// finish computes req bottom-up, each (possibly shared) node once.
func finish(n *node, done map[*node]bool) {
	if done[n] {
		return
	}
	done[n] = true
	switch n.op {
	case opAtom:
		for i := 0; i < len(n.atom); i++ {
			n.req.add(n.atom[i])
		}
	case opAnd:
		for _, c := range n.subs {
			finish(c, done)
			n.req.union(&c.req)
		}
	case opOr:
		for i, c := range n.subs {
			finish(c, done)
			if i == 0 {
				n.req = c.req
			} else {
				n.req.intersect(&c.req)
			}
		}
		n.byteOr = true
		for _, c := range n.subs {
			if c.op != opAtom || len(c.atom) != 1 {
				n.byteOr = false
				break
			}
			n.anyByte.add(c.atom[0])
		}
		if !n.byteOr && len(n.subs) >= minIndexed {
			buildIndex(n)
		}
	}
}

func (n *node) eval(s string, set *byteSet) bool {
	if !set.contains(&n.req) {
		return false
	}
	switch n.op {
	case opAtom:
		return len(n.atom) == 1 || strings.Contains(s, n.atom)
	case opLast:
		// The match ends where a line does: at the input's end, or before
		// a newline (multi-line $), which is left to the expression.
		if len(s) == 0 {
			return false // a match needs a byte
		}
		if c := s[len(s)-1]; n.last[c>>6]&(1<<(c&63)) != 0 {
			return true
		}
		return set[0]&(1<<'\n') != 0
	case opPair:
		x, y := &n.pair.x, &n.pair.y
		if !set.intersects(x) || !set.intersects(y) {
			return false
		}
		for i := 0; i+1 < len(s); i++ {
			if c, d := s[i], s[i+1]; x[c>>6]&(1<<(c&63)) != 0 && y[d>>6]&(1<<(d&63)) != 0 {
				return true
			}
		}
		return false
	case opAnd:
		for _, c := range n.subs {
			if !c.eval(s, set) {
				return false
			}
		}
		return true
	case opOr:
		if n.byteOr {
			return set.intersects(&n.anyByte)
		}
		if ix := n.index; ix != nil {
			for _, c := range ix.always {
				if c.eval(s, set) {
					return true
				}
			}
			for w, word := range set {
				for word != 0 {
					b := w<<6 + bits.TrailingZeros64(word)
					word &= word - 1
					for _, c := range ix.subs[ix.start[b]:ix.start[b+1]] {
						if c.eval(s, set) {
							return true
						}
					}
				}
			}
			return false
		}
		for _, c := range n.subs {
			if c.eval(s, set) {
				return true
			}
		}
		return false
	}
	return true
}

func (n *node) String() string {
	switch n.op {
	case opAtom:
		return strconv.Quote(n.atom)
	case opPair:
		return "pair(" + n.pair.x.String() + " " + n.pair.y.String() + ")"
	case opLast:
		return "last(" + n.last.String() + ")"
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
	// Simplifications, skipped for large ORs where they cost more (O(n²))
	// than they save.
	if len(out) <= maxSimplify {
		out = simplifyOr(out)
	}
	switch len(out) {
	case 0:
		return all // cannot happen: or() of nothing is not built
	case 1:
		return out[0]
	}
	return &node{op: opOr, subs: out}
}

// simplifyOr drops the members of an OR that add nothing: an atom that
// contains another atom of the OR (the shorter one is present whenever the
// longer one is), and an atom that implies an AND of atoms of the OR.
func simplifyOr(out []*node) []*node {
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
	// An atom that implies an AND of atoms of the same OR adds nothing.
	var ands []*node
	for _, s := range out {
		if s.op == opAnd {
			ands = append(ands, s)
		}
	}
	out = slices.DeleteFunc(out, func(s *node) bool {
		if s.op != opAtom {
			return false
		}
		for _, o := range ands {
			if allAtomsIn(o.subs, s.atom) {
				return true
			}
		}
		return false
	})
	return out
}

// allAtomsIn reports whether every node is an atom contained in s.
func allAtomsIn(ns []*node, s string) bool {
	for _, n := range ns {
		if n.op != opAtom || !strings.Contains(s, n.atom) {
			return false
		}
	}
	return true
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

// info is what is known about the strings a sub-expression matches: each
// match is exactly one of a small set of (lower-cased) strings, or
// satisfies a condition on the input. Either part may be absent, not both.
// Keeping the two apart lets a concatenation keep its neighbours adjacent
// when an optional piece between them matches empty: a(?:x|y)?b needs "ab",
// or "a" and "b" with "x" or "y".
type info struct {
	exact []string // nil: no exact alternative
	cond  *node    // nil: no other alternative
}

func exactInfo(ss ...string) info { return info{exact: ss} }

var anything = info{cond: all}

// exactMatch is the condition the exact alternatives put on the input.
func (i info) exactMatch() *node {
	subs := make([]*node, 0, len(i.exact))
	for _, s := range i.exact {
		if s == "" {
			return all
		}
		subs = append(subs, &node{op: opAtom, atom: s})
	}
	return or(subs...)
}

// match turns the info into one condition on the input.
func (i info) match() *node {
	switch {
	case i.exact == nil && i.cond == nil:
		return all // cannot happen; be safe
	case i.exact == nil:
		return i.cond
	case i.cond == nil:
		return i.exactMatch()
	}
	return or(i.exactMatch(), i.cond)
}

func concat(a, b info) info {
	var out info
	var terms []*node
	if a.exact != nil && b.exact != nil {
		if len(a.exact)*len(b.exact) <= maxExact {
			out.exact = make([]string, 0, len(a.exact)*len(b.exact))
			for _, x := range a.exact {
				for _, y := range b.exact {
					out.exact = append(out.exact, x+y)
				}
			}
			out.exact = uniq(out.exact)
		} else {
			terms = append(terms, and(a.exactMatch(), b.exactMatch()))
		}
	}
	if a.exact != nil && b.cond != nil {
		terms = append(terms, and(a.exactMatch(), b.cond))
	}
	if a.cond != nil {
		terms = append(terms, and(a.cond, b.match()))
	}
	if len(terms) > 0 {
		out.cond = or(terms...)
	}
	return out
}

func alternate(subs []info) info {
	var out info
	var conds []*node
	for _, s := range subs {
		out.exact = append(out.exact, s.exact...)
		if s.cond != nil {
			conds = append(conds, s.cond)
		}
	}
	if out.exact != nil {
		out.exact = uniq(out.exact)
		if len(out.exact) > maxExact {
			conds = append(conds, out.exactMatch())
			out.exact = nil
		}
	}
	if len(conds) > 0 {
		out.cond = or(conds...)
	}
	return out
}

// optional is x*, x? or x{0,n}: empty, or at least one match of x.
func optional(x info) info {
	return info{exact: []string{""}, cond: x.match()}
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
			if n > maxClassAtoms {
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
		set = uniq(set)
		if len(set) <= maxClassRunes {
			return exactInfo(set...)
		}
		return info{cond: exactInfo(set...).exactMatch()}
	case syntax.OpCapture:
		return analyze(re.Sub[0])
	case syntax.OpConcat:
		acc := exactInfo("")
		for i, s := range re.Sub {
			x := analyze(s)
			// An alternation a match ends with (pairs.go) gets a last-byte
			// condition per branch, unless it has exact strings that what
			// comes before has exact strings to join.
			before := acc.exact == nil || len(acc.exact) == 1 && acc.exact[0] == ""
			if alt := alternation(s); alt != nil && (x.exact == nil || before) && endsAtLineEnd(re.Sub[i+1:]) {
				x = alternateEnding(alt)
			}
			acc = concat(acc, x)
		}
		return acc
	case syntax.OpAlternate:
		subs := make([]info, len(re.Sub))
		for i, s := range re.Sub {
			subs[i] = analyze(s)
		}
		return alternate(subs)
	case syntax.OpStar, syntax.OpQuest:
		return optional(analyze(re.Sub[0]))
	case syntax.OpPlus:
		x := analyze(re.Sub[0])
		return concat(x, optional(x))
	case syntax.OpRepeat:
		x := analyze(re.Sub[0])
		if re.Min >= 1 {
			return concat(x, optional(x)) // a first copy, then maybe more
		}
		return optional(x)
	}
	// OpAnyChar, OpAnyCharNotNL, OpNoMatch and anything new.
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

// maxLiterals bounds a set LiteralSets returns: a larger one costs more to
// search for than it saves.
const maxLiterals = 4096

// maxLiteralSets is how many sets LiteralSets returns at most.
const maxLiteralSets = 2

// LiteralSets returns sets of lower-case strings such that every match
// contains at least one string of each set (compared with the
// ASCII-lower-cased input, as MayMatch does). A set comes from the
// condition's tree: an OR contributes the union of its members' sets, an
// AND the most selective of its members' sets, an atom itself. When the
// condition is an AND, its most selective members each give a set: two
// weak sets together ("on" and "=") rule out far more than either. nil
// when there is no such set. As with MayMatch, an input holding KELVIN
// SIGN or LATIN SMALL LETTER LONG S is not covered: the caller must treat
// it as a possible match.
func (f *Filter) LiteralSets() [][]string {
	if f == nil || f.root == nil {
		return nil
	}
	memo := map[*node][]string{}
	var sets [][]string
	if f.root.op == opAnd {
		for _, c := range f.root.subs {
			if l := literals(c, memo); l != nil {
				sets = append(sets, l)
			}
		}
		slices.SortStableFunc(sets, func(a, b []string) int {
			switch {
			case moreSelective(a, b):
				return -1
			case moreSelective(b, a):
				return 1
			}
			return 0
		})
		sets = sets[:min(len(sets), maxLiteralSets)]
	} else if l := literals(f.root, memo); l != nil {
		sets = [][]string{l}
	}
	for i, l := range sets {
		sets[i] = uniq(slices.Clone(l))
	}
	return sets
}

// literals is the set one node gives (see LiteralSets); nil means none.
// memo holds each shared node's answer (the tree is a DAG).
func literals(n *node, memo map[*node][]string) []string {
	if l, ok := memo[n]; ok {
		return l
	}
	var out []string
	switch n.op {
	case opAtom:
		if n.atom != "" {
			out = []string{n.atom}
		}
	case opOr:
		for _, c := range n.subs {
			l := literals(c, memo)
			if l == nil || len(out)+len(l) > maxLiterals {
				out = nil
				break
			}
			out = append(out, l...)
		}
	case opAnd:
		for _, c := range n.subs {
			if l := literals(c, memo); l != nil && (out == nil || moreSelective(l, out)) {
				out = l
			}
		}
	}
	memo[n] = out
	return out
}

// moreSelective reports whether a is likely to occur in fewer inputs than
// b: its weakest literal is rarer (rarity), or as rare and it has fewer
// literals.
func moreSelective(a, b []string) bool {
	ra, rb := weakest(a), weakest(b)
	if ra != rb {
		return ra > rb
	}
	return len(a) < len(b)
}

// weakest is the rarity of the set's commonest literal.
func weakest(ss []string) int {
	m := -1
	for _, s := range ss {
		if r := rarity(s); m < 0 || r < m {
			m = r
		}
	}
	return m
}

// rarity scores how seldom a literal occurs in ordinary values: letters,
// digits, white space and the punctuation of names, numbers, paths and
// dates count 1 a byte; the rest (quotes, brackets, operators, which is what
// attacks are made of) 3. "<" is rarer than "on".
func rarity(lit string) int {
	n := 0
	for i := 0; i < len(lit); i++ {
		switch c := lit[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == ' ', c == '\t', c == '\n', c == '\r', c == '.', c == '-', c == '_', c == '/', c == ',', c == ':':
			n++
		default:
			n += 3
		}
	}
	return n
}
