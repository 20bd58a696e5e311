// Copyright 2026 Rampart contributors
// SPDX-License-Identifier: Apache-2.0

package collections

import (
	"github.com/corazawaf/coraza/v3/collection"
	"github.com/corazawaf/coraza/v3/internal/corazarules"
)

// ValueAppender is implemented by the collections that can list their
// values without building a MatchData for each (Rampart fork: the
// prescreen reads every value of a variable, and only the values).
// AppendValues appends the values FindAll would return, in no particular
// order.
type ValueAppender interface {
	AppendValues(dst []string) []string
}

// AppendValues implements ValueAppender.
func (c *Map) AppendValues(dst []string) []string {
	for _, data := range c.data {
		for _, d := range data {
			dst = append(dst, d.value)
		}
	}
	return dst
}

// AppendValues implements ValueAppender: the names are the values.
func (c *NamedCollectionNames) AppendValues(dst []string) []string {
	for _, data := range c.collection.data {
		for _, d := range data {
			dst = append(dst, d.key)
		}
	}
	return dst
}

// AppendValues implements ValueAppender.
func (c *Single) AppendValues(dst []string) []string { return append(dst, c.data) }

// AppendValues implements ValueAppender.
func (c *ConcatKeyed) AppendValues(dst []string) []string {
	for _, d := range c.data {
		dst = appendValues(dst, d)
	}
	return dst
}

// AppendValues implements ValueAppender.
func (c *ConcatCollection) AppendValues(dst []string) []string {
	for _, d := range c.data {
		dst = appendValues(dst, d)
	}
	return dst
}

func appendValues(dst []string, c collection.Collection) []string {
	if a, ok := c.(ValueAppender); ok {
		return a.AppendValues(dst)
	}
	for _, md := range c.FindAll() {
		dst = append(dst, md.Value())
	}
	return dst
}

// FindStringInto is FindString for a key with at most one value, without
// allocating (Rampart fork: the CRS reads a TX variable in almost every
// rule). It returns how many values the key has and, when that is one,
// sets md to the match FindString would return; for more, the caller
// uses FindString.
func (c *Map) FindStringInto(key string, md *corazarules.MatchData) int {
	if key == "" || len(c.data) == 0 {
		if key == "" {
			return -1 // FindAll's business
		}
		return 0
	}
	e, _, _ := c.lookup(key)
	if len(e) == 1 {
		*md = corazarules.MatchData{Variable_: c.variable, Key_: e[0].key, Value_: e[0].value}
	}
	return len(e)
}

// MatchInto sets md to the match FindAll returns (Rampart fork).
func (c *Single) MatchInto(md *corazarules.MatchData) {
	*md = corazarules.MatchData{Variable_: c.variable, Value_: c.data}
}
