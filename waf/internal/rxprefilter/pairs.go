package rxprefilter

import (
	"math/bits"
	"regexp/syntax"
	"slices"
	"strings"
	"unicode/utf8"
)

// Adjacent-byte conditions. A literal condition does not say where its
// literals are: (?:/|\\)(?:\.|\?){2,3}(?:/|\\) (the CRS's path traversal,
// much simplified) needs "/" and "?" somewhere, which nearly every URI
// has. What it needs is a slash directly followed by a dot or a question
// mark. requiredPairs derives such conditions from the concatenations
// every match goes through: for two adjacent pieces that cannot match
// empty, the last byte of the first piece's match is directly followed by
// the first byte of the second's. Bytes are compared lower-cased, as the
// atoms are; a piece whose first or last byte cannot be bounded (a rune
// outside ASCII, any character, a large negated class) gives no pair.

// maxPairs bounds the pairs one filter checks (each is a pass over the
// input), keeping the most selective.
const maxPairs = 4

// maxPairBytes bounds the bytes of each side of a pair: a side holding
// more than this says too little to be worth a pass.
const maxPairBytes = 48

// ends is what is known of a sub-expression's matches: whether one can be
// empty (always known), and the (lower-cased) bytes a non-empty one can
// start and end with, when firstOK and lastOK say those are bounded.
type ends struct {
	nullable        bool
	firstOK, lastOK bool
	first, last     byteSet
}

// highBytes are the bytes of every rune outside ASCII, and of invalid
// UTF-8 (which Go's regexp matches as U+FFFD).
var highBytes = func() (b byteSet) {
	for c := 0x80; c < 0x100; c++ {
		b.add(byte(c))
	}
	return b
}()

// addRune adds what r can be to set: its lower-cased byte when ASCII,
// else any byte outside ASCII. KELVIN SIGN and LONG S, which folding
// regexps match as k and s, add nothing: MayMatch leaves an input holding
// one to the expression.
func (b *byteSet) addRune(r rune) {
	switch {
	case r == 0x212a || r == 0x17f:
	case r >= 0 && r < utf8.RuneSelf:
		c, _ := asciiByte(r)
		b.add(c)
	default:
		b.union(&highBytes)
	}
}

func (b *byteSet) count() int {
	return bits.OnesCount64(b[0]) + bits.OnesCount64(b[1]) + bits.OnesCount64(b[2]) + bits.OnesCount64(b[3])
}

// String lists the set's bytes, for tests and debugging.
func (b *byteSet) String() string {
	var sb strings.Builder
	sb.WriteByte('[')
	for c := 0; c < 256; c++ {
		if b[c>>6]&(1<<(c&63)) != 0 {
			if c < 0x20 || c >= 0x7f || c == '\\' || c == ']' {
				sb.WriteString(`\x`)
				sb.WriteByte("0123456789abcdef"[c>>4])
				sb.WriteByte("0123456789abcdef"[c&15])
			} else {
				sb.WriteByte(byte(c))
			}
		}
	}
	sb.WriteByte(']')
	return sb.String()
}

// endsOf computes ends for re.
func endsOf(re *syntax.Regexp) ends {
	known := func(nullable bool) ends { return ends{nullable: nullable, firstOK: true, lastOK: true} }
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText,
		syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return known(true)
	case syntax.OpNoMatch:
		return known(false)
	case syntax.OpLiteral:
		if len(re.Rune) == 0 {
			return known(true)
		}
		e := known(false)
		e.first.addRune(re.Rune[0])
		e.last.addRune(re.Rune[len(re.Rune)-1])
		return e
	case syntax.OpCharClass:
		e := known(false)
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			for r := lo; r <= hi && r < utf8.RuneSelf; r++ {
				e.first.addRune(r)
			}
			if hi >= utf8.RuneSelf {
				// The part outside ASCII: a single rune adds what addRune
				// says, a range of them any byte outside ASCII.
				if high := max(lo, utf8.RuneSelf); high == hi {
					e.first.addRune(hi)
				} else {
					e.first.union(&highBytes)
				}
			}
		}
		e.last = e.first
		return e
	case syntax.OpCapture, syntax.OpPlus:
		return endsOf(re.Sub[0])
	case syntax.OpStar, syntax.OpQuest:
		e := endsOf(re.Sub[0])
		e.nullable = true
		return e
	case syntax.OpRepeat:
		e := endsOf(re.Sub[0])
		if re.Min == 0 || re.Max == 0 {
			e.nullable = true
		}
		return e
	case syntax.OpAlternate:
		out := known(false)
		for _, sub := range re.Sub {
			e := endsOf(sub)
			out.nullable = out.nullable || e.nullable
			out.firstOK = out.firstOK && e.firstOK
			out.lastOK = out.lastOK && e.lastOK
			out.first.union(&e.first)
			out.last.union(&e.last)
		}
		return out
	case syntax.OpConcat:
		subs := make([]ends, len(re.Sub))
		out := known(true)
		for i, sub := range re.Sub {
			subs[i] = endsOf(sub)
			out.nullable = out.nullable && subs[i].nullable
		}
		// first: the pieces up to the first that cannot be empty; last:
		// from the last that cannot be empty.
		for _, e := range subs {
			out.firstOK = out.firstOK && e.firstOK
			out.first.union(&e.first)
			if !e.nullable {
				break
			}
		}
		for i := len(subs) - 1; i >= 0; i-- {
			out.lastOK = out.lastOK && subs[i].lastOK
			out.last.union(&subs[i].last)
			if !subs[i].nullable {
				break
			}
		}
		return out
	}
	// OpAnyChar, OpAnyCharNotNL: one character, any; anything new:
	// unbounded and, to be safe, possibly empty.
	return ends{nullable: re.Op != syntax.OpAnyChar && re.Op != syntax.OpAnyCharNotNL}
}

// asciiByte is r lower-cased, when r is ASCII. Under case folding the
// ASCII letters k and s also match KELVIN SIGN and LONG S, which MayMatch
// leaves to the expression whenever the input holds one.
func asciiByte(r rune) (byte, bool) {
	if r < 0 || r >= utf8.RuneSelf {
		return 0, false
	}
	c := byte(r)
	if 'A' <= c && c <= 'Z' {
		c += 'a' - 'A'
	}
	return c, true
}

// requiredPairs returns the pair conditions every match of re meets, the
// most selective first, at most maxPairs.
func requiredPairs(re *syntax.Regexp) []*node {
	var pairs []bytePair
	collectPairs(re, &pairs)
	slices.SortStableFunc(pairs, func(a, b bytePair) int {
		return a.x.count()*a.y.count() - b.x.count()*b.y.count()
	})
	var out []*node
	for _, p := range pairs {
		if len(out) == maxPairs {
			break
		}
		out = append(out, &node{op: opPair, pair: &p})
	}
	return out
}

// collectPairs adds the pairs of the concatenations on re's spine: those
// every match of re goes through (captures, concatenations, pluses and
// repeats of at least one; not alternatives or optional pieces).
func collectPairs(re *syntax.Regexp, out *[]bytePair) {
	switch re.Op {
	case syntax.OpCapture, syntax.OpPlus:
		collectPairs(re.Sub[0], out)
	case syntax.OpRepeat:
		if re.Min >= 1 {
			collectPairs(re.Sub[0], out)
		}
	case syntax.OpConcat:
		subs := make([]ends, len(re.Sub))
		for i, sub := range re.Sub {
			subs[i] = endsOf(sub)
			collectPairs(sub, out)
		}
		for i, a := range subs {
			if !a.lastOK || a.nullable {
				continue
			}
			// The byte after a's match starts the next piece that is not
			// empty: any of the following pieces up to the first that
			// cannot be empty. None (all may be empty): no pair.
			var y byteSet
			closed := false
			for _, b := range subs[i+1:] {
				if !b.firstOK {
					break
				}
				y.union(&b.first)
				if !b.nullable {
					closed = true
					break
				}
			}
			if !closed || a.last.count() > maxPairBytes || y.count() > maxPairBytes {
				continue
			}
			*out = append(*out, bytePair{x: a.last, y: y})
		}
	}
}

// Line-end conditions. The CRS's "command without arguments" rules end
// with an alternation of command names and $: (?:aptitude|df|...|w)$.
// Their literals are everywhere (w, df, ps), but a match ends where the
// value (a line) ends, so a value can only match a name it ends with: a
// branch of such an alternation also requires the value's last byte to be
// one its matches can end with (opLast).

// alternation returns re, or what a capture group holds, when it is an
// alternation; nil otherwise.
func alternation(re *syntax.Regexp) *syntax.Regexp {
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	if re.Op != syntax.OpAlternate {
		return nil
	}
	return re
}

// endsAtLineEnd reports whether rest, what follows a piece of a
// concatenation, matches only empty text at the end of a line: empty-width
// assertions of which one is $ (or \z).
func endsAtLineEnd(rest []*syntax.Regexp) bool {
	end := false
	for _, r := range rest {
		switch r.Op {
		case syntax.OpEndLine, syntax.OpEndText:
			end = true
		case syntax.OpEmptyMatch, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		default:
			return false
		}
	}
	return end
}

// alternateEnding is analyze of alt, an alternation that a match ends
// with at a line end: each branch that cannot match empty, and whose last
// byte is bounded, also requires the value to end with one of those bytes.
func alternateEnding(alt *syntax.Regexp) info {
	subs := make([]info, len(alt.Sub))
	for i, b := range alt.Sub {
		subs[i] = analyze(b)
		e := endsOf(b)
		if !e.lastOK || e.nullable || e.last.count() > maxPairBytes {
			continue
		}
		last := e.last
		subs[i] = info{cond: and(subs[i].match(), &node{op: opLast, last: &last})}
	}
	return alternate(subs)
}
