// Copyright 2026 Rampart contributors
// SPDX-License-Identifier: Apache-2.0

package collections

import (
	"slices"
	"testing"

	"github.com/corazawaf/coraza/v3/collection"
	"github.com/corazawaf/coraza/v3/internal/corazarules"
	"github.com/corazawaf/coraza/v3/types/variables"
)

// TestAppendValues: every ValueAppender lists the values of FindAll.
func TestAppendValues(t *testing.T) {
	get := NewNamedCollection(variables.ArgsGet)
	post := NewNamedCollection(variables.ArgsPost)
	get.Add("id", "42")
	get.Add("q", "blue widgets")
	get.Add("Q", "again")
	post.Add("json.0.id", "1")
	post.Add("json.0.tag", "red")
	post.Add("json.0.tag", "blue")
	single := NewSingle(variables.RequestURI)
	single.Set("/a?b=c")
	for _, c := range []collection.Collection{
		get, post, get.Names(variables.ArgsGetNames), single,
		NewConcatKeyed(variables.Args, get, post),
		NewConcatCollection(variables.ArgsNames, get.Names(variables.ArgsGetNames), post.Names(variables.ArgsPostNames)),
		NewMap(variables.TX),
	} {
		var want []string
		for _, md := range c.FindAll() {
			want = append(want, md.Value())
		}
		got := c.(ValueAppender).AppendValues(nil)
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: AppendValues %q, FindAll %q", c.Name(), got, want)
		}
	}
}

// TestFindStringInto: a key with one value gives FindString's match, other
// keys their count.
func TestFindStringInto(t *testing.T) {
	m := NewNamedCollection(variables.RequestHeaders)
	m.Add("Accept", "*/*")
	m.Add("X-Two", "a")
	m.Add("X-Two", "b")
	var md corazarules.MatchData
	for _, key := range []string{"accept", "ACCEPT", "x-two", "absent"} {
		want := m.FindString(key)
		n := m.FindStringInto(key, &md)
		if n != len(want) {
			t.Fatalf("%s: %d values, FindString %d", key, n, len(want))
		}
		if n == 1 && (md.Variable() != want[0].Variable() || md.Key() != want[0].Key() || md.Value() != want[0].Value()) {
			t.Errorf("%s: %+v, FindString %+v", key, md, want[0])
		}
	}
	s := NewSingle(variables.RequestMethod)
	s.Set("GET")
	s.MatchInto(&md)
	if want := s.FindAll()[0]; md.Variable() != want.Variable() || md.Value() != want.Value() || md.Key() != "" {
		t.Errorf("MatchInto %+v, FindAll %+v", md, want)
	}
}
