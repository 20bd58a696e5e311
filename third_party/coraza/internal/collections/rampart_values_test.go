// Copyright 2026 Rampart contributors
// SPDX-License-Identifier: Apache-2.0

package collections

import (
	"slices"
	"testing"

	"github.com/corazawaf/coraza/v3/collection"
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
