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
// which is process-wide. Every path that builds a Coraza WAF calls it first.
func registerOperators() {
	registerOnce.Do(func() { plugins.RegisterOperator("rx", newRx) })
}

type rx struct {
	re     *regexp.Regexp
	filter *rxprefilter.Filter
}

type rxCompiled struct {
	re     *regexp.Regexp
	filter *rxprefilter.Filter
}

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
		c := &rxCompiled{re: re}
		// regexp.Compile parses with syntax.Perl: the same tree.
		if parsed, err := syntax.Parse(data, syntax.Perl); err == nil {
			if f := rxprefilter.New(parsed); !f.Trivial() {
				c.filter = f
			}
		}
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	rc := c.(*rxCompiled)
	return &rx{re: rc.re, filter: rc.filter}, nil
}

func (o *rx) Evaluate(tx plugintypes.TransactionState, value string) bool {
	if o.filter != nil && !o.filter.MayMatch(value) {
		return false
	}
	if !tx.Capturing() {
		return o.re.MatchString(value)
	}
	// As Coraza: groups 0-8 become TX.0-TX.8; a group that did not take
	// part is set to "".
	match := o.re.FindStringSubmatchIndex(value)
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

// MayMatch implements plugintypes.OperatorPrefilter: false only when the
// regexp does not match value.
func (o *rx) MayMatch(value string) bool {
	return o.filter.MayMatch(value)
}

// binaryRx is Coraza's @rx for patterns matching arbitrary bytes: the
// pattern as written (no added flags), no prefilter, but literals for the
// prescreen (binaryLiterals).
type binaryRx struct {
	re   *binaryregexp.Regexp
	lits []string
}

type binaryRxCompiled struct {
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
		c := &binaryRxCompiled{re: re}
		// binaryregexp.Compile parses with syntax.Perl: the same tree.
		if parsed, err := bsyntax.Parse(data, bsyntax.Perl); err == nil {
			c.lits = binaryLiterals(parsed)
		}
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	bc := c.(*binaryRxCompiled)
	return &binaryRx{re: bc.re, lits: bc.lits}, nil
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
