// Copyright 2026 Rampart contributors
// SPDX-License-Identifier: Apache-2.0

package operators

import (
	"math/rand"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
)

// TestPMScan: @pm and @pmFromFile answer a transaction that is not
// capturing with a litscan pass (Rampart fork); it must find a pattern
// exactly when the Aho-Corasick matcher does, with mixed case, non-ASCII
// patterns and inputs built from pieces of the patterns.
func TestPMScan(t *testing.T) {
	dir := "data"
	file := "error-words.data"
	root := fstest.MapFS{}
	lines := "# comment\nSQL syntax\nORA-00933\n  Warning: mysql_  \nunclosed quotation mark\nÉchec\nK\u212aelvin\nstraße\n"
	root[dir+"/"+file] = &fstest.MapFile{Data: []byte(lines)}
	ops := map[string]plugintypes.Operator{}
	var err error
	if ops["pm"], err = newPM(plugintypes.OperatorOptions{Arguments: "select UNION sleep( <script ab b Übel"}); err != nil {
		t.Fatal(err)
	}
	if ops["pmFromFile"], err = newPMFromFile(plugintypes.OperatorOptions{Arguments: file, Path: []string{dir}, Root: root}); err != nil {
		t.Fatal(err)
	}
	parts := []string{"sel", "ect", "SELECT", "union", "UnIoN", "sleep(", "<scr", "ipt>", "a", "b", "AB", "übel", "Übel",
		"sql ", "syntax", "SQL SYNTAX", "ora-00933", "warning: mysql_", "WARNING: MYSQL_", "unclosed", " quotation mark",
		"échec", "Échec", "ÉCHEC", "kelvin", "\u212aelvin", "straße", "STRASSE", " ", "x", "\x00", "\xff"}
	rng := rand.New(rand.NewSource(1))
	for name, op := range ops {
		o := op.(*pm)
		if o.scan == nil {
			t.Fatalf("%s: no scan", name)
		}
		matched := 0
		for i := 0; i < 100000; i++ {
			var b strings.Builder
			for n := rng.Intn(6); n >= 0; n-- {
				b.WriteString(parts[rng.Intn(len(parts))])
			}
			s := b.String()
			want := o.matcher.Iter(s).Next() != nil
			if got := o.scanFinds(s); got != want {
				t.Fatalf("%s on %q: scan %v, matcher %v", name, s, got, want)
			}
			if want {
				matched++
			}
		}
		if matched < 10000 || matched > 90000 {
			t.Fatalf("%s: %d of 100,000 inputs matched; the inputs do not exercise both answers", name, matched)
		}
	}
	// An empty pattern matches everything: no scan, the matcher decides.
	op, _ := newPM(plugintypes.OperatorOptions{Arguments: "a  b"})
	if op.(*pm).scan != nil {
		t.Fatal("scan built for a pattern list with an empty pattern")
	}
}
