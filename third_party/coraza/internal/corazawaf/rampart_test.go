// Copyright 2026 The Rampart authors
// SPDX-License-Identifier: Apache-2.0

package corazawaf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
	"github.com/corazawaf/coraza/v3/internal/corazarules"
	"github.com/corazawaf/coraza/v3/types"
	"github.com/corazawaf/coraza/v3/types/variables"
)

// shortWriter accepts at most max bytes per Write, without an error.
type shortWriter struct {
	max int
	got bytes.Buffer
}

func (w *shortWriter) Write(p []byte) (int, error) {
	if len(p) > w.max {
		p = p[:w.max]
	}
	return w.got.Write(p)
}

// The reader's WriteTo hands io.Copy what Read would have, from where
// Read left off, in memory and on disk, and a closed reader has nothing
// left (Rampart fork).
func TestBodyBufferReaderWriteTo(t *testing.T) {
	body := strings.Repeat("0123456789abcdef", 300) // 4,800 bytes
	for _, tc := range []struct {
		name   string
		memory int64
	}{{"memory", 1 << 20}, {"disk", 100}} {
		t.Run(tc.name, func(t *testing.T) {
			bb := NewBodyBuffer(types.BodyBufferOptions{TmpPath: t.TempDir(), MemoryLimit: tc.memory, Limit: 1 << 20})
			defer bb.Reset()
			for i := 0; i < len(body); i += 700 {
				if _, err := bb.Write([]byte(body[i:min(i+700, len(body))])); err != nil {
					t.Fatal(err)
				}
			}
			if onDisk := bb.writer != nil; onDisk != (tc.name == "disk") {
				t.Fatalf("body on disk = %v", onDisk)
			}
			r, _ := bb.Reader()
			if _, ok := r.(io.WriterTo); !ok {
				t.Fatal("reader has no WriteTo")
			}
			var sb strings.Builder
			if n, err := io.Copy(&sb, r); err != nil || n != int64(len(body)) || sb.String() != body {
				t.Fatalf("io.Copy = %d, %v; same body: %v", n, err, sb.String() == body)
			}
			if n, err := io.Copy(&sb, r); n != 0 || err != nil {
				t.Fatalf("second io.Copy = %d, %v, want 0, nil", n, err)
			}

			r, _ = bb.Reader()
			head := make([]byte, 1000)
			if _, err := io.ReadFull(r, head); err != nil {
				t.Fatal(err)
			}
			var rest strings.Builder
			if _, err := io.Copy(&rest, r); err != nil || string(head)+rest.String() != body {
				t.Fatalf("read then copy: err %v, same body: %v", err, string(head)+rest.String() == body)
			}

			r, _ = bb.Reader()
			r.(*bodyBufferReader).Close()
			if n, err := io.Copy(io.Discard, r); n != 0 || err != nil {
				t.Fatalf("closed reader copied %d, %v", n, err)
			}
		})
	}

	bb := NewBodyBuffer(types.BodyBufferOptions{MemoryLimit: 1 << 20, Limit: 1 << 20})
	bb.Write([]byte(body))
	r, _ := bb.Reader()
	w := &shortWriter{max: 10}
	if n, err := r.(io.WriterTo).WriteTo(w); n != 10 || !errors.Is(err, io.ErrShortWrite) {
		t.Fatalf("short write: %d, %v", n, err)
	}
}

// RESPONSE_BODY and a JSON request body read through WriteTo come out
// whole (Rampart fork).
func TestBodiesThroughWriteTo(t *testing.T) {
	waf := NewWAF()
	waf.ResponseBodyAccess = true
	waf.RequestBodyAccess = true
	waf.ResponseBodyMimeTypes = []string{"text/plain"}
	tx := waf.NewTransaction()
	defer tx.Close()
	tx.ProcessURI("/", "POST", "HTTP/1.1")
	tx.AddRequestHeader("Content-Type", "application/json")
	tx.variables.reqbodyProcessor.Set("JSON")
	tx.ProcessRequestHeaders()
	if _, _, err := tx.WriteRequestBody([]byte(`{"a":"x","b":[1,2]}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ProcessRequestBody(); err != nil {
		t.Fatal(err)
	}
	if got := tx.variables.args.Get("json.a"); len(got) != 1 || got[0] != "x" {
		t.Fatalf("ARGS:json.a = %q", got)
	}
	tx.AddResponseHeader("Content-Type", "text/plain")
	tx.ProcessResponseHeaders(200, "HTTP/1.1")
	body := strings.Repeat("response ", 500)
	if _, _, err := tx.WriteResponseBody([]byte(body)); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ProcessResponseBody(); err != nil {
		t.Fatal(err)
	}
	if got := tx.variables.responseBody.Get(); got != body {
		t.Fatalf("RESPONSE_BODY has %d bytes, want %d", len(got), len(body))
	}
	if got := tx.variables.responseContentLength.Get(); got != "4500" {
		t.Fatalf("RESPONSE_CONTENT_LENGTH = %q", got)
	}
}

// disruptiveAction agrees with corazarules.DisruptiveActionMap on every
// name in it and on names not in it (Rampart fork).
func TestDisruptiveActionSwitch(t *testing.T) {
	for name, want := range corazarules.DisruptiveActionMap {
		if got := disruptiveAction(name); got != want {
			t.Errorf("disruptiveAction(%q) = %v, want %v", name, got, want)
		}
	}
	for _, name := range []string{"", "block", "Pass", "tarpit"} {
		if got, want := disruptiveAction(name), corazarules.DisruptiveActionMap[name]; got != want {
			t.Errorf("disruptiveAction(%q) = %v, want %v", name, got, want)
		}
	}
}

// typedAction is an action of a given type that does nothing.
type typedAction struct{ t plugintypes.ActionType }

func (a typedAction) Init(plugintypes.RuleMetadata, string) error                     { return nil }
func (a typedAction) Evaluate(plugintypes.RuleMetadata, plugintypes.TransactionState) {}
func (a typedAction) Type() plugintypes.ActionType                                    { return a.t }

// The rule's action lists by type follow its actions through AddAction
// and ClearDisruptiveActions, in order (Rampart fork).
func TestRuleActionPartitions(t *testing.T) {
	types := []plugintypes.ActionType{plugintypes.ActionTypeMetadata, plugintypes.ActionTypeNondisruptive,
		plugintypes.ActionTypeFlow, plugintypes.ActionTypeDisruptive, plugintypes.ActionTypeData}
	r := NewRule()
	check := func(when string) {
		t.Helper()
		var nd, fd []string
		for _, a := range r.actions {
			switch a.Function.Type() {
			case plugintypes.ActionTypeNondisruptive:
				nd = append(nd, a.Name)
			case plugintypes.ActionTypeFlow, plugintypes.ActionTypeDisruptive:
				fd = append(fd, a.Name)
			}
		}
		names := func(as []ruleActionParams) (out []string) {
			for _, a := range as {
				out = append(out, a.Name)
			}
			return out
		}
		if got := names(r.nondisruptive); !slices.Equal(got, nd) {
			t.Fatalf("%s: nondisruptive %v, want %v", when, got, nd)
		}
		if got := names(r.flowDisruptive); !slices.Equal(got, fd) {
			t.Fatalf("%s: flowDisruptive %v, want %v", when, got, fd)
		}
	}
	for i := 0; i < 20; i++ {
		r.AddAction(fmt.Sprintf("a%d", i), typedAction{types[i*7%len(types)]})
		check(fmt.Sprintf("after %d actions", i+1))
	}
	r.ClearDisruptiveActions()
	check("after ClearDisruptiveActions")
	if len(r.flowDisruptive) == 0 || len(r.nondisruptive) == 0 {
		t.Fatal("the test lost its flow or nondisruptive actions")
	}
}

// TestArenaRecordReuse checks the match records' lifetimes: without reuse
// a reset never hands out a record again; with reuse the next transaction
// writes over the same chunks, within a transaction every record is
// distinct, and only arenaKept chunks of a kind are kept.
func TestArenaRecordReuse(t *testing.T) {
	take := func(a *matchArena, n int) (mds []*corazarules.MatchData, rules []*corazarules.MatchedRule) {
		for i := 0; i < n; i++ {
			md := a.match(0, "k", fmt.Sprint(i), 0)
			l := a.list(md)
			if len(l) != 1 || cap(l) != 1 || l[0] != md {
				t.Fatalf("list %d: len %d cap %d", i, len(l), cap(l))
			}
			mds = append(mds, md)
			rules = append(rules, a.rule())
		}
		return mds, rules
	}
	distinct := func(mds []*corazarules.MatchData, rules []*corazarules.MatchedRule) {
		t.Helper()
		seen := map[any]bool{}
		for i, md := range mds {
			if seen[md] || seen[rules[i]] {
				t.Fatalf("record %d handed out twice in one transaction", i)
			}
			seen[md], seen[rules[i]] = true, true
			if md.Value_ != fmt.Sprint(i) {
				t.Fatalf("record %d overwritten: %q", i, md.Value_)
			}
		}
	}
	n := 3*arenaMatches + 5

	var a matchArena
	a.reset(false)
	mds, rules := take(&a, n)
	distinct(mds, rules)
	a.reset(false)
	mds2, _ := take(&a, n)
	if slices.Contains(mds2, mds[0]) {
		t.Fatal("without reuse a record was handed out again")
	}
	distinct(mds, rules) // the first transaction's records are intact

	a.reset(true)
	mds, rules = take(&a, n)
	distinct(mds, rules)
	a.reset(true)
	mds2, rules2 := take(&a, n)
	distinct(mds2, rules2)
	if mds2[0] != mds[0] || rules2[0] != rules[0] || mds2[n-1] != mds[n-1] {
		t.Fatal("with reuse the next transaction did not take the same records")
	}
	if allocs := testing.AllocsPerRun(10, func() {
		a.reset(true)
		for i := 0; i < n; i++ {
			a.list(a.match(0, "k", "v", 0))
			a.rule()
		}
	}); allocs != 0 {
		t.Fatalf("%v allocations per reused transaction, want 0", allocs)
	}

	a.reset(true)
	take(&a, (arenaKept+3)*arenaMatches)
	if len(a.mdChunks) != arenaKept || len(a.listChunks) != arenaKept || len(a.ruleChunks) != arenaKept {
		t.Fatalf("kept %d/%d/%d chunks, want %d", len(a.mdChunks), len(a.listChunks), len(a.ruleChunks), arenaKept)
	}
}

// TestGetFieldOnceSameAsGetField compares getFieldOnce, which answers
// single values and &COLLECTION:key counts from the transaction's scratch,
// with GetField on keys with no, one and several values.
func TestGetFieldOnceSameAsGetField(t *testing.T) {
	tx := NewWAF().NewTransaction()
	defer tx.Close()
	tx.AddRequestHeader("Host", "example.com")
	tx.AddRequestHeader("Accept", "a")
	tx.AddRequestHeader("Accept", "b")
	txc := tx.variables.tx
	txc.Set("one", []string{"1"})
	txc.Set("two", []string{"x", "y"})
	txc.Set("empty", nil)
	tx.variables.requestMethod.Set("GET")
	var params []ruleVariableParams
	for _, v := range []variables.RuleVariable{variables.TX, variables.RequestHeaders, variables.RequestMethod, variables.Args} {
		for _, key := range []string{"", "one", "ONE", "two", "empty", "absent", "host", "Accept"} {
			for _, count := range []bool{false, true} {
				params = append(params, ruleVariableParams{Variable: v, KeyStr: key, Count: count})
			}
		}
	}
	params = append(params, ruleVariableParams{Variable: variables.TX, KeyStr: "one", Count: true,
		Exceptions: []ruleVariableException{{KeyStr: "one"}}})
	show := func(mds []types.MatchData) string { // in key order: maps have none
		var l []string
		for _, md := range mds {
			l = append(l, fmt.Sprintf("[%s %q %q]", md.Variable().Name(), md.Key(), md.Value()))
		}
		slices.Sort(l)
		return strings.Join(l, "")
	}
	for _, rv := range params {
		want := show(tx.GetField(rv))
		if got := show(tx.getFieldOnce(rv)); got != want {
			t.Errorf("%s:%q count %v: getFieldOnce %s, GetField %s", rv.Variable.Name(), rv.KeyStr, rv.Count, got, want)
		}
	}
}

// TestRequiredLiteral checks the literal keyRxLiteral finds in key
// regexps (the CRS's among them) and that every key a regexp matches
// contains it, on keys built from the patterns' own pieces.
func TestRequiredLiteral(t *testing.T) {
	for pat, want := range map[string]string{
		`^header_name_920450_`:              "header_name_920450_",
		`multipart_headers_content_types_*`: "multipart_headers_content_types",
		`^(?:ab|cd)ef+(gh)`:                 "gh",
		`(?i)abc`:                           "",
		`x*`:                                "",
		`a|b`:                               "",
		`(?:xy){2,3}z`:                      "xy",
		`^\x22?\x24version`:                 "$version",
		`^json\.\d+\.field$`:                ".field",
		`pre(?:fix)?`:                       "pre",
		`(?:qqq){0,2}r`:                     "r",
		`^abc`:                              "abc",
		`^abx+`:                             "ab",
	} {
		re := regexp.MustCompile(pat)
		lit, prefix, whole := keyRxLiteral(re)
		if lit != want {
			t.Errorf("keyRxLiteral(%q) = %q, want %q", pat, lit, want)
		}
		rng := rand.New(rand.NewSource(int64(len(pat))))
		pieces := []string{"a", "b", "ab", "cd", "ef", "f", "gh", "xy", "z", "_", "header_name_920450_", "multipart_headers_content_types", "\"", "$version", "json.", "1", ".field", "pre", "fix", "ABC", "\n", "qqq", "r", "abc", "x"}
		for i := 0; i < 20000; i++ {
			var b strings.Builder
			for n := rng.Intn(5); n >= 0; n-- {
				b.WriteString(pieces[rng.Intn(len(pieces))])
			}
			k := b.String()
			if re.MatchString(k) && !strings.Contains(k, lit) {
				t.Fatalf("%q matches %q, which lacks %q", pat, k, lit)
			}
			if prefix && re.MatchString(k) && !strings.HasPrefix(k, lit) {
				t.Fatalf("%q matches %q, which does not begin with %q", pat, k, lit)
			}
			if whole && re.MatchString(k) != strings.HasPrefix(k, lit) {
				t.Fatalf("%q on %q: %v, but beginning with %q: %v", pat, k, re.MatchString(k), lit, strings.HasPrefix(k, lit))
			}
		}
	}
}

// TestHasFoldRune compares hasFoldRune (eight bytes at a time until a
// byte outside ASCII) with its definition, the runes at every offset.
func TestHasFoldRune(t *testing.T) {
	pieces := []string{"a", "K", "\u212a", "\u017f", "é", "\xe2", "\x84", "\xaa", "\xc5\xbf", "s", "12345678"}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 50000; i++ {
		var b strings.Builder
		for n := rng.Intn(12); n >= 0; n-- {
			b.WriteString(pieces[rng.Intn(len(pieces))])
		}
		s := b.String()
		want := strings.Contains(s, "\u212a") || strings.Contains(s, "\u017f")
		if got := hasFoldRune(s); got != want {
			t.Fatalf("hasFoldRune(%q) = %v, want %v", s, got, want)
		}
	}
}

// The TIME variables a transaction gets from the WAF's last second
// (setTimeVariables) are upstream's formatting of its own timestamp: in
// the same second as an earlier transaction, in a later one, and back in
// an earlier one.
func TestTimeVariablesOfTheSecond(t *testing.T) {
	waf := NewWAF()
	base := time.Date(2026, 12, 5, 23, 59, 59, 0, time.Local).UnixNano()
	for _, ts := range []int64{base, base + 400e6, base + 1e9, base + 1e9 + 1, base - 86400e9, base + 3*86400e9 + 7} {
		tx := waf.NewTransaction()
		tx.Timestamp = ts
		tx.setTimeVariables()
		tm := time.Unix(0, ts)
		y, m, d := tm.Date()
		only := tm.Format(time.TimeOnly)
		want := []string{strconv.FormatInt(tm.Unix(), 10), only, only[0:2], only[3:5], only[6:8],
			strconv.Itoa(d), strconv.Itoa(int(m)), strconv.Itoa(y), strconv.Itoa(int(tm.Weekday()))}
		v := tx.variables
		got := []string{v.timeEpoch.Get(), v.time.Get(), v.timeHour.Get(), v.timeMin.Get(), v.timeSec.Get(),
			v.timeDay.Get(), v.timeMon.Get(), v.timeYear.Get(), v.timeWday.Get()}
		if !slices.Equal(got, want) {
			t.Errorf("%d: %q, want %q", ts, got, want)
		}
		tx.Close()
	}
}
