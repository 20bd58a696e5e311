package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// respCases are origin response heads (and bodies) for the fast path, the
// ones it must pass on to http.ReadResponse included.
var respCases = []string{
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Length: 10\r\nContent-Type: text/plain; charset=utf-8\r\nDate: Sat, 05 Dec 2026 20:00:00 GMT\r\n\r\n0123456789",
	"HTTP/1.1 404 Not Found\r\ncontent-length: 3\r\ncontent-type: text/html\r\n\r\nnop",
	"HTTP/1.1 200 \r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length:  7 \t\r\n\r\nsevenxx",
	"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nhi",
	"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nSET-COOKIE:c=3\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 200 OK\r\nPragma: no-cache\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 200 OK\r\nPragma: no-cache\r\nCache-Control: max-age=5\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 200 OK\r\nX-Empty:\r\nX-Spaces: \t a b \t\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 301 Moved Permanently\r\nLocation: https://a.example/\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nA_b: 1\r\nc.d: 2\r\n9x: 3\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
	"HTTP/1.1 999 Odd\r\nContent-Length: 1\r\n\r\nx",
	// Passed on (still read by http.ReadResponse):
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
	"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
	"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
	"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: Keep-Alive, Close\r\n\r\nabc",
	"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: CLOSE\r\n\r\nabc",
	"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTrailer: X-T\r\n\r\nabc",
	"HTTP/1.1 200 OK\r\n\r\nuntil the end",
	"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc",
	"HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n",
	"HTTP/1.1 304 Not Modified\r\nContent-Length: 3\r\n\r\n",
	"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\nabc",
	"HTTP/1.1 200 OK\r\nContent-Length: 3x\r\n\r\nabc",
	"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\nabc",
	"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\nabc",
	"HTTP/1.1 200 OK\nContent-Length: 1\n\nx",
	"HTTP/1.1 200 OK\r\nX: a\r\n folded\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 200 OK\r\nBad Name: y\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 200 OK\r\nX : y\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 200 OK\r\nX: caf\xc3\xa9\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 200 OK\r\nX: a\x01b\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 2x0 OK\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1  200 OK\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/2.0 200 OK\r\nContent-Length: 1\r\n\r\nx",
	"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n",
	": x\r\n\r\n",
}

// describeResp is what the proxy sees of a response: its fields and body.
func describeResp(r *http.Response, err error) string {
	if err != nil {
		return "error"
	}
	body, berr := io.ReadAll(r.Body)
	return fmt.Sprintf("%s|%d|%s|%d.%d|%v|%d|%v|%v|%q|%v", r.Status, r.StatusCode, r.Proto, r.ProtoMajor, r.ProtoMinor,
		r.Close, r.ContentLength, r.TransferEncoding, r.Trailer, body, berr)
}

// checkRespAgainstGo reads raw with readBufferedResponse and with
// http.ReadResponse and fails on any difference; it reports whether the
// fast path took it.
func checkRespAgainstGo(t *testing.T, raw string) bool {
	t.Helper()
	req := &http.Request{Method: http.MethodGet}
	br := bufio.NewReaderSize(strings.NewReader(raw), 4096)
	br.Peek(min(len(raw), 4096)) // as the proxy: what arrived is in the buffer
	got := readBufferedResponse(br, req)
	if got == nil {
		return false // nothing consumed: http.ReadResponse reads it all
	}
	want, werr := http.ReadResponse(bufio.NewReaderSize(strings.NewReader(raw), 4096), req)
	gh, wh := fmt.Sprint(got.Header), ""
	if werr == nil {
		wh = fmt.Sprint(want.Header)
	}
	if a, b := describeResp(got, nil), describeResp(want, werr); a != b {
		t.Errorf("%q:\n got %s\nwant %s", raw, a, b)
	}
	if werr == nil && !reflect.DeepEqual(map[string][]string(got.Header), map[string][]string(want.Header)) {
		t.Errorf("%q: header\n got %s\nwant %s", raw, gh, wh)
	}
	if got.Request != req {
		t.Errorf("%q: Request not set", raw)
	}
	return true
}

func TestFastResponseAgreesWithReadResponse(t *testing.T) {
	fast := 0
	for _, raw := range respCases {
		if checkRespAgainstGo(t, raw) {
			fast++
		}
		// With the next response after it on the connection.
		checkRespAgainstGo(t, raw+"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext")
	}
	if fast != 15 {
		t.Errorf("the fast path took %d of the heads, want the 15 meant for it", fast)
	}
	// A HEAD request's response has no body, whatever its Content-Length.
	br := bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"))
	br.Peek(1)
	if readBufferedResponse(br, &http.Request{Method: http.MethodHead}) != nil {
		t.Error("a response to HEAD was taken")
	}
}

func FuzzFastResponse(f *testing.F) {
	for _, raw := range respCases {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		checkRespAgainstGo(t, raw)
	})
}

// The body ends with its length (io.EOF with the last bytes, the next
// response left in the buffer), reports a connection that ended early as
// io.ErrUnexpectedEOF, and refuses reads once closed.
func TestLengthBody(t *testing.T) {
	br := bufio.NewReaderSize(strings.NewReader("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1"), 64)
	br.Peek(1)
	resp := readBufferedResponse(br, &http.Request{Method: http.MethodGet})
	if resp == nil {
		t.Fatal("not taken")
	}
	p := make([]byte, 64)
	n, err := resp.Body.Read(p)
	if string(p[:n]) != "hello" || err != io.EOF {
		t.Errorf("read %q, %v; want hello, EOF", p[:n], err)
	}
	if rest, _ := br.Peek(br.Buffered()); string(rest) != "HTTP/1.1" {
		t.Errorf("left %q in the buffer", rest)
	}
	resp.Body.Close()
	if _, err := resp.Body.Read(p); err != http.ErrBodyReadAfterClose {
		t.Errorf("a read of the closed body: %v, want net/http's ErrBodyReadAfterClose", err)
	}

	br = bufio.NewReaderSize(strings.NewReader("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"), 64)
	br.Peek(1)
	resp = readBufferedResponse(br, &http.Request{Method: http.MethodGet})
	if resp == nil {
		t.Fatal("not taken")
	}
	if b, err := io.ReadAll(resp.Body); string(b) != "short" || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("read %q, %v; want short, unexpected EOF", b, err)
	}
}
