package accesslog

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestLineIsJSONWithStableKeys(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, "ams3", "ams3-1")
	l.Log(&Entry{Time: time.Unix(1700000000, 5).UTC(), ReqID: "abc", Site: "a.example.com", Method: "GET", Path: "/\"<x>\"\n\x01\xff\u2028",
		Status: 502, Action: "origin_error", BytesOut: 10, Duration: 1500 * time.Microsecond, Err: "dial tcp: refused"})
	l.Log(&Entry{ReqID: "def", Status: 200})
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %q", buf.String())
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
		t.Fatalf("%v: %s", err, lines[0])
	}
	want := map[string]any{"req_id": "abc", "site": "a.example.com", "status": 502.0, "action": "origin_error", "region": "ams3",
		"node": "ams3-1", "duration_ms": 1.5, "bytes_out": 10.0, "error": "dial tcp: refused", "path": "/\"<x>\"\n\x01\ufffd\u2028",
		"time": "2023-11-14T22:13:20.000000005Z"}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %#v, want %#v", k, m[k], v)
		}
	}
	if strings.ContainsAny(lines[0], "<>") {
		t.Error("HTML characters are not escaped")
	}
	if err := json.Unmarshal([]byte(lines[1]), &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["error"]; ok && strings.Contains(lines[1], `"error"`) {
		t.Error("empty error written")
	}
}

func FuzzAppendJSON(f *testing.F) {
	f.Add("/path", "a.example.com", "GET")
	f.Add("\x00\xff\"\\\u2029", "", "")
	f.Fuzz(func(t *testing.T, path, site, method string) {
		b := AppendJSON(nil, &Entry{Path: path, Site: site, Method: method}, "r", "n")
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("invalid JSON %q: %v", b, err)
		}
		// encoding/json's own escaping is the reference.
		ref, _ := json.Marshal(path)
		var want string
		json.Unmarshal(ref, &want)
		if m["path"] != want {
			t.Fatalf("path %q round-tripped as %q, want %q", path, m["path"], want)
		}
	})
}

func TestWAFFields(t *testing.T) {
	e := &Entry{ReqID: "r1", Status: 403, Action: "waf", WAFAction: "block", RuleIDs: []int{942100, 949110},
		AnomalyScore: 10, WAFMatched: `942100:ARGS:id=1' OR "1"="1`}
	line := string(AppendJSON(nil, e, "nyc3", "n1"))
	want := `"waf_action":"block","rule_ids":[942100,949110],"anomaly_score":10,"matched":"942100:ARGS:id=1' OR \"1\"=\"1"`
	if !strings.Contains(line, want) {
		t.Fatalf("line %s\nwant %s", line, want)
	}
	if plain := string(AppendJSON(nil, &Entry{ReqID: "r2"}, "", "")); strings.Contains(plain, "waf_action") {
		t.Fatalf("WAF fields on a request the WAF did not see: %s", plain)
	}
}

func TestRedactQuery(t *testing.T) {
	names := DefaultRedactParams()
	cases := map[string]string{
		"":                               "",
		"a=1&b=2":                        "a=1&b=2",
		"a=1&token=abc&Password=x&b":     "a=1&token=REDACTED&Password=REDACTED&b",
		"token=abc":                      "token=REDACTED",
		"api_key=k&&sig=s&x=token":       "api_key=REDACTED&&sig=REDACTED&x=token",
		"tokens=not-this&key=":           "tokens=not-this&key=REDACTED",
		strings.Repeat("a", 3000) + "=1": strings.Repeat("a", 2048),
	}
	for in, want := range cases {
		if got := RedactQuery(in, names); got != want {
			t.Errorf("RedactQuery(%.40q) = %.60q, want %.60q", in, got, want)
		}
	}
	q := "a=1&b=2&c=3"
	if n := testing.AllocsPerRun(100, func() { RedactQuery(q, names) }); n != 0 {
		t.Errorf("%v allocations for a query with nothing to redact", n)
	}
}
