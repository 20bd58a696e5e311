// Copyright 2026 Rampart contributors
// SPDX-License-Identifier: Apache-2.0

// Package litscan finds, in one pass over a string, which owners have one
// of their literals in it, comparing ASCII letters case-insensitively: an
// Aho–Corasick automaton whose every state knows the owners of all the
// literals ending there (its own and those of its suffix links).
package litscan

import (
	"math"
	"slices"
	"unsafe"
)

// Set is an immutable automaton over the literals of its owners; it is
// safe for concurrent use.
//
// States are numbered breadth first, so the shallow states a scan spends
// most of its time in are the first ones. The first `dense` states have a
// full transition table (suffix links resolved) over byte classes: one
// class per byte that occurs in a literal, class 0 for every other byte,
// which always leads back to the root. Deeper states keep their sorted
// edges and suffix link; following links from them soon reaches a dense
// state.
type Set struct {
	class    [256]uint8 // lower-cased byte -> class; 0: in no literal
	rawClass [256]uint8 // byte -> its lower-cased form's class
	classes  int
	// A state's row is its number shifted left by shift: rows are 1<<shift
	// entries apart, at least one per class (a power of two, so that a
	// scan neither multiplies to find a row nor divides to find a state).
	shift uint
	dense int32
	// delta[s<<shift+c] is dense state s's next state on class c, n, as
	// n<<shift<<1 | 1 when n names owners, n<<shift<<1 otherwise: a scan
	// goes on from the row without computing it and tests the bit instead
	// of loading n's state.
	delta  []int32
	states []state
	edges  []edge
	outs   []outWord
	owners int
	// maxLen is the longest literal's length; a value of at least
	// splitMin bytes, and four times maxLen, is scanned as two halves at
	// once (scanPair).
	maxLen, splitMin int
}

// outWord is one word of a state's owners bitset: the bits mask of
// found[w]. A state's owners are kept a word at a time, so that a state
// naming several owners of one word sets them with one OR.
type outWord struct {
	w int32
	m uint64
}

// state is a deep state's edges and suffix link, and any state's owners
// (outs[outLo:outLo+nOuts], words in increasing order).
type state struct {
	edgeLo, fail, outLo, nOuts int32
	nEdges                     uint16 // at most one per class
}

type edge struct {
	b    byte
	next int32
}

// maxDenseEntries bounds the dense table (4 bytes an entry).
const maxDenseEntries = 1 << 16

// defaultSplitMin is the shortest value scanned as two halves at once.
const defaultSplitMin = 128

var lower = func() (t [256]byte) {
	for i := range t {
		c := byte(i)
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		t[i] = c
	}
	return t
}()

// New builds the set; literals[i] are owner i's literals. Empty literals
// are ignored.
func New(literals [][]string) *Set { return newSet(literals, maxDenseEntries) }

// newSet is New with a bound on the dense table's entries (tests make it
// small so that scans cross deep states).
func newSet(literals [][]string, maxDense int) *Set {
	type trieState struct {
		next   map[byte]int32
		owners []int32
	}
	states := []trieState{{next: map[byte]int32{}}}
	m := &Set{owners: len(literals), splitMin: defaultSplitMin}
	for owner, lits := range literals {
		for _, lit := range lits {
			if lit == "" {
				continue
			}
			m.maxLen = max(m.maxLen, len(lit))
			s := int32(0)
			for i := 0; i < len(lit); i++ {
				c := lower[lit[i]]
				if m.class[c] == 0 {
					m.classes++
					m.class[c] = uint8(m.classes) // at most 230: no upper-case letters
				}
				n, ok := states[s].next[c]
				if !ok {
					n = int32(len(states))
					states = append(states, trieState{next: map[byte]int32{}})
					states[s].next[c] = n
				}
				s = n
			}
			states[s].owners = append(states[s].owners, int32(owner))
		}
	}
	m.classes++ // class 0
	// Breadth first: a state's suffix link is shallower, so its owners
	// are final when the state's are computed; the order numbers states.
	fail := make([]int32, len(states))
	order := make([]int32, 0, len(states))
	order = append(order, 0)
	for q := 0; q < len(order); q++ {
		s := order[q]
		f := fail[s]
		if s != 0 {
			states[s].owners = append(states[s].owners, states[f].owners...)
			slices.Sort(states[s].owners)
			states[s].owners = slices.Compact(states[s].owners)
		}
		keys := make([]byte, 0, len(states[s].next))
		for c := range states[s].next {
			keys = append(keys, c)
		}
		slices.Sort(keys)
		for _, c := range keys {
			n := states[s].next[c]
			order = append(order, n)
			if s == 0 {
				continue // fail[n] stays 0
			}
			// n's suffix link: the longest proper suffix of its string
			// that is a state.
			g := f
			for {
				if t, ok := states[g].next[c]; ok {
					fail[n] = t
					break
				}
				if g == 0 {
					break // fail[n] stays 0
				}
				g = fail[g]
			}
		}
	}
	num := make([]int32, len(states)) // old number -> breadth-first number
	for i, s := range order {
		num[s] = int32(i)
	}
	m.states = make([]state, len(states))
	for i, s := range order {
		st := &m.states[i]
		st.fail = num[fail[s]]
		st.edgeLo = int32(len(m.edges))
		keys := make([]byte, 0, len(states[s].next))
		for c := range states[s].next {
			keys = append(keys, c)
		}
		slices.Sort(keys)
		for _, c := range keys {
			m.edges = append(m.edges, edge{b: c, next: num[states[s].next[c]]})
		}
		st.nEdges = uint16(len(keys))
		st.outLo = int32(len(m.outs))
		for _, o := range states[s].owners { // sorted: a word's owners are adjacent
			if n := len(m.outs); n > int(st.outLo) && m.outs[n-1].w == o>>6 {
				m.outs[n-1].m |= 1 << (o & 63)
			} else {
				m.outs = append(m.outs, outWord{w: o >> 6, m: 1 << (o & 63)})
			}
		}
		st.nOuts = int32(len(m.outs)) - st.outLo
	}
	// The dense table, breadth first: a state's suffix link is a smaller
	// number, so its row is complete when the state's is made.
	for 1<<m.shift < m.classes {
		m.shift++
	}
	if uint64(len(states))<<(m.shift+1) > math.MaxInt32 {
		panic("litscan: too many states for the row encoding")
	}
	// As many dense states as maxDense entries of classes make (a row
	// takes up to twice that, rounded up to a power of two).
	m.dense = int32(max(1, min(len(states), maxDense/m.classes)))
	m.delta = make([]int32, int(m.dense)<<m.shift)
	var byClass [256]byte // a class's byte
	for c := 0; c < 256; c++ {
		if cl := m.class[c]; cl != 0 {
			byClass[cl] = byte(c)
		}
	}
	for c := range m.rawClass {
		m.rawClass[c] = m.class[lower[c]]
	}
	for s := int32(0); s < m.dense; s++ {
		row := m.delta[int(s)<<m.shift : int(s+1)<<m.shift]
		st := &m.states[s]
		for cl := 1; cl < m.classes; cl++ {
			if n, ok := m.edge(st, byClass[cl]); ok {
				row[cl] = m.entry(n)
			} else if s != 0 {
				row[cl] = m.delta[int(st.fail)<<m.shift+cl]
			}
		}
	}
	return m
}

// edge returns st's transition on c, if it has one.
func (m *Set) edge(st *state, c byte) (int32, bool) {
	es := m.edges[st.edgeLo : st.edgeLo+int32(st.nEdges)]
	if len(es) > 8 {
		i, ok := slices.BinarySearchFunc(es, c, func(e edge, c byte) int { return int(e.b) - int(c) })
		if ok {
			return es[i].next, true
		}
		return 0, false
	}
	for _, e := range es {
		if e.b == c {
			return e.next, true
		}
	}
	return 0, false
}

// Words is how many uint64 a ScanBits bitset needs.
func (m *Set) Words() int { return (m.owners + 63) / 64 }

// ScanBits sets, in found (Words() long, cleared by the caller), the bit
// of every owner with a literal in s: bit o%64 of found[o/64].
func (m *Set) ScanBits(s string, found []uint64) {
	if len(s) >= m.splitMin && len(s) >= 4*m.maxLen {
		m.scanPair(s, found)
		return
	}
	m.walk(s, 0, found)
}

// walk steps over s from the state whose row is row (the root's is 0),
// setting in found the owners of every state it enters.
func (m *Set) walk(s string, row uint32, found []uint64) {
	shift := m.shift
	limit := uint32(m.dense) << shift
	delta := unsafe.Pointer(unsafe.SliceData(m.delta))
	for i := 0; i < len(s); i++ {
		cl := uint32(m.rawClass[s[i]])
		var d int32
		if row < limit {
			// In bounds: row+cl is in a dense row (cl < classes <=
			// 1<<shift). Class 0 leads every dense state to the root.
			d = *(*int32)(unsafe.Add(delta, uintptr(row+cl)*4))
		} else {
			d = m.entry(m.deepNext(int32(row>>shift), lower[s[i]], int32(cl)))
		}
		row = uint32(d) >> 1
		if d&1 != 0 {
			m.mark(row>>shift, found)
		}
	}
}

// scanPair is ScanBits for a long value: it walks two halves of s at
// once, each from the root, so that the two chains of dependent table
// look-ups overlap in the CPU (one walk waits on each load before the
// next). The first half runs maxLen-1 bytes past where the second begins:
// an occurrence starting in the first half ends within it, one starting
// later lies in the second, and a walk from the root finds every
// occurrence inside what it walks.
func (m *Set) scanPair(s string, found []uint64) {
	mid := (len(s) - m.maxLen + 1) / 2
	a, b := s[:mid+m.maxLen-1], s[mid:] // len(b) is len(a) or one more
	shift := m.shift
	limit := uint32(m.dense) << shift
	delta := unsafe.Pointer(unsafe.SliceData(m.delta))
	ra, rb := uint32(0), uint32(0)
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		cla, clb := uint32(m.rawClass[ca]), uint32(m.rawClass[cb])
		var da, db int32
		if ra < limit {
			da = *(*int32)(unsafe.Add(delta, uintptr(ra+cla)*4))
		} else {
			da = m.entry(m.deepNext(int32(ra>>shift), lower[ca], int32(cla)))
		}
		if rb < limit {
			db = *(*int32)(unsafe.Add(delta, uintptr(rb+clb)*4))
		} else {
			db = m.entry(m.deepNext(int32(rb>>shift), lower[cb], int32(clb)))
		}
		ra, rb = uint32(da)>>1, uint32(db)>>1
		if da&1 != 0 {
			m.mark(ra>>shift, found)
		}
		if db&1 != 0 {
			m.mark(rb>>shift, found)
		}
	}
	m.walk(b[len(a):], rb, found) // the byte b has beyond a, if any
}

// mark sets the bits of state st's owners in found.
func (m *Set) mark(st uint32, found []uint64) {
	o := &m.states[st]
	for _, o := range m.outs[o.outLo : o.outLo+o.nOuts] {
		found[o.w] |= o.m
	}
}

// entry is the delta entry of a move to state n.
func (m *Set) entry(n int32) int32 {
	e := n << m.shift << 1
	if m.states[n].nOuts != 0 {
		e |= 1
	}
	return e
}

// deepNext is the next state after deep state st on byte c (lower case)
// of class cl: its edge, else its suffix link's, until a dense state's
// row answers.
func (m *Set) deepNext(st int32, c byte, cl int32) int32 {
	for st >= m.dense {
		if n, ok := m.edge(&m.states[st], c); ok {
			return n
		}
		st = m.states[st].fail
	}
	return int32(uint32(m.delta[int(st)<<m.shift+int(cl)]) >> 1 >> m.shift)
}
