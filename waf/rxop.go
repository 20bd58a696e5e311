package waf

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/corazawaf/coraza/v3/experimental/plugins"
	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
	"rsc.io/binaryregexp"
	bsyntax "rsc.io/binaryregexp/syntax"

	"github.com/rampart-edge/rampart/waf/internal/rxdfa"
	"github.com/rampart-edge/rampart/waf/internal/rxprefilter"
)

// Coraza's @rx runs Go's regexp on every value of every target. On benign
// traffic nearly all of those runs fail, and they were most of a request's
// CPU (see docs/bench.md). Rampart's @rx behaves exactly as Coraza v3.8.1's
// (internal/operators/rx.go: the (?sm) flags, binaryregexp for patterns
// that match non-UTF-8 bytes, TX.0-9 captures) but first asks a prefilter
// (package rxprefilter) whether the value can match at all: the literals a
// match must contain and the bytes it needs. The prefilter only ever rules
// out values the regexp would not match.
//
// The same analysis serves the vendored Coraza's prescreen
// (third_party/coraza/RAMPART.md), which skips a rule when no value of the
// phase can match: both operators name the literals a match needs
// (ScreenLiterals), and the prefilter answers for single values (MayMatch),
// so the screen can rule a value out before the rule's loop fetches it.

var registerOnce sync.Once

// registerOperators puts Rampart's @rx into Coraza's operator registry,
// which is process-wide, and refuses the unsafe operators and actions
// (unsafe.go). Every path that builds a Coraza WAF calls it first.
func registerOperators() {
	registerOnce.Do(func() {
		plugins.RegisterOperator("rx", newRx)
		refuseUnsafe()
	})
}

// rx is a compiled pattern; immutable, so one is shared by every rule
// and engine with the same pattern (memoized).
type rx struct {
	re     *regexp.Regexp
	filter *rxprefilter.Filter
	// line is re without Coraza's added multi-line flag, kept when that
	// anchors it at the start of the text (see lineAnchored).
	line *regexp.Regexp
	// start splits a pattern that begins with (?:^|X) (see startSplit).
	start *startSplit
	// whole: the pattern matches every value, as a whole, with no group
	// (see matchesWhole).
	whole bool
	// dfa answers whether re matches an ASCII value, exactly, in a pass
	// of table look-ups once its states are built (see rxdfa); nil when it
	// could not be built. When it has no answer, the filters and re do.
	dfa *rxdfa.DFA
}

// dfaStates bounds the states of every @rx DFA in the process together
// (each may hold rxdfa.DefaultBudget): compiled patterns are shared by
// every engine through Coraza's process-wide memoizer, and a site's custom
// rules add their own, so the bound is the process's too.
var dfaStates = rxdfa.NewBudget(256 << 20)

func newRx(options plugintypes.OperatorOptions) (plugintypes.Operator, error) {
	// Coraza's default build (no coraza.rule.no_regex_multiline tag) adds
	// dot-all and multi-line mode to every @rx.
	data := "(?sm)" + options.Arguments
	if matchesArbitraryBytes(data) {
		return newBinaryRx(options)
	}
	c, err := memoizeDo(options.Memoizer, "rampart-rx:"+data, func() (any, error) {
		re, err := regexp.Compile(data)
		if err != nil {
			return nil, err
		}
		c := &rx{re: re, line: lineAnchored(options.Arguments), start: newStartSplit(options.Arguments)}
		// regexp.Compile parses with syntax.Perl: the same tree.
		if parsed, err := syntax.Parse(data, syntax.Perl); err == nil {
			if f := rxprefilter.New(parsed); !f.Trivial() {
				c.filter = f
			}
			c.whole = matchesWhole(parsed)
			if d, err := rxdfa.New(parsed, rxdfa.Options{Shared: dfaStates}); err == nil {
				c.dfa = d
			}
		}
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	return c.(*rx), nil
}

// startSplit is a pattern of the form (?:^|X)Y — the CRS's command
// injection rules, (?:^|b["'...]*u...x...)(?:commands) — taken apart for
// values without a newline, where ^ can only match at the start: a match
// is Y at the start (anchored, a regexp that gives up after a few bytes)
// or XY somewhere (rest, a prefilter). The prefilter of the whole pattern
// cannot use Y's literals, because the ^ branch needs none of X's; split,
// a value such as "blue widgets" is ruled out without running the
// regexp.
type startSplit struct {
	anchored *regexp.Regexp
	rest     *rxprefilter.Filter
}

// newStartSplit returns the split of pattern (with Coraza's dot-all, and
// without its multi-line flag: the split is used only on values without
// a newline), nil when pattern does not begin with such an alternation or
// the XY branch has no prefilter.
func newStartSplit(pattern string) *startSplit {
	parsed, err := syntax.Parse("(?s)"+pattern, syntax.Perl)
	if err != nil || parsed.Op != syntax.OpConcat || len(parsed.Sub) < 2 || parsed.Sub[0].Op != syntax.OpAlternate {
		return nil
	}
	alt := parsed.Sub[0]
	var others []*syntax.Regexp
	begins := false
	for _, b := range alt.Sub {
		if b.Op == syntax.OpBeginText {
			begins = true
		} else {
			others = append(others, b)
		}
	}
	if !begins || len(others) == 0 {
		return nil
	}
	y := parsed.Sub[1:]
	anchored := &syntax.Regexp{Op: syntax.OpConcat, Flags: parsed.Flags,
		Sub: append([]*syntax.Regexp{{Op: syntax.OpBeginText, Flags: alt.Flags}}, y...)}
	x := others[0]
	if len(others) > 1 {
		x = &syntax.Regexp{Op: syntax.OpAlternate, Flags: alt.Flags, Sub: others}
	}
	xy := &syntax.Regexp{Op: syntax.OpConcat, Flags: parsed.Flags, Sub: append([]*syntax.Regexp{x}, y...)}
	rest := rxprefilter.New(xy)
	if rest.Trivial() {
		return nil
	}
	re, err := regexp.Compile(anchored.String())
	if err != nil {
		return nil
	}
	return &startSplit{anchored: re, rest: rest}
}

// mayMatch is false only when the pattern cannot match value, which holds
// no newline.
func (s *startSplit) mayMatch(value string) bool {
	return s.rest.MayMatch(value) || s.anchored.MatchString(value)
}

// lineAnchored compiles pattern with dot-all but without Coraza's
// multi-line flag, and returns it when that makes it anchored at the
// start of the text; nil otherwise. On a value without a newline the two
// are the same regexp: multi-line ^ and $ match at the start and end of a
// line, and such a value is one line. Go's regexp then tries a match at
// the first position only (and a pattern that leaves one way through
// matches without backtracking), where with the flag it tries every
// position after a newline it has to look for: the CRS anchors many
// patterns with ^ (the request line, methods, Host, header names).
func lineAnchored(pattern string) *regexp.Regexp {
	expr := "(?s)" + pattern
	parsed, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	prog, err := syntax.Compile(parsed.Simplify())
	if err != nil || prog.StartCond()&syntax.EmptyBeginText == 0 {
		return nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil
	}
	return re
}

func (o *rx) Evaluate(tx plugintypes.TransactionState, value string) bool {
	if o.whole {
		if tx.Capturing() {
			tx.CaptureField(0, value)
		}
		return true
	}
	known, m := false, false
	if o.dfa != nil {
		m, known = o.dfa.Match(value)
		if known && (!m || !tx.Capturing()) {
			return m
		}
	}
	oneLine := (o.line != nil || o.start != nil) && strings.IndexByte(value, '\n') < 0
	if !known && !o.mayMatch(value, oneLine) {
		return false
	}
	re := o.re
	if oneLine && o.line != nil {
		re = o.line
	}
	if !tx.Capturing() {
		return re.MatchString(value)
	}
	// As Coraza: groups 0-8 become TX.0-TX.8; a group that did not take
	// part is set to "".
	match := re.FindStringSubmatchIndex(value)
	if match == nil {
		return false
	}
	for i := 0; i < len(match)/2; i++ {
		if i == 9 {
			return true
		}
		if match[2*i] >= 0 {
			tx.CaptureField(i, value[match[2*i]:match[2*i+1]])
		} else {
			tx.CaptureField(i, "")
		}
	}
	return true
}

// matchesWhole reports whether re, parsed with Coraza's dot-all and
// multi-line flags, matches every value and its leftmost match is the
// whole value: .* optionally between ^ and $ (the CRS's 920450 and
// 920451 capture every header name with ^.*$), without groups. With
// dot-all .* takes every byte; ^ and $ hold at the text's start and end.
func matchesWhole(re *syntax.Regexp) bool {
	subs := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		subs = re.Sub
	}
	if len(subs) > 0 && (subs[0].Op == syntax.OpBeginLine || subs[0].Op == syntax.OpBeginText) {
		subs = subs[1:]
	}
	if n := len(subs); n > 0 && (subs[n-1].Op == syntax.OpEndLine || subs[n-1].Op == syntax.OpEndText) {
		subs = subs[:n-1]
	}
	return len(subs) == 1 && subs[0].Op == syntax.OpStar && subs[0].Flags&syntax.NonGreedy == 0 &&
		subs[0].Sub[0].Op == syntax.OpAnyChar
}

// ScreenLiterals implements plugintypes.OperatorScreener for the vendored
// Coraza's prescreen: sets of literals the prefilter requires one of, so a
// value missing a set is one MayMatch rejects and the regexp cannot match.
// Without such sets the prescreen still runs MayMatch value by value,
// unless there is no prefilter at all.
func (o *rx) ScreenLiterals() ([][]string, bool) {
	if o.filter == nil {
		return nil, false
	}
	return o.filter.LiteralSets(), true
}

// PureOperator implements plugintypes.OperatorPure: the result depends on
// the value alone, and the only write is TX.0-TX.8 while the transaction
// captures, which it does not for the rules the engine evaluates ahead
// (those without capture).
func (*rx) PureOperator() {}

// MayMatch implements plugintypes.OperatorPrefilter: false only when the
// regexp does not match value.
func (o *rx) MayMatch(value string) bool {
	if o.dfa != nil {
		if m, ok := o.dfa.Match(value); ok {
			return m
		}
	}
	return o.mayMatch(value, o.start != nil && strings.IndexByte(value, '\n') < 0)
}

// mayMatch is MayMatch told whether value holds no newline (oneLine; may
// be false when there is no split to use it).
func (o *rx) mayMatch(value string, oneLine bool) bool {
	if o.filter != nil && !o.filter.MayMatch(value) {
		return false
	}
	return !oneLine || o.start == nil || o.start.mayMatch(value)
}

// binaryRx is Coraza's @rx for patterns matching arbitrary bytes: the
// pattern as written (no added flags), no prefilter, but literals for the
// prescreen (binaryLiterals); immutable and shared, as rx.
type binaryRx struct {
	re   *binaryregexp.Regexp
	lits []string
}

func newBinaryRx(options plugintypes.OperatorOptions) (plugintypes.Operator, error) {
	data := options.Arguments
	c, err := memoizeDo(options.Memoizer, "rampart-binrx:"+data, func() (any, error) {
		re, err := binaryregexp.Compile(data)
		if err != nil {
			return nil, err
		}
		c := &binaryRx{re: re}
		// binaryregexp.Compile parses with syntax.Perl: the same tree.
		if parsed, err := bsyntax.Parse(data, bsyntax.Perl); err == nil {
			c.lits = binaryLiterals(parsed)
		}
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	return c.(*binaryRx), nil
}

// ScreenLiterals implements plugintypes.OperatorScreener for the vendored
// Coraza's prescreen.
func (o *binaryRx) ScreenLiterals() ([][]string, bool) {
	return [][]string{o.lits}, o.lits != nil
}

// binaryLiterals returns byte strings, ASCII letters lower-cased, one of
// which every match of re contains; nil when it cannot tell. A
// binaryregexp rune is one byte of input. It is rxprefilter's analysis cut
// down to what the few CRS patterns that take this path need: a
// concatenation needs each of its parts (the most selective is kept), an
// alternation one of its branches, a repetition at least once its body.
func binaryLiterals(re *bsyntax.Regexp) []string {
	switch re.Op {
	case bsyntax.OpLiteral:
		b := make([]byte, 0, len(re.Rune))
		for _, r := range re.Rune {
			if r > 0xff || (r >= 0x80 && re.Flags&bsyntax.FoldCase != 0) {
				return nil // a byte whose case variants are not ASCII's
			}
			b = append(b, lowerByte(byte(r)))
		}
		if len(b) == 0 {
			return nil
		}
		return []string{string(b)}
	case bsyntax.OpCharClass:
		var out []string
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			if hi > 0xff || hi-lo >= 4 || len(out) >= 4 {
				return nil
			}
			for r := lo; r <= hi; r++ {
				out = append(out, string([]byte{lowerByte(byte(r))}))
			}
		}
		if len(out) == 0 || len(out) > 4 {
			return nil
		}
		slices.Sort(out)
		return slices.Compact(out)
	case bsyntax.OpCapture, bsyntax.OpPlus:
		return binaryLiterals(re.Sub[0])
	case bsyntax.OpRepeat:
		if re.Min >= 1 {
			return binaryLiterals(re.Sub[0])
		}
	case bsyntax.OpConcat:
		var best []string
		for _, sub := range re.Sub {
			if l := binaryLiterals(sub); l != nil && (best == nil || shorterOrFewer(best, l)) {
				best = l
			}
		}
		return best
	case bsyntax.OpAlternate:
		var out []string
		for _, sub := range re.Sub {
			l := binaryLiterals(sub)
			if l == nil {
				return nil
			}
			out = append(out, l...)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	return nil
}

// shorterOrFewer reports whether b is a more selective literal set than a:
// its shortest literal is longer, or as long and it has fewer.
func shorterOrFewer(a, b []string) bool {
	ma, mb := len(slices.MinFunc(a, byLen)), len(slices.MinFunc(b, byLen))
	if ma != mb {
		return mb > ma
	}
	return len(b) < len(a)
}

func byLen(x, y string) int { return len(x) - len(y) }

func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func (o *binaryRx) Evaluate(tx plugintypes.TransactionState, value string) bool {
	if !tx.Capturing() {
		return o.re.MatchString(value)
	}
	match := o.re.FindStringSubmatch(value)
	if len(match) == 0 {
		return false
	}
	for i, c := range match {
		if i == 9 {
			return true
		}
		tx.CaptureField(i, c)
	}
	return true
}

func memoizeDo(m plugintypes.Memoizer, key string, fn func() (any, error)) (any, error) {
	if m != nil {
		return m.Do(key, fn)
	}
	return fn()
}

// matchesArbitraryBytes reports whether the pattern's \xNN escapes spell
// bytes that are not UTF-8 (copied from Coraza v3.8.1, Apache-2.0, so that
// the same patterns take the binary path).
func matchesArbitraryBytes(expr string) bool {
	decoded := make([]byte, 0, len(expr))
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		if c != '\\' {
			decoded = append(decoded, c)
			continue
		}
		if i+3 >= len(expr) {
			decoded = append(decoded, expr[i:]...)
			break
		}
		if expr[i+1] != 'x' {
			decoded = append(decoded, expr[i])
			continue
		}
		sub := expr[i:]
		advance := 3
		if len(sub) >= 6 && sub[2] == '{' {
			if end := strings.IndexByte(sub, '}'); end != -1 {
				sub = `\x` + sub[3:end]
				advance = end
			}
		}
		v, mb, _, err := strconv.UnquoteChar(sub, 0)
		if err != nil || mb {
			decoded = append(decoded, expr[i])
			continue
		}
		decoded = append(decoded, byte(v))
		i += advance
	}
	return !utf8.Valid(decoded)
}
