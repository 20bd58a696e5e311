package waf

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
)

func benchEngine(b *testing.B) *Engine {
	b.Helper()
	e, err := Compile(api.WAFPolicy{Mode: api.WAFBlock}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	return e
}

var benchClient = netip.MustParseAddr("192.0.2.10")

func benchRequest(method, target string, body []byte) *http.Request {
	var r *http.Request
	if body == nil {
		r = httptest.NewRequest(method, target, nil)
	} else {
		r = httptest.NewRequest(method, target, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	}
	r.Host = "waf.bench.rampart.test"
	r.Header.Set("Accept", "*/*")
	r.Header.Set("User-Agent", "rampart-bench")
	return r
}

// cpuTime is the process's user+system CPU time: the machine is shared, so
// CPU per operation is steadier than wall-clock time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func runInspect(b *testing.B, e *Engine, method, target string, body []byte) {
	b.ReportAllocs()
	start := cpuTime()
	defer func() { b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op") }()
	for b.Loop() {
		r := benchRequest(method, target, body)
		tx, res := e.InspectRequest(r, benchClient)
		if res.Reject {
			b.Fatalf("benign request rejected: %+v", res)
		}
		if r.Body != nil {
			io.Copy(io.Discard, r.Body)
		}
		tx.Close()
	}
}

// BenchmarkInspectGET is the bench's "WAF GET 1 KB" request at PL1.
func BenchmarkInspectGET(b *testing.B) {
	e := benchEngine(b)
	runInspect(b, e, "GET", "/nostore/1k?id=42&q=blue+widgets&page=2", nil)
}

// BenchmarkInspectJSON4K is the bench's "WAF POST 4 KB JSON (70 objects)" request at PL1.
func BenchmarkInspectJSON4K(b *testing.B) {
	e := benchEngine(b)
	runInspect(b, e, "POST", "/api", OrdersJSON())
}
