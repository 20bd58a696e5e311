package proxy

import (
	"bufio"
	"bytes"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// writeBoth returns what writeRequest and req.Write write for req (a
// body is read again from GetBody).
func writeBoth(t *testing.T, req *http.Request) (got, want string) {
	t.Helper()
	var a, b bytes.Buffer
	wa, wb := bufio.NewWriter(&a), bufio.NewWriter(&b)
	errA := writeRequest(wa, req)
	wa.Flush()
	if req.GetBody != nil {
		req.Body, _ = req.GetBody()
	}
	errB := req.Write(wb)
	wb.Flush()
	if (errA == nil) != (errB == nil) {
		t.Fatalf("writeRequest error %v, req.Write error %v", errA, errB)
	}
	return a.String(), b.String()
}

// TestWriteRequestMatchesNetHTTP: the fast path writes what net/http
// writes, for the requests the proxy makes and for random ones with odd
// hosts, targets, header names and values.
func TestWriteRequestMatchesNetHTTP(t *testing.T) {
	fixed := []*http.Request{
		{Method: "GET", Host: "origin.test", URL: &url.URL{Path: "/nostore/1k", RawQuery: "id=42&q=blue+widgets"},
			Header: http.Header{"Accept": {"*/*"}, "User-Agent": {"rampart-bench"}, "X-Forwarded-For": {"192.0.2.1"}}},
		{Method: "HEAD", Host: "[::1]:8080", URL: &url.URL{Path: "/a b", RawPath: ""},
			Header: http.Header{"User-Agent": {""}, "Cookie": {"a=1", "b=2"}}},
		{Method: "GET", Host: "h", URL: &url.URL{ForceQuery: true}, Header: http.Header{}},
		{Method: "GET", Host: "h", URL: &url.URL{Path: "/x"},
			Header: http.Header{"X-Odd": {" padded\t", "line\r\nbreak", "\xff\xfe\n"}, "Bad Name": {"v"}, "X-Empty": {}}},
		{Method: "GET", Host: "h", URL: &url.URL{Path: "/ctl\x01"}, Header: http.Header{}},
		{Method: "GET", Host: "bad host/x", URL: &url.URL{Path: "/"}, Header: http.Header{}},
		{Method: "GET", Host: "[fe80::1%25eth0]:80", URL: &url.URL{Path: "/"}, Header: http.Header{}},
		{Method: "GET", Host: "h", URL: &url.URL{Path: "/"}, Header: http.Header{"Content-Length": {"9"}, "Trailer": {"x"}, "Host": {"other"}}},
		{Method: "DELETE", Host: "h", URL: &url.URL{Path: "/"}, Header: http.Header{}},
		{Method: "POST", Host: "h", URL: &url.URL{Path: "/"}, Header: http.Header{}, ContentLength: 3,
			Body:    io.NopCloser(strings.NewReader("abc")),
			GetBody: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("abc")), nil }},
		{Method: "GET", Host: "h", URL: &url.URL{Path: "/"}, Header: http.Header{}, Close: true},
	}
	for i, req := range fixed {
		if got, want := writeBoth(t, req); got != want {
			t.Errorf("request %d:\n got %q\nwant %q", i, got, want)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(s string) byte { return s[rng.IntN(len(s))] }
	const chars = "aZ09-._~/%?#&= \t\r\n:[]@!\x00\x7f\xc3\xa9"
	str := func(n int) string {
		var b strings.Builder
		for range rng.IntN(n) {
			b.WriteByte(pick(chars))
		}
		return b.String()
	}
	keys := []string{"Accept", "User-Agent", "X-A", "X-B", "Cookie", "Content-Length", "Trailer", "Transfer-Encoding", "Host", "X-Bad Key", ""}
	for i := range 3000 {
		req := &http.Request{
			Method: []string{"GET", "HEAD", "GET", "OPTIONS"}[rng.IntN(4)],
			Host:   []string{"origin.test", "origin.test:8080", "[::1]", str(8)}[rng.IntN(4)],
			URL:    &url.URL{Path: "/" + str(12), RawQuery: str(10), ForceQuery: rng.IntN(8) == 0},
			Header: http.Header{},
		}
		for range rng.IntN(8) {
			k := keys[rng.IntN(len(keys))]
			for range rng.IntN(3) {
				req.Header[k] = append(req.Header[k], str(10))
			}
		}
		if got, want := writeBoth(t, req); got != want {
			t.Fatalf("random request %d (%+v):\n got %q\nwant %q", i, req, got, want)
		}
	}
}

// TestWriteRequestFastPath: the proxy's requests take the fast path (the
// test above would pass with req.Write alone).
func TestWriteRequestFastPath(t *testing.T) {
	req := &http.Request{Method: "GET", Host: "origin.test", URL: &url.URL{Path: "/"}, Header: http.Header{"User-Agent": {""}}}
	if !plainRequest(req) {
		t.Fatal("a GET without body is not written by the fast path")
	}
	w := bufio.NewWriter(io.Discard)
	if n := testing.AllocsPerRun(100, func() {
		writeRequest(w, req)
		w.Flush()
	}); n != 0 {
		t.Errorf("writeRequest allocates %v times, want none", n)
	}
}
