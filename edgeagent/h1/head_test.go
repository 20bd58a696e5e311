package h1

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"
)

// headCases are request heads for the fast path, the ones it must pass on
// to http.ReadRequest included.
var headCases = []string{
	"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n",
	"GET /cache/1k?x=1&y=%20 HTTP/1.1\r\nHost: cache.bench.test\r\nAccept: */*\r\nUser-Agent: rampart-bench\r\n\r\n",
	"HEAD /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	"GET /a HTTP/1.0\r\n\r\n",
	"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	"GET /a HTTP/1.1\r\nHost: x\r\nconnection: Keep-Alive, Close\r\n\r\n",
	"GET /a HTTP/1.1\r\nhost: x\r\naccept-encoding: gzip\r\nx-forwarded-for: 1.2.3.4\r\nX-MIXED-case: 1\r\n\r\n",
	"GET /a HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nx-a: 2\r\nX-A:3\r\n\r\n",
	"GET /a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
	"GET /a HTTP/1.1\r\nHost: x\r\nPragma: no-cache\r\n\r\n",
	"GET /a HTTP/1.1\r\nHost: x\r\nPragma: no-cache\r\nCache-Control: max-age=0\r\n\r\n",
	"GET /a HTTP/1.1\r\nHost: x\r\nX-Empty:\r\nX-Spaces: \t a b \t\r\n\r\n",
	"GET /a#frag HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET //double/../p?q HTTP/1.1\r\nHost: x\r\n\r\n",
	"DELETE /x HTTP/1.1\r\nHost: x\r\n\r\n",
	"OPTIONS /x HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET /a HTTP/1.1\r\nHost: x\r\nA_b: 1\r\nc.d: 2\r\n9x: 3\r\n\r\n",
	"GET /a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n",
	// Passed on (still read by http.ReadRequest):
	"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
	"GET /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"GET /a HTTP/1.1\r\nHost: x\r\ncontent-length: 0\r\n\r\n",
	"GET http://x/a HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET * HTTP/1.1\r\nHost: x\r\n\r\n",
	"CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n",
	"PROPFIND /a HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET /a HTTP/1.1\nHost: x\n\n",
	"GET /a HTTP/1.1\r\nHost: x\nX: y\r\n\r\n",
	"GET /a HTTP/1.1\r\nHost: x\r\nX: a\r\n folded\r\n\r\n",
	"GET /a HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n",
	"GET /a HTTP/1.1\r\nHost: x\r\nX : y\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
	"GET /a HTTP/1.1\r\nHost: x\r\nX: caf\xc3\xa9\r\n\r\n",
	"GET /a HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n",
	"GET /a\x7f HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET /a HTTP/2.0\r\nHost: x\r\n\r\n",
	"GET  /a HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET /a HTTP/1.1 \r\nHost: x\r\n\r\n",
	"GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET /a HTTP/1.1\r\nHost: x\r\n",
	"get /a HTTP/1.1\r\nHost: x\r\n\r\n",
	": x\r\n\r\n",
}

// describe is what a handler can see of a request head.
func describe(r *http.Request, err error) string {
	if err != nil {
		return "error"
	}
	return fmt.Sprintf("%s|%s|%s|%s|%d.%d|%v|%q|%d|%v|%v|%v", r.Method, r.URL.String(), r.RequestURI, r.Proto, r.ProtoMajor, r.ProtoMinor,
		r.Close, r.Host, r.ContentLength, r.TransferEncoding, r.Body == http.NoBody, r.Trailer)
}

// checkAgainstGo reads raw with readRequest and with http.ReadRequest and
// fails on any difference; it reports whether the fast path took it.
func checkAgainstGo(t *testing.T, raw string) bool {
	t.Helper()
	buffered := func() *bufio.Reader { // as the server: what arrived is in the buffer
		br := bufio.NewReaderSize(strings.NewReader(raw), 4096)
		br.Peek(min(len(raw), 4096))
		return br
	}
	took := parseBufferedHead(buffered()) != nil
	pr := buffered()
	got, gerr := readRequest(pr)
	want, werr := http.ReadRequest(bufio.NewReaderSize(strings.NewReader(raw), 4096))
	if werr == nil && !validFields(want.Header) {
		werr = errInvalidField // net/http's server refuses it after parsing
	}
	if describe(got, gerr) != describe(want, werr) {
		t.Errorf("%q:\n got %s\nwant %s", raw, describe(got, gerr), describe(want, werr))
		return took
	}
	if gerr == nil && !reflect.DeepEqual(map[string][]string(got.Header), map[string][]string(want.Header)) {
		t.Errorf("%q: header\n got %q\nwant %q", raw, got.Header, want.Header)
	}
	if gerr == nil {
		// Both consumed the same bytes: the next read sees the same rest.
		if a, b := pr.Buffered(), len(raw)-headLen(raw); took && a != b {
			t.Errorf("%q: %d bytes left after the head, want %d", raw, a, b)
		}
	}
	return took
}

var errInvalidField = errors.New("invalid field")

func validFields(h http.Header) bool {
	for k, vv := range h {
		if !httpguts.ValidHeaderFieldName(k) {
			return false
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return false
			}
		}
	}
	return true
}

func headLen(raw string) int {
	if i := strings.Index(raw, "\r\n\r\n"); i >= 0 {
		return i + 4
	}
	return len(raw)
}

func TestFastHeadAgreesWithReadRequest(t *testing.T) {
	fast := 0
	for _, raw := range headCases {
		if checkAgainstGo(t, raw) {
			fast++
		}
		// With something after the head (a pipelined request).
		checkAgainstGo(t, raw+"GET /next HTTP/1.1\r\nHost: n\r\n\r\n")
	}
	if fast < 15 {
		t.Errorf("the fast path took only %d of the heads meant for it", fast)
	}
}

func FuzzFastHead(f *testing.F) {
	for _, raw := range headCases {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		checkAgainstGo(t, raw)
	})
}

func BenchmarkReadHead(b *testing.B) {
	raw := "GET /cache/1k HTTP/1.1\r\nHost: cache.bench.test\r\nAccept: */*\r\nUser-Agent: rampart-bench\r\n\r\n"
	for _, name := range []string{"fast", "net-http"} {
		b.Run(name, func(b *testing.B) {
			rd := strings.NewReader(raw)
			br := bufio.NewReaderSize(rd, 4096)
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(raw)
				br.Reset(rd)
				br.Peek(1)
				var r *http.Request
				var err error
				if name == "fast" {
					r, err = readRequest(br)
				} else {
					r, err = http.ReadRequest(br)
				}
				if err != nil || r.Host == "" {
					b.Fatal(err)
				}
			}
		})
	}
}
