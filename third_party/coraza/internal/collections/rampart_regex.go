// Copyright 2026 The Rampart authors
// SPDX-License-Identifier: Apache-2.0

package collections

import (
	"regexp"
	"strings"

	"github.com/corazawaf/coraza/v3/internal/corazarules"
	"github.com/corazawaf/coraza/v3/types"
)

// FindRegexLiteral is FindRegex(key) for a key regexp every match of which
// contains lit, at its start when prefix (Rampart fork): a key without lit
// is not given to the regexp ("" tests every key), and with key nil a key
// beginning with lit matches. The CRS reads TX:/^header_name_920450_/ and
// TX:/multipart_headers_content_types_*/ on every request, each a regexp
// run over every one of the ~100 TX keys.
func (c *Map) FindRegexLiteral(key *regexp.Regexp, lit string, prefix bool) []types.MatchData {
	n := 0
	// Collect matching data slices in a single pass to avoid evaluating the regex twice per key.
	var matched [][]keyValue
	for _, k := range c.order {
		var has bool
		if prefix {
			has = strings.HasPrefix(k, lit)
		} else {
			has = strings.Contains(k, lit)
		}
		if has && (key == nil || key.MatchString(k)) {
			data := c.data[k]
			n += len(data)
			matched = append(matched, data)
		}
	}
	if n == 0 {
		return nil
	}
	buf := make([]corazarules.MatchData, n)
	result := make([]types.MatchData, n)
	i := 0
	for _, data := range matched {
		for _, d := range data {
			buf[i] = corazarules.MatchData{Variable_: c.variable, Key_: d.key, Value_: d.value}
			result[i] = &buf[i]
			i++
		}
	}
	return result
}
