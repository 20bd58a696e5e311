package accesslog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-edge/rampart/edgeagent/internal/poll"
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

// gatedWriter blocks every Write until open is closed.
type gatedWriter struct {
	open    chan struct{}
	writing chan struct{} // closed when the first Write starts
	once    sync.Once
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (w *gatedWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.writing) })
	<-w.open
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// A disk that stops answering must not stall requests: Log returns while
// the writer is stuck, lines past the bound are dropped and counted, and
// once the disk answers every line kept is written, in order, followed by
// one that says how many were dropped.
func TestLogDoesNotWaitForAStuckDisk(t *testing.T) {
	w := &gatedWriter{open: make(chan struct{}), writing: make(chan struct{})}
	l := New(w, "ams3", "n1")
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); l.Run(ctx, time.Hour, nil) }()

	const total = 40000 // ~8 MiB of lines: twice the bound
	logged := make(chan struct{})
	go func() {
		defer close(logged)
		for i := range total {
			l.Log(&Entry{ReqID: strconv.Itoa(i), Site: "a.example.com", Method: "GET", Path: "/" + strings.Repeat("p", 150), Status: 200})
		}
	}()
	select {
	case <-w.writing:
	case <-time.After(10 * time.Second):
		t.Fatal("the writer was not woken by 64 KiB of lines")
	}
	select {
	case <-logged:
	case <-time.After(30 * time.Second):
		t.Fatal("Log waited for a disk that does not answer")
	}
	lost := l.Lost()
	if lost == 0 || lost >= total {
		t.Fatalf("%d of %d lines lost; want some dropped past the bound, not all", lost, total)
	}
	close(w.open)
	cancel()
	<-ran

	lines := strings.Split(strings.TrimSuffix(w.buf.String(), "\n"), "\n")
	next, kept, reported := 0, 0, uint64(0)
	for _, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%v: %.100s", err, line)
		}
		if d, ok := m["dropped_lines"]; ok {
			reported += uint64(d.(float64))
			continue
		}
		id, _ := strconv.Atoi(m["req_id"].(string))
		if id < next {
			t.Fatalf("line %d written after line %d", id, next-1)
		}
		next = id + 1
		kept++
	}
	if uint64(kept)+lost != total || reported != lost {
		t.Fatalf("%d lines written, %d lost, %d reported dropped; want %d in all and the drops reported", kept, lost, reported, total)
	}
}

// The writer does not wait for its interval once 64 KiB are waiting.
func TestRunWritesAFullBufferBeforeItsInterval(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	l := New(writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return buf.Write(p) }), "", "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go l.Run(ctx, time.Hour, nil)
	for range 1000 {
		l.Log(&Entry{ReqID: strings.Repeat("r", 100)})
	}
	poll.Until(t, "a full buffer written", func() bool { mu.Lock(); defer mu.Unlock(); return buf.Len() >= 64<<10 })
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// A failed write loses its lines: they are counted, Flush returns the
// error, Run reports a failure once, not on every interval, and the first
// write afterwards says how many lines were lost.
func TestFailedWritesAreCountedAndReportedOnce(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	var mu sync.Mutex
	var buf bytes.Buffer
	l := New(writerFunc(func(p []byte) (int, error) {
		if fail.Load() {
			return 0, errors.New("disk full")
		}
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), "", "")
	l.Log(&Entry{ReqID: "a"})
	l.Log(&Entry{ReqID: "b"})
	if err := l.Flush(); err == nil || l.Lost() != 2 {
		t.Fatalf("Flush = %v with %d lost; want the error and 2", err, l.Lost())
	}
	var reports atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); l.Run(ctx, time.Millisecond, func(error) { reports.Add(1) }) }()
	for i := range 5 {
		l.Log(&Entry{ReqID: strconv.Itoa(i)})
		poll.Until(t, "the failed write", func() bool { return l.Lost() == uint64(3+i) })
	}
	fail.Store(false)
	l.Log(&Entry{ReqID: "after"})
	poll.Until(t, "the line after the disk recovered", func() bool { mu.Lock(); defer mu.Unlock(); return strings.Contains(buf.String(), `"after"`) })
	cancel()
	<-ran
	if n := reports.Load(); n != 1 {
		t.Fatalf("%d failures reported for one outage; want 1", n)
	}
	// The first write after the outage says how many lines were lost.
	mu.Lock()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	mu.Unlock()
	var reported float64
	for _, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if d, ok := m["dropped_lines"].(float64); ok {
			reported += d
		}
	}
	if reported != 7 {
		t.Fatalf("%v lines reported lost after the outage, want 7: %q", reported, lines)
	}
}
