package waf

import (
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/corazawaf/coraza/v3/experimental/plugins"
	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
	"rsc.io/binaryregexp"

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

// binaryRx is Coraza's @rx for patterns matching arbitrary bytes: the
// pattern as written (no added flags), no prefilter.
type binaryRx struct {
	re *binaryregexp.Regexp
}

func newBinaryRx(options plugintypes.OperatorOptions) (plugintypes.Operator, error) {
	data := options.Arguments
	re, err := memoizeDo(options.Memoizer, data, func() (any, error) { return binaryregexp.Compile(data) })
	if err != nil {
		return nil, err
	}
	return &binaryRx{re: re.(*binaryregexp.Regexp)}, nil
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
