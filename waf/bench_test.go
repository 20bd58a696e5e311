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

// benchEngine is the bench's WAF site: blocking, PL1, response inspection
// as asked.
func benchEngine(b *testing.B, inspectResponse bool) *Engine {
	b.Helper()
	e, err := Compile(api.WAFPolicy{Mode: api.WAFBlock, InspectResponse: inspectResponse}, Options{})
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

// runInspect inspects the request (with headers added to the bench's);
// with resp set it also inspects the response as the edge does (headers,
// then a text body through InspectResponse), so the figure is the WAF's
// whole cost for the exchange.
func runInspect(b *testing.B, e *Engine, method, target string, body []byte, resp func() *http.Response, headers ...[2]string) {
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		exchange(b, e, method, target, body, resp, headers...)
	}
}

// reportCPU starts counting the process's CPU time; the function it
// returns reports it per operation as cpu-ns/op.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() { b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op") }
}

// exchange is one request (and, with resp set, its response) through e.
func exchange(b *testing.B, e *Engine, method, target string, body []byte, resp func() *http.Response, headers ...[2]string) {
	r := benchRequest(method, target, body)
	for _, h := range headers {
		r.Header.Set(h[0], h[1])
	}
	tx, res := e.InspectRequest(r, benchClient)
	if res.Reject {
		b.Fatalf("benign request rejected: %+v", res)
	}
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
	}
	finish(b, tx, resp)
}

// finish inspects the response resp makes (none when resp is nil), sends
// it on, and closes tx.
func finish(b *testing.B, tx *Tx, resp func() *http.Response) {
	if resp != nil {
		rs := resp()
		if res := tx.InspectResponse(rs); res.Reject {
			b.Fatalf("benign response rejected: %+v", res)
		}
		io.Copy(io.Discard, rs.Body)
	}
	tx.Close()
}

// benchResponse is the bench origin's answer: status 200, its headers, body.
func benchResponse(contentType string, body []byte) func() *http.Response {
	return func() *http.Response {
		return &http.Response{
			StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{
				"Content-Type":   {contentType},
				"Content-Length": {strconv.Itoa(len(body))},
				"Cache-Control":  {"no-store"},
				"Date":           {"Tue, 24 Nov 2026 07:30:00 GMT"},
			},
			ContentLength: int64(len(body)),
			Body:          io.NopCloser(bytes.NewReader(body)),
		}
	}
}

// BenchmarkInspectGET is the bench's "WAF GET 1 KB" request at PL1.
func BenchmarkInspectGET(b *testing.B) {
	e := benchEngine(b, false)
	runInspect(b, e, "GET", benchGET, nil, nil)
}

// BenchmarkInspectJSON4K is the bench's "WAF POST 4 KB JSON (70 objects)" request at PL1.
func BenchmarkInspectJSON4K(b *testing.B) {
	e := benchEngine(b, false)
	runInspect(b, e, "POST", "/api", OrdersJSON(), nil)
}

// BenchmarkExchangeGET is BenchmarkInspectGET with the response inspected
// too: the bench origin's 1 KB text/plain answer.
func BenchmarkExchangeGET(b *testing.B) {
	e := benchEngine(b, true)
	runInspect(b, e, "GET", benchGET, nil, benchText1K())
}

// benchGET is the bench's WAF GET target, benchText1K the origin's answer.
const benchGET = "/nostore/1k?id=42&q=blue+widgets&page=2"

func benchText1K() func() *http.Response {
	return benchResponse("text/plain; charset=utf-8", bytes.Repeat([]byte("rampart!"), 128))
}

// BenchmarkExchangeGETInflight is BenchmarkExchangeGET with 64
// transactions in flight, as the edge has under wrk -c64: one per
// connection, held from the request's inspection across the origin's
// round trip to the response's. Each exchange's response is inspected 64
// requests after its request, on a transaction whose state has been out of
// use (and out of the caches) since; its request was inspected on the
// transaction the previous exchange closed, as the pool hands them out.
// Against BenchmarkExchangeGET this is the cost of the transactions'
// working set.
func BenchmarkExchangeGETInflight(b *testing.B) {
	e := benchEngine(b, true)
	resp := benchText1K()
	ring := make([]*Tx, 64)
	b.ReportAllocs()
	report := reportCPU(b)
	i := 0
	for b.Loop() {
		slot := i % len(ring)
		i++
		if tx := ring[slot]; tx != nil {
			finish(b, tx, resp)
		}
		tx, res := e.InspectRequest(benchRequest("GET", benchGET, nil), benchClient)
		if res.Reject {
			b.Fatalf("benign request rejected: %+v", res)
		}
		ring[slot] = tx
	}
	report()
	for _, tx := range ring {
		if tx != nil {
			tx.Close()
		}
	}
}

// BenchmarkExchangeGETCold is BenchmarkExchangeGET with the CPU's caches
// evicted before every exchange (a 16 MiB walk, not timed), as wrk, the
// origin and the kernel evict them between a request's phases in the edge:
// the loop above keeps the rules, automata and code cached, the edge does
// not. ns/op is the exchange alone (wall time: run it on a quiet machine).
func BenchmarkExchangeGETCold(b *testing.B) {
	e := benchEngine(b, true)
	resp := benchText1K()
	evict := make([]byte, 16<<20)
	for range 200 { // the DFAs' states and the static runs' recordings
		exchange(b, e, "GET", benchGET, nil, resp)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for j := 0; j < len(evict); j += 64 {
			evict[j]++
		}
		b.StartTimer()
		exchange(b, e, "GET", benchGET, nil, resp)
	}
}

// BenchmarkExchangeJSON4K is BenchmarkInspectJSON4K with the response
// inspected too: the origin echoes the JSON (not a body type the WAF reads).
func BenchmarkExchangeJSON4K(b *testing.B) {
	e := benchEngine(b, true)
	runInspect(b, e, "POST", "/api", OrdersJSON(), benchResponse("application/json", OrdersJSON()))
}

// browserHeaders are what a current desktop browser sends with a page
// navigation (Chromium 131): a dozen headers, cookies included.
var browserHeaders = [][2]string{
	{"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"},
	{"Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"},
	{"Accept-Encoding", "gzip, deflate, br, zstd"},
	{"Accept-Language", "en-GB,en-US;q=0.9,en;q=0.8"},
	{"Cache-Control", "max-age=0"},
	{"Cookie", "session=7f3a9c2e41b84d0f9a6c5e2d1b0a9f8e; theme=dark; _ga=GA1.1.1234567890.1733390000"},
	{"Referer", "https://waf.bench.rampart.test/catalogue?page=1"},
	{"Sec-Ch-Ua", `"Chromium";v="131", "Not_A Brand";v="24"`},
	{"Sec-Ch-Ua-Mobile", "?0"},
	{"Sec-Ch-Ua-Platform", `"Linux"`},
	{"Sec-Fetch-Dest", "document"},
	{"Sec-Fetch-Mode", "navigate"},
	{"Sec-Fetch-Site", "same-origin"},
	{"Sec-Fetch-User", "?1"},
	{"Upgrade-Insecure-Requests", "1"},
}

// BenchmarkExchangeBrowserGET is BenchmarkExchangeGET with the headers a
// browser sends (the bench's wrk sends three): the CRS reads every header,
// so this is closer to what a page view costs.
func BenchmarkExchangeBrowserGET(b *testing.B) {
	e := benchEngine(b, true)
	runInspect(b, e, "GET", "/catalogue?page=2&sort=price", nil,
		benchResponse("text/html; charset=utf-8", bytes.Repeat([]byte("<p>rampart</p>\n"), 68)), browserHeaders...)
}
