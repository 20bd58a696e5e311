package waf

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/corazawaf/coraza/v3/types/variables"
	"github.com/rampart-edge/rampart/controlsvc/api"
)

var client = netip.MustParseAddr("192.0.2.7")

func TestCheckNamesTheBadRule(t *testing.T) {
	for _, tc := range []struct {
		rules []string
		field string
		msg   string
	}{
		{[]string{`SecRule ARGS "@rx ok" "id:1001,phase:2,deny"`, `SecRule ARGS "@nope x" "id:1002,deny"`}, "waf.custom_rules[1]", "nope"},
		{[]string{`SecRule ARGS "@rx (" "id:1003,deny"`}, "waf.custom_rules[0]", "missing closing )"},
		{[]string{`SecRule ARGS "@rx x" "id:1004,phase:2,bogusaction"`}, "waf.custom_rules[0]", "bogusaction"},
		{[]string{`SecRule ARGS "@rx ok" "id:1007,phase:4,pass"`, `SecAction "id:1008,phase:logging,pass,log"`}, "waf.custom_rules[1]", "rule 1008 runs in the logging phase"},
		{[]string{`SecRule ARGS:f "@inspectFile /bin/rm" "id:1009,phase:2,deny"`}, "waf.custom_rules[0]", "@inspectFile is not allowed"},
		{[]string{`SecRule REMOTE_ADDR "@rbl bl.example.com" "id:1010,phase:1,deny"`}, "waf.custom_rules[0]", "@rbl is not allowed"},
		{[]string{`SecAction "id:1011,phase:1,pass,setenv:PATH=/tmp"`}, "waf.custom_rules[0]", "setenv is not allowed"},
		{[]string{`SecRule ARGS "@rx x" "id:4200001,phase:2,deny"`}, "waf.custom_rules[0]", "reserves"},
		{[]string{`SecRule ARGS "@rx x" "id:1005,phase:2,pass"`, `SecRule ARGS "@rx y" "id:942100,phase:2,pass"`}, "waf.custom_rules[1]", "942100"},
	} {
		fes := api.AsFieldErrors(Check(api.WAFPolicy{Mode: api.WAFBlock, CustomRules: tc.rules}))
		if len(fes) == 0 || fes[0].Field != tc.field || !strings.Contains(fes[0].Msg, tc.msg) {
			t.Errorf("%q: got %v, want %s: …%s…", tc.rules, fes, tc.field, tc.msg)
		}
	}
	if err := Check(api.WAFPolicy{Mode: api.WAFBlock, CustomRules: []string{`SecRule ARGS:q "@streq x" "id:1006,phase:2,deny"`}}); err != nil {
		t.Fatal(err)
	}
}

func TestCacheSharesEnginesPerPolicy(t *testing.T) {
	c := NewCache(Options{})
	a := api.WAFPolicy{Mode: api.WAFBlock}
	same := api.WAFPolicy{Mode: api.WAFBlock, Paranoia: 1, InboundThreshold: 5} // the defaults, spelled out
	other := api.WAFPolicy{Mode: api.WAFBlock, Paranoia: 2}
	var wg sync.WaitGroup
	engines := make([]*Engine, 8)
	for i := range engines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := a
			if i%2 == 1 {
				p = same
			}
			e, err := c.Get(p)
			if err != nil {
				t.Error(err)
			}
			engines[i] = e
		}()
	}
	wg.Wait()
	for _, e := range engines[1:] {
		if e != engines[0] {
			t.Fatal("equal policies got different engines")
		}
	}
	o, err := c.Get(other)
	if err != nil || o == engines[0] || c.Len() != 2 {
		t.Fatalf("other policy: %v, len %d", err, c.Len())
	}
	c.Prune(func(k string) bool { return k == Key(other) })
	if c.Len() != 1 {
		t.Fatalf("after prune: %d", c.Len())
	}
}

func TestBodyIsReplayedWhole(t *testing.T) {
	e, err := Compile(api.WAFPolicy{Mode: api.WAFBlock, RequestBodyLimit: 100, BodyOverLimit: api.WAFBodyPartial}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	body := "a=" + strings.Repeat("b", 300)
	r := httptest.NewRequest("POST", "/form", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	tx, res := e.InspectRequest(r, client)
	defer tx.Close()
	got, _ := io.ReadAll(r.Body)
	if res.Reject || string(got) != body {
		t.Fatalf("reject %v, forwarded %d bytes of %d", res.Reject, len(got), len(body))
	}

	deny, err := Compile(api.WAFPolicy{Mode: api.WAFBlock, RequestBodyLimit: 100}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r = httptest.NewRequest("POST", "/form", strings.NewReader(body))
	tx, res = deny.InspectRequest(r, client)
	defer tx.Close()
	if !res.Reject || res.Reason != ReasonBodyLimit || res.Status != 413 {
		t.Fatalf("deny: %+v", res)
	}
}

func TestMatchLogAndDetectMode(t *testing.T) {
	var log bytes.Buffer
	e, err := Compile(api.WAFPolicy{Mode: api.WAFDetect}, Options{MatchLog: &log})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/?q=%3Cscript%3Ealert(1)%3C/script%3E", nil)
	r.Header.Set("User-Agent", "test")
	r.Header.Set("Accept", "*/*")
	tx, res := e.InspectRequest(r, client)
	tx.Close()
	if !res.Reject || res.Enforce || res.Score < 5 {
		t.Fatalf("detect: %+v", res)
	}
	if !strings.Contains(log.String(), `[id "941100"]`) {
		t.Fatalf("match log: %s", log.String())
	}
	// With a match log Close runs the logging phase: the CRS's
	// correlation report is in it.
	if !strings.Contains(log.String(), `[id "980170"]`) {
		t.Fatalf("no logging-phase line in the match log: %s", log.String())
	}
}

func TestRedactAndTruncate(t *testing.T) {
	if redact(variables.RequestCookies, "sid", "secret") != "[redacted]" ||
		redact(variables.RequestHeaders, "Authorization", "Bearer x") != "[redacted]" ||
		redact(variables.ResponseHeaders, "Set-Cookie", "a=b") != "[redacted]" ||
		redact(variables.Args, "q", "visible") != "visible" {
		t.Fatal("redact")
	}
	if got := truncate("héllo wörld", 2); got != "h…" {
		t.Fatalf("truncate on a rune boundary: %q", got)
	}
}

// A custom rule's setvar without a value sets the variable to 1 and
// "!tx.name" removes it, as in ModSecurity. Coraza 3.8.1 expanded a nil
// value macro for both and panicked on every request the rule ran for
// (the edge's server recovered: the client's connection was dropped).
func TestCustomSetvarWithoutValue(t *testing.T) {
	e, err := Compile(api.WAFPolicy{Mode: api.WAFBlock, CustomRules: []string{
		`SecRule ARGS:a "@streq on" "id:10011,phase:1,pass,nolog,setvar:tx.flag,setvar:tx.gone=x"`,
		`SecAction "id:10012,phase:1,pass,nolog,setvar:!tx.gone"`,
		`SecRule TX:flag "@eq 1" "id:10013,phase:1,deny,status:418,chain"`,
		`  SecRule &TX:gone "@eq 0"`,
	}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for target, reject := range map[string]bool{"/?a=on": true, "/?a=off": false} {
		tx, res := e.InspectRequest(benchRequest("GET", target, nil), benchClient)
		tx.Close()
		if res.Reject != reject || reject && res.Status != 418 {
			t.Errorf("%s: %+v", target, res)
		}
	}
}

// InspectRequestID makes the given id the transaction's UNIQUE_ID (the
// edge passes its request id); InspectRequest makes a random one.
func TestInspectRequestID(t *testing.T) {
	e, err := Compile(api.WAFPolicy{Mode: api.WAFBlock, CustomRules: []string{
		`SecRule UNIQUE_ID "@streq 0123456789abcdef0123456789abcdef" "id:10021,phase:1,deny,status:418"`,
	}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tx, res := e.InspectRequestID(benchRequest("GET", "/", nil), benchClient, "0123456789abcdef0123456789abcdef")
	tx.Close()
	if !res.Reject || res.Status != 418 {
		t.Errorf("with the id: %+v, want the rule to deny", res)
	}
	for _, id := range []string{"", "fedcba9876543210fedcba9876543210"} {
		tx, res = e.InspectRequestID(benchRequest("GET", "/", nil), benchClient, id)
		tx.Close()
		if res.Reject {
			t.Errorf("id %q: %+v, want no match", id, res)
		}
	}
}

// TestResponseBodiesThroughPooledBuffers: response bodies are read into
// buffers that go back to a pool at Close, and RESPONSE_BODY is the
// engine's body buffer rather than a copy. Bodies of changing sizes, two
// transactions open at once, each body replayed whole and judged on its
// own bytes (a rule that rejects "secret-7" and logs the body it saw).
func TestResponseBodiesThroughPooledBuffers(t *testing.T) {
	e, err := Compile(api.WAFPolicy{Mode: api.WAFBlock, InspectResponse: true, CustomRules: []string{
		`SecRule RESPONSE_BODY "@contains secret-7" "id:100,phase:4,deny,status:403,log,msg:'leak'"`,
	}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	body := func(i int) string {
		n := []int{2000, 10, 70000, 300, 4096}[i%5]
		tag := "benign-" + strconv.Itoa(i) + " "
		if i%3 == 0 {
			tag = "secret-7 " + strconv.Itoa(i) + " "
		}
		return tag + strings.Repeat(string(rune('a'+i%26)), n)
	}
	inspect := func(i int) (*Tx, *http.Response, Result) {
		r := httptest.NewRequest("GET", "/page", nil)
		tx, res := e.InspectRequest(r, client)
		if res.Reject {
			t.Fatalf("request %d rejected: %+v", i, res)
		}
		b := body(i)
		resp := &http.Response{StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header:        http.Header{"Content-Type": {"text/plain"}, "Content-Length": {strconv.Itoa(len(b))}},
			ContentLength: int64(len(b)), Body: io.NopCloser(strings.NewReader(b))}
		return tx, resp, tx.InspectResponse(resp)
	}
	check := func(i int, resp *http.Response, res Result) {
		t.Helper()
		got, err := io.ReadAll(resp.Body)
		if want := body(i); err != nil || string(got) != want {
			t.Fatalf("response %d replayed %d bytes (%v), want %d", i, len(got), err, len(want))
		}
		secret := i%3 == 0
		if res.Reject != secret {
			t.Fatalf("response %d: reject %v, want %v (%+v)", i, res.Reject, secret, res)
		}
		if secret && !strings.Contains(res.Matched, "100:RESPONSE_BODY=secret-7 "+strconv.Itoa(i)+" ") {
			t.Fatalf("response %d: matched %q, not its own body", i, res.Matched)
		}
	}
	for i := 0; i < 40; i += 2 {
		txA, respA, resA := inspect(i)
		txB, respB, resB := inspect(i + 1)
		check(i, respA, resA)
		check(i+1, respB, resB)
		txA.Close()
		txB.Close()
	}
}
