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
// empty, and the (lower-cased) bytes a non-empty one can start and end
// with; known is false when those are not bounded.
type ends struct {
	nullable    bool
	known       bool
	first, last byteSet
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
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText,
		syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return ends{nullable: true, known: true}
	case syntax.OpNoMatch:
		return ends{known: true}
	case syntax.OpLiteral:
		if len(re.Rune) == 0 {
			return ends{nullable: true, known: true}
		}
		first, ok1 := asciiByte(re.Rune[0])
		last, ok2 := asciiByte(re.Rune[len(re.Rune)-1])
		if !ok1 || !ok2 {
			return ends{}
		}
		var e ends
		e.known = true
		e.first.add(first)
		e.last.add(last)
		return e
	case syntax.OpCharClass:
		var e ends
		e.known = true
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			if hi >= utf8.RuneSelf {
				return ends{}
			}
			for r := lo; r <= hi; r++ {
				c, _ := asciiByte(r)
				e.first.add(c)
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
		out := ends{known: true}
		for _, sub := range re.Sub {
			e := endsOf(sub)
			if !e.known {
				return ends{}
			}
			out.nullable = out.nullable || e.nullable
			out.first.union(&e.first)
			out.last.union(&e.last)
		}
		return out
	case syntax.OpConcat:
		out := ends{known: true, nullable: true}
		subs := make([]ends, len(re.Sub))
		for i, sub := range re.Sub {
			subs[i] = endsOf(sub)
			if !subs[i].known {
				return ends{}
			}
		}
		for _, e := range subs { // first: up to the first piece that cannot be empty
			out.first.union(&e.first)
			if !e.nullable {
				out.nullable = false
				break
			}
		}
		for i := len(subs) - 1; i >= 0; i-- {
			out.last.union(&subs[i].last)
			if !subs[i].nullable {
				break
			}
		}
		return out
	}
	// OpAnyChar, OpAnyCharNotNL and anything new: unbounded.
	return ends{}
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
		p := p
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
			if !a.known || a.nullable {
				continue
			}
			// The byte after a's match starts the next piece that is not
			// empty: any of the following pieces up to the first that
			// cannot be empty. None (all may be empty): no pair.
			var y byteSet
			closed := false
			for _, b := range subs[i+1:] {
				if !b.known {
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
