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
// contains lit (Rampart fork): a key without lit is not given to the
// regexp. The CRS reads TX:/^header_name_920450_/ and
// TX:/multipart_headers_content_types_*/ on every request, each a regexp
// run over every one of the ~100 TX keys.
func (c *Map) FindRegexLiteral(key *regexp.Regexp, lit string) []types.MatchData {
	var result []types.MatchData
	var buf []corazarules.MatchData
	for k, data := range c.data {
		if !strings.Contains(k, lit) || !key.MatchString(k) {
			continue
		}
		for _, d := range data {
			buf = append(buf, corazarules.MatchData{Variable_: c.variable, Key_: d.key, Value_: d.value})
		}
	}
	if len(buf) == 0 {
		return nil
	}
	result = make([]types.MatchData, len(buf))
	for i := range buf {
		result[i] = &buf[i]
	}
	return result
}
