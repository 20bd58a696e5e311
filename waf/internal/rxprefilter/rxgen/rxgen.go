// Package rxgen writes random strings that a regular expression is likely
// to match, for soundness tests of prefilters.
package rxgen

import (
	"math/rand/v2"
	"regexp/syntax"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Generate writes a random string that the expression is likely to match
// (anchors and word boundaries are not honoured; callers check).
func Generate(re *syntax.Regexp, rnd *rand.Rand, b *strings.Builder) {
	if b.Len() > 4096 {
		return // nested repeats: enough
	}
	switch re.Op {
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			if re.Flags&syntax.FoldCase != 0 {
				var orbit []rune
				for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
					orbit = append(orbit, f)
				}
				if len(orbit) > 0 && rnd.IntN(2) == 0 {
					r = orbit[rnd.IntN(len(orbit))]
				}
			}
			if r == utf8.RuneError && rnd.IntN(2) == 0 {
				b.WriteByte(0xff)
				continue
			}
			b.WriteRune(r)
		}
	case syntax.OpCharClass:
		if len(re.Rune) == 0 {
			return
		}
		i := rnd.IntN(len(re.Rune)/2) * 2
		lo, hi := re.Rune[i], re.Rune[i+1]
		r := lo
		if hi > lo {
			r = lo + rnd.Int32N(min(hi-lo+1, 1<<16))
		}
		if r == utf8.RuneError || (lo <= utf8.RuneError && utf8.RuneError <= hi && rnd.IntN(4) == 0) {
			b.WriteByte(0x80 + byte(rnd.IntN(0x40)))
			return
		}
		b.WriteRune(r)
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		pool := []string{"a", "Z", " ", "\t", "\xff", "é", "\u212a", "\u017f", "<", "(", "'", "0", "\x00"}
		if re.Op == syntax.OpAnyChar {
			pool = append(pool, "\n")
		}
		b.WriteString(pool[rnd.IntN(len(pool))])
	case syntax.OpCapture:
		Generate(re.Sub[0], rnd, b)
	case syntax.OpConcat:
		for _, s := range re.Sub {
			Generate(s, rnd, b)
		}
	case syntax.OpAlternate:
		Generate(re.Sub[rnd.IntN(len(re.Sub))], rnd, b)
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		lo, hi := 0, 3
		switch re.Op {
		case syntax.OpPlus:
			lo = 1
		case syntax.OpQuest:
			hi = 1
		case syntax.OpRepeat:
			lo, hi = re.Min, re.Max
			if hi < 0 || hi > lo+3 {
				hi = lo + 3
			}
		}
		for range lo + rnd.IntN(hi-lo+1) {
			Generate(re.Sub[0], rnd, b)
		}
	}
}
