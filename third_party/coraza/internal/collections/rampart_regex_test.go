// Copyright 2026 The Rampart authors
// SPDX-License-Identifier: Apache-2.0

package collections

import (
	"fmt"
	"regexp"
	"slices"
	"testing"

	"github.com/corazawaf/coraza/v3/types"
	"github.com/corazawaf/coraza/v3/types/variables"
)

// TestFindRegexLiteral: with a literal every match contains,
// FindRegexLiteral returns what FindRegex does.
func TestFindRegexLiteral(t *testing.T) {
	m := NewMap(variables.TX)
	for i, k := range []string{"header_name_920450_host", "header_name_920450_accept", "x_header_name_920450_", "header_name_920450", "multipart_headers_content_types_0", "multipart_headers_content_types", "other"} {
		m.Add(k, fmt.Sprint("v", i))
		m.Add(k, fmt.Sprint("w", i))
	}
	show := func(mds []types.MatchData) []string {
		var l []string
		for _, md := range mds {
			l = append(l, md.Variable().Name()+":"+md.Key()+"="+md.Value())
		}
		slices.Sort(l)
		return l
	}
	for _, tc := range []struct {
		pat, lit      string
		prefix, whole bool
	}{
		{`^header_name_920450_`, "header_name_920450_", true, true},
		{`^header_name_920450_`, "header_name_920450_", true, false},
		{`^header_name_920450_`, "header_name_920450_", false, false},
		{`^header_name_920450_a`, "header_name_920450_", true, false},
		{`multipart_headers_content_types_*`, "multipart_headers_content_types", false, false},
		{`nothing`, "nothing", false, false},
	} {
		re := regexp.MustCompile(tc.pat)
		key := re
		if tc.whole {
			key = nil
		}
		got, want := show(m.FindRegexLiteral(key, tc.lit, tc.prefix)), show(m.FindRegex(re))
		if !slices.Equal(got, want) {
			t.Errorf("%+v: FindRegexLiteral %v, FindRegex %v", tc, got, want)
		}
	}
}
