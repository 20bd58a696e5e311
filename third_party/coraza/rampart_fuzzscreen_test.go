// Copyright 2026 The Rampart authors
// SPDX-License-Identifier: Apache-2.0

package coraza_test

import (
	"encoding/base64"
	"fmt"
	"math/rand"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/corazawaf/coraza/v3"
)

// TestPrescreenRandomRules compares engines with and without the prescreen
// on random rules (random transformation chains, multiMatch, the
// operators the prescreen screens: @pm, @contains, @beginsWith, @endsWith,
// @streq, @detectXSS, @detectSQLi, @validateByteRange; negated @pm, which
// the raw values' search answers) and random requests built from bytes
// and sequences the transformations act on: the prescreen must never
// change which rules match, nor how many values each matched.
func TestPrescreenRandomRules(t *testing.T) {
	seeds := 6
	if testing.Short() {
		seeds = 2
	}
	for seed := int64(1); seed <= int64(seeds); seed++ {
		rng := rand.New(rand.NewSource(seed))
		rules := randomRules(rng, 150)
		on, err := coraza.NewWAF(coraza.NewWAFConfig().WithDirectives(rules).WithPrescreen(true))
		if err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, rules)
		}
		off, err := coraza.NewWAF(coraza.NewWAFConfig().WithDirectives(rules).WithPrescreen(false))
		if err != nil {
			t.Fatal(err)
		}
		matchedAny := 0
		for i := 0; i < 400; i++ {
			req := randomRequest(rng)
			got, want := screenOutcome(t, on, req), screenOutcome(t, off, req)
			if got != want {
				t.Fatalf("seed %d, request %+v:\nprescreen on:  %s\nprescreen off: %s", seed, req, got, want)
			}
			if want != "" {
				matchedAny++
			}
		}
		if matchedAny < 100 {
			t.Fatalf("seed %d: only %d of 400 requests matched a rule: the test does not reach the rules", seed, matchedAny)
		}
	}
}

type screenRequest struct {
	query  string
	header [2]string
	cookie string
}

func screenOutcome(t *testing.T, w coraza.WAF, r screenRequest) string {
	tx := w.NewTransaction()
	defer tx.Close()
	tx.ProcessURI("/p/"+url.PathEscape(r.header[1])+"?"+r.query, "GET", "HTTP/1.1")
	tx.AddRequestHeader(r.header[0], r.header[1])
	tx.AddRequestHeader("Cookie", r.cookie)
	tx.ProcessRequestHeaders()
	if _, err := tx.ProcessRequestBody(); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mr := range tx.MatchedRules() {
		out = append(out, fmt.Sprintf("%d/%d", mr.Rule().ID(), len(mr.MatchedDatas())))
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

var (
	screenTransformations = []string{"lowercase", "uppercase", "urlDecode", "urlDecodeUni", "htmlEntityDecode", "jsDecode",
		"cssDecode", "escapeSeqDecode", "removeWhitespace", "compressWhitespace", "replaceComments", "removeComments",
		"removeCommentsChar", "removeNulls", "replaceNulls", "cmdLine", "normalizePath", "normalizePathWin", "trim",
		"trimLeft", "trimRight", "utf8toUnicode", "length", "base64Decode", "base64DecodeExt", "hexDecode", "hexEncode",
		"sha1", "md5", "base64Encode", "urlEncode"}
	screenVariables = []string{"ARGS", "ARGS_NAMES", "REQUEST_HEADERS", "REQUEST_URI", "REQUEST_FILENAME", "REQUEST_COOKIES", "REQUEST_COOKIES_NAMES", "REQUEST_BASENAME"}
	screenLiterals  = []string{"attack", "AtTack", "a<b", "/etc/", "3", "41", "ab", "select", "<script", "k", "s", "é", "..", "x y", "1", "=", "0", "5a", "--", "a b", "\\"}
	screenPieces    = []string{"a", "B", "k", "s", "3", "1", "0", "9", "%41", "%2f", "%2F", "%u0041", "+", "&lt;", "&#x41;", "&#65;", "\\x41",
		"\\u0041", "\\", "/*", "*/", "--", "#", " ", "\t", "\n", "\x00", "é", "\u212a", "\u017f", "'", "\"", "^", ";", ",", "(", ")",
		"<", ">", "=", "/", "..", ".", "_", "-", "attack", "ATTACK", "AtTack", "select", "etc", "script",
		base64.StdEncoding.EncodeToString([]byte("attack")), "616263", "YWI=", "61", "x y", "abc"}
)

func randomRules(rng *rand.Rand, n int) string {
	var b strings.Builder
	b.WriteString("SecRuleEngine On\n")
	// TX variables for the rules that compare them (evaluated ahead of
	// the rule by the engine): set from the request, so they vary, from
	// values that come one at a time (a collection's order is a map's).
	b.WriteString(`SecRule REQUEST_HEADERS:X-1 "@rx ^(.)" "id:900,phase:2,pass,nolog,capture,setvar:tx.first=%{tx.1}"` + "\n")
	b.WriteString(`SecRule &ARGS "@ge 2" "id:901,phase:2,pass,nolog,setvar:tx.many=1"` + "\n")
	for i := 0; i < n; i++ {
		if rng.Intn(6) == 0 {
			fmt.Fprintf(&b, "SecRule %sTX:%s %q \"id:%d,phase:2,pass,log,t:none,msg:'tx %%{tx.first}'\"\n",
				[]string{"", "&"}[rng.Intn(2)], []string{"first", "many", "none"}[rng.Intn(3)],
				[]string{"@eq 1", "@lt 1", "@ge 1", "@streq a", "@within abc", "!@eq 0", "@contains B"}[rng.Intn(7)], 2000+i)
			continue
		}
		// A quarter are chains of two or three rules.
		links := 1
		if rng.Intn(4) == 0 {
			links += 1 + rng.Intn(2)
		}
		for l := 0; l < links; l++ {
			b.WriteString(randomRule(rng, 1000+i, l, l < links-1))
		}
	}
	return b.String()
}

// randomRule is one SecRule: the chain's parent (link 0, with an id) or a
// chained rule, with the chain action when more follow.
func randomRule(rng *rand.Rand, id, link int, chain bool) string {
	var vars []string
	for k := rng.Intn(3); k >= 0; k-- {
		vars = append(vars, screenVariables[rng.Intn(len(screenVariables))])
	}
	var op string
	switch rng.Intn(12) {
	case 0:
		op = "@detectXSS"
	case 1:
		op = "@detectSQLi"
	case 2:
		op = "@validateByteRange 32-126"
	case 3, 4, 5, 6:
		op = []string{"@contains ", "@beginsWith ", "@endsWith ", "@streq "}[rng.Intn(4)] +
			screenLiterals[rng.Intn(len(screenLiterals))]
	default:
		var lits []string
		for k := rng.Intn(3); k >= 0; k-- {
			lits = append(lits, screenLiterals[rng.Intn(len(screenLiterals))])
		}
		op = "@pm " + strings.Join(lits, " ")
		if rng.Intn(3) == 0 {
			// Not screened, but answered by the raw values' search when
			// it transforms nothing (answerFromScreen).
			op = "!" + op
		}
	}
	var acts []string
	if link == 0 {
		acts = append(acts, fmt.Sprintf("id:%d", id), "phase:2", "pass", "log")
	}
	acts = append(acts, "t:none")
	for k := rng.Intn(4); k > 0; k-- {
		acts = append(acts, "t:"+screenTransformations[rng.Intn(len(screenTransformations))])
	}
	if rng.Intn(5) == 0 {
		acts = append(acts, "multiMatch")
	}
	if chain {
		acts = append(acts, "chain")
	}
	return fmt.Sprintf("SecRule %s %q %q\n", strings.Join(vars, "|"), op, strings.Join(acts, ","))
}

func randomValue(rng *rand.Rand) string {
	var b strings.Builder
	for k := rng.Intn(6); k >= 0; k-- {
		b.WriteString(screenPieces[rng.Intn(len(screenPieces))])
	}
	return b.String()
}

func randomRequest(rng *rand.Rand) screenRequest {
	q := url.Values{}
	for k := rng.Intn(3); k >= 0; k-- {
		q.Add(randomValue(rng), randomValue(rng))
	}
	return screenRequest{
		query:  q.Encode(),
		header: [2]string{"X-" + fmt.Sprint(rng.Intn(3)), randomValue(rng)},
		cookie: url.QueryEscape(randomValue(rng)) + "=" + url.QueryEscape(randomValue(rng)),
	}
}
