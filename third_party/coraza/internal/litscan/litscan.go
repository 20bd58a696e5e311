// Copyright 2026 Rampart contributors
// SPDX-License-Identifier: Apache-2.0

// Package litscan finds, in one pass over a string, which owners have one
// of their literals in it, comparing ASCII letters case-insensitively: an
// Aho–Corasick automaton whose every state knows the owners of all the
// literals ending there (its own and those of its suffix links).
package litscan

import "slices"

// Set is an immutable automaton over the literals of its owners; it is
// safe for concurrent use.
type Set struct {
	root      [256]int32 // the root's transitions (0: stay at the root)
	edgeStart []int32    // state s's edges are [edgeStart[s], edgeStart[s+1])
	edgeByte  []byte
	edgeNext  []int32
	fail      []int32
	outStart  []int32 // state s's owners are outs[outStart[s]:outStart[s+1]]
	outs      []int32
	owners    int
}

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
func New(literals [][]string) *Set {
	type state struct {
		next   map[byte]int32
		owners []int32
	}
	states := []state{{next: map[byte]int32{}}}
	for owner, lits := range literals {
		for _, lit := range lits {
			if lit == "" {
				continue
			}
			s := int32(0)
			for i := 0; i < len(lit); i++ {
				c := lower[lit[i]]
				n, ok := states[s].next[c]
				if !ok {
					n = int32(len(states))
					states = append(states, state{next: map[byte]int32{}})
					states[s].next[c] = n
				}
				s = n
			}
			states[s].owners = append(states[s].owners, int32(owner))
		}
	}
	m := &Set{owners: len(literals), fail: make([]int32, len(states))}
	// Breadth first: a state's suffix link is shallower, so its owners
	// are final when the state's are computed.
	queue := make([]int32, 0, len(states))
	for c, n := range states[0].next {
		m.root[c] = n
		queue = append(queue, n)
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		f := m.fail[s]
		states[s].owners = append(states[s].owners, states[f].owners...)
		slices.Sort(states[s].owners)
		states[s].owners = slices.Compact(states[s].owners)
		for c, n := range states[s].next {
			queue = append(queue, n)
			// n's suffix link: the longest proper suffix of its string
			// that is a state.
			g := f
			for {
				if t, ok := states[g].next[c]; ok && t != n {
					m.fail[n] = t
					break
				}
				if g == 0 {
					break // m.fail[n] stays 0
				}
				g = m.fail[g]
			}
		}
	}
	m.edgeStart = make([]int32, len(states)+1)
	m.outStart = make([]int32, len(states)+1)
	for s := range states {
		m.edgeStart[s] = int32(len(m.edgeByte))
		keys := make([]byte, 0, len(states[s].next))
		for c := range states[s].next {
			keys = append(keys, c)
		}
		slices.Sort(keys)
		for _, c := range keys {
			m.edgeByte = append(m.edgeByte, c)
			m.edgeNext = append(m.edgeNext, states[s].next[c])
		}
		m.outStart[s] = int32(len(m.outs))
		m.outs = append(m.outs, states[s].owners...)
	}
	m.edgeStart[len(states)] = int32(len(m.edgeByte))
	m.outStart[len(states)] = int32(len(m.outs))
	return m
}

// Owners is how many owners the set was built for.
func (m *Set) Owners() int { return m.owners }

// Scan appends to out every owner with a literal in s, once: seen (at
// least Owners() long) records the owners found, as seen[o] == mark, so a
// fresh mark per call needs no clearing.
func (m *Set) Scan(s string, seen []uint32, mark uint32, out []int32) []int32 {
	st := int32(0)
	for i := 0; i < len(s); i++ {
		c := lower[s[i]]
		for {
			if st == 0 {
				st = m.root[c]
				break
			}
			next := int32(-1)
			for e := m.edgeStart[st]; e < m.edgeStart[st+1]; e++ {
				if m.edgeByte[e] == c {
					next = m.edgeNext[e]
					break
				}
			}
			if next >= 0 {
				st = next
				break
			}
			st = m.fail[st]
		}
		for _, o := range m.outs[m.outStart[st]:m.outStart[st+1]] {
			if seen[o] != mark {
				seen[o] = mark
				out = append(out, o)
			}
		}
	}
	return out
}
