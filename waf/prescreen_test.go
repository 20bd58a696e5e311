package waf

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	crstests "github.com/corazawaf/coraza-coreruleset/v4/tests"
	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
	"github.com/goccy/go-yaml"

	"github.com/rampart-edge/rampart/controlsvc/api"
)

// The vendored Coraza's prescreen (third_party/coraza/RAMPART.md) must not
// change a verdict: every request of the corpus goes through an engine with
// the prescreen and one without (upstream's evaluation), and everything a
// rule match leaves behind must be the same.

// corpusRequest is one request of the differential corpus.
type corpusRequest struct {
	name    string
	method  string
	uri     string
	headers [][2]string
	body    []byte
}

func (c corpusRequest) request() *http.Request {
	r := &http.Request{
		Method:     c.method,
		RequestURI: c.uri,
		URL:        &url.URL{Path: "/"},
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     http.Header{},
		Body:       http.NoBody,
	}
	for _, h := range c.headers {
		if strings.EqualFold(h[0], "Host") {
			r.Host = h[1]
			continue
		}
		r.Header.Add(h[0], h[1])
	}
	if c.body != nil {
		r.Body = io.NopCloser(bytes.NewReader(c.body))
		r.ContentLength = int64(len(c.body))
	}
	return r
}

// ftwTest is the part of a go-ftw test file the corpus reads.
type ftwTest struct {
	Tests []struct {
		TestID int `yaml:"test_id"`
		Stages []struct {
			Input struct {
				Method         *string           `yaml:"method"`
				URI            *string           `yaml:"uri"`
				Headers        map[string]string `yaml:"headers"`
				Data           *string           `yaml:"data"`
				EncodedRequest string            `yaml:"encoded_request"`
			} `yaml:"input"`
		} `yaml:"stages"`
	} `yaml:"tests"`
}

// differentialCorpus is the CRS regression payloads (the request of every
// stage of every go-ftw test), Rampart's benign corpus and the benchmark's
// requests.
func differentialCorpus(t testing.TB) []corpusRequest {
	t.Helper()
	var out []corpusRequest
	err := fs.WalkDir(crstests.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		data, err := fs.ReadFile(crstests.FS, path)
		if err != nil {
			return err
		}
		var f ftwTest
		if err := yaml.Unmarshal(data, &f); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, tc := range f.Tests {
			for i, st := range tc.Stages {
				in := st.Input
				name := fmt.Sprintf("%s#%d.%d", filepath.Base(path), tc.TestID, i)
				if in.EncodedRequest != "" {
					raw, err := base64.StdEncoding.DecodeString(in.EncodedRequest)
					if err != nil {
						continue
					}
					if c, ok := parseRaw(name, raw); ok {
						out = append(out, c)
					}
					continue
				}
				c := corpusRequest{name: name, method: "GET", uri: "/"}
				if in.Method != nil {
					c.method = *in.Method
				}
				if in.URI != nil {
					c.uri = *in.URI
				}
				keys := make([]string, 0, len(in.Headers))
				for k := range in.Headers {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				for _, k := range keys {
					c.headers = append(c.headers, [2]string{k, in.Headers[k]})
				}
				if in.Data != nil {
					c.body = []byte(*in.Data)
					if _, ok := in.Headers["Content-Type"]; !ok {
						c.headers = append(c.headers, [2]string{"Content-Type", "application/x-www-form-urlencoded"})
					}
				}
				out = append(out, c)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("../edgeagent/wafgate/testdata/benign/*.http")
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if c, ok := parseRaw(filepath.Base(f), raw); ok {
			out = append(out, c)
		}
	}
	bench := []corpusRequest{
		{name: "bench-get", method: "GET", uri: benchGET},
		{name: "bench-orders", method: "POST", uri: "/api", body: OrdersJSON(),
			headers: [][2]string{{"Content-Type", "application/json"}}},
	}
	for _, c := range bench {
		c.headers = append(c.headers, [2]string{"Host", "waf.bench.rampart.test"}, [2]string{"Accept", "*/*"}, [2]string{"User-Agent", "rampart-bench"})
		out = append(out, c)
	}
	return out
}

// parseRaw reads a raw HTTP/1.1 request.
func parseRaw(name string, raw []byte) (corpusRequest, bool) {
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return corpusRequest{}, false
	}
	c := corpusRequest{name: name, method: r.Method, uri: r.RequestURI}
	if r.Host != "" {
		c.headers = append(c.headers, [2]string{"Host", r.Host})
	}
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range r.Header[k] {
			c.headers = append(c.headers, [2]string{k, v})
		}
	}
	if body, err := io.ReadAll(r.Body); err == nil && len(body) > 0 {
		c.body = body
	}
	return c, true
}

// outcome is what an inspection leaves that a skipped rule could change.
type outcome struct {
	Result
	Matched     []string // id and number of matched values of every matched rule, in order
	Interrupted string
	TX          []string // the TX collection, sorted
	Rule        []string // the RULE collection, sorted
}

func inspectOutcome(e *Engine, c corpusRequest) outcome {
	tx, res := e.InspectRequest(c.request(), benchClient)
	var o outcome
	res.Matched = "" // matched values come out in map order
	o.Result = res
	if tx == nil {
		return o
	}
	defer tx.Close()
	for _, mr := range tx.tx.MatchedRules() {
		o.Matched = append(o.Matched, fmt.Sprintf("%d/%d", mr.Rule().ID(), len(mr.MatchedDatas())))
	}
	if it := tx.tx.Interruption(); it != nil {
		o.Interrupted = fmt.Sprintf("%d %s %d", it.RuleID, it.Action, it.Status)
	}
	st := tx.tx.(plugintypes.TransactionState)
	for _, md := range st.Variables().TX().FindAll() {
		k := md.Key()
		switch {
		case isDigits(k):
			continue // TX.0-9: captures of whichever value matched last
		case strings.HasSuffix(k, "_matched_var_name"):
			continue // whichever value matched last
		case strings.HasPrefix(k, "multipart_headers_content_types_"):
			k = "multipart_headers_content_types_N" // numbered in map order
		}
		v := md.Value()
		if m := varName.FindStringSubmatch(v); m != nil {
			v = m[1] + ":*" // a MATCHED_VAR_NAME: whichever value matched last
		}
		o.TX = append(o.TX, k+"="+v)
	}
	slices.Sort(o.TX)
	// What the phase's last rules left in RULE (skipped rules write it
	// when it may be read).
	for _, md := range st.Variables().Rule().FindAll() {
		// CRS logdata names whichever value matched last (see TX above):
		// only the collection it was found in is compared.
		v := matchedData.ReplaceAllString(md.Value(), "Matched Data: * found within $1")
		o.Rule = append(o.Rule, md.Key()+"="+v)
	}
	slices.Sort(o.Rule)
	return o
}

var (
	varName     = regexp.MustCompile(`^([A-Z_]+):.`)
	matchedData = regexp.MustCompile(`(?s)Matched Data: .* found within ([A-Z_]+).*`)
)

// keepsRule reports whether e's transactions keep the RULE collection
// (the vendored Coraza leaves it alone when no rule reads it).
func keepsRule(e *Engine) bool {
	k, ok := e.waf.(interface{ KeepsRuleCollection() bool })
	return !ok || k.KeepsRuleCollection()
}

// Values come out of Coraza's collections in map order, so which value
// matched last, and what TX remembers of it, varies between runs of the
// same engine; the comparison leaves that out.
func isDigits(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

// isSubsequence reports whether a is b with some elements left out.
func isSubsequence(a, b []string) bool {
	for _, s := range a {
		i := slices.Index(b, s)
		if i < 0 {
			return false
		}
		b = b[i+1:]
	}
	return true
}

// diff describes how got differs from want, "" when it does not.
func (got outcome) diff(want outcome) string {
	var b strings.Builder
	if fmt.Sprint(got.Result) != fmt.Sprint(want.Result) {
		fmt.Fprintf(&b, "\n result %+v, want %+v", got.Result, want.Result)
	}
	if !slices.Equal(got.Matched, want.Matched) {
		fmt.Fprintf(&b, "\n matched %v\n    want %v", got.Matched, want.Matched)
	}
	if !slices.Equal(got.Rule, want.Rule) {
		fmt.Fprintf(&b, "\n RULE %q\n want %q", got.Rule, want.Rule)
	}
	if got.Interrupted != want.Interrupted {
		fmt.Fprintf(&b, "\n interruption %q, want %q", got.Interrupted, want.Interrupted)
	}
	for _, kv := range got.TX {
		if !slices.Contains(want.TX, kv) {
			fmt.Fprintf(&b, "\n TX has %.200s", kv)
		}
	}
	for _, kv := range want.TX {
		if !slices.Contains(got.TX, kv) {
			fmt.Fprintf(&b, "\n TX lacks %.200s", kv)
		}
	}
	return b.String()
}

func TestPrescreenSameVerdicts(t *testing.T) {
	corpus := differentialCorpus(t)
	if len(corpus) < 4000 {
		t.Fatalf("corpus: %d requests", len(corpus))
	}
	policies := []struct {
		name string
		p    api.WAFPolicy
		// mustMatch are rules the corpus must trigger somewhere, so that
		// the comparison covers them.
		mustMatch []int
		// keepsRule: a rule reads RULE, so the prescreening engines keep
		// it (compared); the CRS reads none, and they leave it alone.
		keepsRule bool
	}{
		{"PL1 block", api.WAFPolicy{Mode: api.WAFBlock}, nil, false},
		// Every rule, so every screened rule is exercised.
		{"PL4 detect", api.WAFPolicy{Mode: api.WAFDetect, Paranoia: 4}, nil, false},
		// What narrows a rule's targets or removes it (the screen reads
		// the superset), and custom rules: @pm with %{rule.msg} in setvar,
		// a multiMatch chain on its capture, key selectors and exclusions.
		{"PL2 block, exclusions, custom rules", api.WAFPolicy{Mode: api.WAFBlock, Paranoia: 2,
			Exclusions: []api.WAFExclusion{
				{RuleIDs: []int{942100}, Args: []string{"var"}},
				{RuleIDs: []int{941100, 932235}, PathPrefix: "/post", Args: []string{"var"}},
				{RuleIDs: []int{932230}, Methods: []string{"POST"}},
				{Tags: []string{"attack-xss"}, PathPrefix: "/get", Args: []string{"x"}},
			},
			CustomRules: []string{
				`SecRule ARGS "@pm select union sleep" "id:10002,phase:2,pass,log,capture,msg:'custom pm',setvar:'tx.custom_pm=%{rule.msg} %{TX.0}'"`,
				`SecRule ARGS_NAMES|ARGS "@rx (?i)(eval|exec|system)\s*\(" "id:10003,phase:2,pass,log,msg:'custom rx',t:none,t:urlDecodeUni,t:lowercase,multiMatch,capture,chain"`,
				`  SecRule TX:1 "@rx ^[es]" "setvar:tx.custom_chain=%{TX.1}"`,
				`SecRule REQUEST_HEADERS:User-Agent "@rx (?i)nikto|sqlmap|curl" "id:10004,phase:1,pass,log,msg:'custom ua'"`,
				`SecRule ARGS|!ARGS:var "@rx <script" "id:10005,phase:2,pass,log,msg:'custom script',t:none,t:htmlEntityDecode"`,
				`SecRule REQUEST_URI "@pmFromFile @owasp_crs/lfi-os-files.data" "id:10006,phase:1,pass,log,msg:'custom pmf',t:none,t:urlDecodeUni"`,
			}},
			[]int{10002, 10003, 10004, 10005, 10006}, true},
	}
	if testing.Short() {
		policies = policies[:1] // about a fifth of the time
	}
	for _, pol := range policies {
		t.Run(pol.name, func(t *testing.T) {
			on, err := Compile(pol.p, Options{recordQuiet: true})
			if err != nil {
				t.Fatal(err)
			}
			defer on.Close()
			// The default engine also leaves the quiet rules' matches
			// unrecorded: the same outcome, fewer records.
			quiet, err := Compile(pol.p, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer quiet.Close()
			off, err := Compile(pol.p, Options{NoPrescreen: true})
			if err != nil {
				t.Fatal(err)
			}
			defer off.Close()
			if keepsRule(on) != pol.keepsRule || keepsRule(quiet) != pol.keepsRule || !keepsRule(off) {
				t.Fatalf("RULE kept: %v, %v, %v; want %v, %v, true", keepsRule(on), keepsRule(quiet), keepsRule(off), pol.keepsRule, pol.keepsRule)
			}
			matched, bad, unrecorded := 0, 0, 0
			ids := map[string]bool{}
			for _, c := range corpus {
				want := inspectOutcome(off, c)
				got := inspectOutcome(on, c)
				q := inspectOutcome(quiet, c)
				if !pol.keepsRule {
					want.Rule, got.Rule, q.Rule = nil, nil, nil
				}
				for _, m := range want.Matched {
					id, _, _ := strings.Cut(m, "/")
					ids[id] = true
				}
				if len(want.RuleIDs) > 0 {
					matched++
				}
				if d := got.diff(want); d != "" {
					bad++
					if bad <= 10 {
						t.Errorf("%s: the prescreen changed the outcome:%s", c.name, d)
					}
				}
				records, all := q.Matched, want.Matched
				unrecorded += len(all) - len(records)
				q.Matched = want.Matched
				if d := q.diff(want); d != "" || !isSubsequence(records, all) {
					bad++
					if bad <= 10 {
						t.Errorf("%s: unrecorded quiet matches changed the outcome (records %v, all %v):%s",
							c.name, records, all, d)
					}
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d requests differ", bad, len(corpus))
			}
			if unrecorded < len(corpus) {
				t.Errorf("%d quiet matches left unrecorded in %d requests: the CRS initialisation's alone are more", unrecorded, len(corpus))
			}
			for _, id := range pol.mustMatch {
				if !ids[strconv.Itoa(id)] {
					t.Errorf("rule %d never matched: the corpus does not cover it", id)
				}
			}
			t.Logf("%d requests, %d with logged rule matches, %d distinct rules matched", len(corpus), matched, len(ids))
		})
	}
}
