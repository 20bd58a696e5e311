package framing

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-edge/rampart/edgeagent/internal/rawhttp"
	"github.com/rampart-edge/rampart/edgeagent/internal/testcert"
)

const h = "Host: a\r\n"

// parse feeds stream to a fresh parser in pieces of size step (0: whole)
// and returns the first refused request number (0: none), the reason and
// how many requests were numbered.
func parse(stream string, step int) (uint64, string, uint64) {
	c := NewConn(nil, 1<<10)
	b := []byte(stream)
	if step == 0 {
		step = len(b)
	}
	for len(b) > 0 {
		k := min(step, len(b))
		// A fresh copy each time: the parser must not keep the caller's buffer.
		piece := append([]byte(nil), b[:k]...)
		c.feed(piece)
		for i := range piece {
			piece[i] = 'Z'
		}
		b = b[k:]
	}
	from := c.refuseFrom.Load()
	if from == math.MaxUint64 {
		from = 0
	}
	return from, c.Refused(), c.next - 1
}

func TestParser(t *testing.T) {
	get := "GET / HTTP/1.1\r\n" + h + "\r\n"
	tests := []struct {
		name     string
		stream   string
		refuse   uint64 // 0: none
		reason   string
		numbered uint64
	}{
		{"one get", get, 0, "", 1},
		{"pipelined gets", get + get + get, 0, "", 3},
		{"lf only lines", "GET / HTTP/1.1\nHost: a\n\n" + get, 0, "", 2},
		{"length body", "POST / HTTP/1.1\r\n" + h + "Content-Length: 5\r\n\r\nhello" + get, 0, "", 2},
		{"body that looks like a request", "POST / HTTP/1.1\r\n" + h + "Content-Length: 18\r\n\r\nGET / HTTP/1.1\r\n\r\n" + get, 0, "", 2},
		{"same length twice", "POST / HTTP/1.1\r\n" + h + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc" + get, 0, "", 2},
		{"leading zeros", "POST / HTTP/1.1\r\n" + h + "Content-Length: 003\r\n\r\nabc" + get, 0, "", 2},
		{"chunked", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nA;ext=1\r\n0123456789\r\n0\r\n\r\n" + get, 0, "", 2},
		{"chunked upper case, tab", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding:\tChunked \r\n\r\n3 \r\nabc\r\n0\r\n\r\n" + get, 0, "", 2},
		{"chunked with trailer", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n" + get, 0, "", 2},
		{"chunk data with a request in it", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n12\r\nGET / HTTP/1.1\r\n\r\n\r\n0\r\n\r\n" + get, 0, "", 2},
		{"options star is not numbered", "OPTIONS * HTTP/1.1\r\n" + h + "\r\n" + get, 0, "", 1},

		{"cl and te", "POST / HTTP/1.1\r\n" + h + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" + get, 1, ReasonAmbiguous, 1},
		{"te and cl, lower case", get + "POST / HTTP/1.1\r\n" + h + "transfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n0\r\n\r\n" + get, 2, ReasonAmbiguous, 2},
		{"te on http/1.0", "POST / HTTP/1.0\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 1, ReasonAmbiguous, 1},
		{"other te on http/1.0", "POST / HTTP/1.0\r\n" + h + "Transfer-Encoding: gzip\r\nContent-Length: 0\r\n\r\n", 1, ReasonAmbiguous, 1},
		{"obs-fold", get + "GET / HTTP/1.1\r\n" + h + "X-A: 1\r\n 2\r\n\r\n" + get, 2, ReasonAmbiguous, 2},
		{"folded te", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding:\r\n\tchunked\r\n\r\n0\r\n\r\n", 1, ReasonAmbiguous, 1},
		{"bad options star", "OPTIONS * HTTP/1.1\r\n" + h + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + get, 1, ReasonAmbiguous, 0},
		{"two lengths", "POST / HTTP/1.1\r\n" + h + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 1, ReasonMalformed, 1},
		{"plus length", "POST / HTTP/1.1\r\n" + h + "Content-Length: +3\r\n\r\nabc", 1, ReasonMalformed, 1},
		{"two hosts", get + "GET / HTTP/1.1\r\n" + h + "host: b.example\r\n\r\n" + get, 2, ReasonMalformed, 2},
		{"two codings", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 1, ReasonMalformed, 1},
		{"coding list", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 1, ReasonMalformed, 1},
		{"bad chunk size", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n" + get, 2, ReasonMalformed, 1},
		{"0x chunk size", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n", 2, ReasonMalformed, 1},
		{"17 digit chunk size", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n00000000000000003\r\nabc\r\n0\r\n\r\n", 2, ReasonMalformed, 1},
		{"bare lf chunk line", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", 2, ReasonMalformed, 1},
		{"chunk data too long", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n", 2, ReasonMalformed, 1},
		{"leading blank line", "\r\n" + get, 1, ReasonMalformed, 0},
		{"head over the limit", "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 20<<10) + "\r\n\r\n", 1, ReasonMalformed, 0},
		{"endless chunk line", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n3;" + strings.Repeat("a", 5000), 2, ReasonMalformed, 1},
	}
	for _, tt := range tests {
		for _, step := range []int{0, 1, 7} {
			from, reason, n := parse(tt.stream, step)
			if from != tt.refuse || reason != tt.reason || n != tt.numbered {
				t.Errorf("%s (step %d): refuse from %d (%q), %d numbered; want %d (%q), %d",
					tt.name, step, from, reason, n, tt.refuse, tt.reason, tt.numbered)
			}
		}
	}
}

// serve runs an http.Server over a framing listener on 127.0.0.1 whose
// handler refuses what Admit refuses, and records what it served.
func serve(t *testing.T, tlsCfg *tls.Config) (addr string, served func() []string) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	hs := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if ok, why := Admit(r); !ok {
				w.Header().Set("Connection", "close")
				http.Error(w, why, http.StatusBadRequest)
				return
			}
			b, err := io.ReadAll(r.Body)
			if err != nil {
				w.Header().Set("Connection", "close")
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			mu.Lock()
			seen = append(seen, r.Method+" "+r.URL.Path+" "+string(b)+" tls="+map[bool]string{true: r.Proto, false: "no"}[r.TLS != nil])
			mu.Unlock()
			io.WriteString(w, "ok")
		}),
		ConnContext: ConnContext,
		ConnState:   ConnState,
		TLSConfig:   tlsCfg,
	}
	var ln net.Listener = &Listener{Listener: inner}
	if tlsCfg != nil {
		ln = NewTLSListener(inner, tlsCfg, 5*time.Second, 0)
	}
	done := make(chan struct{})
	go func() { defer close(done); hs.Serve(ln) }()
	t.Cleanup(func() { hs.Close(); <-done })
	return inner.Addr().String(), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

func TestServerRefusesAmbiguousRequestAndWhatFollows(t *testing.T) {
	addr, served := serve(t, nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A normal request, then CL+TE carrying a request in its "body" (as a
	// TE.CL front would see it), then one more: only the first is served.
	raw := "POST /first HTTP/1.1\r\n" + h + "Content-Length: 2\r\n\r\nhi" +
		"POST /cl-te HTTP/1.1\r\n" + h + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"5c\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n" + strings.Repeat("x", 92-len("GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n")) + "\r\n0\r\n\r\n" +
		"GET /after HTTP/1.1\r\n" + h + "\r\n"
	codes := exchange(t, c, raw, 4)
	if len(codes) != 2 || codes[0] != 200 || codes[1] != 400 {
		t.Fatalf("statuses %v, want [200 400] and the connection closed", codes)
	}
	if got := served(); len(got) != 1 || got[0] != "POST /first hi tls=no" {
		t.Fatalf("served %q", got)
	}

	// Go's server answers OPTIONS * without the handler: the numbering
	// must skip it, or the refusal would land on the wrong request.
	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	raw = "GET /1 HTTP/1.1\r\n" + h + "\r\n" + "OPTIONS * HTTP/1.1\r\n" + h + "\r\n" + "GET /2 HTTP/1.1\r\n" + h + "\r\n" +
		"POST /bad HTTP/1.1\r\n" + h + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
		"GET /after HTTP/1.1\r\n" + h + "\r\n"
	if codes := exchange(t, c2, raw, 5); len(codes) != 4 || codes[0] != 200 || codes[1] != 200 || codes[2] != 200 || codes[3] != 400 {
		t.Fatalf("with OPTIONS *: statuses %v, want [200 200 200 400]", codes)
	}
	if got := served(); len(got) != 3 || got[1] != "GET /1  tls=no" || got[2] != "GET /2  tls=no" {
		t.Fatalf("with OPTIONS *: served %q", got)
	}
}

func TestServerKeepsPipelinedAndChunkedRequests(t *testing.T) {
	addr, served := serve(t, nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw := "GET /1 HTTP/1.1\r\n" + h + "\r\n" +
		"POST /2 HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n" +
		"POST /3 HTTP/1.1\r\n" + h + "Content-Length: 3\r\n\r\nxyz" +
		"GET /4 HTTP/1.1\r\n" + h + "\r\n"
	codes := exchange(t, c, raw, 4)
	if len(codes) != 4 || codes[0]+codes[1]+codes[2]+codes[3] != 800 {
		t.Fatalf("statuses %v", codes)
	}
	want := []string{"GET /1  tls=no", "POST /2 abcde tls=no", "POST /3 xyz tls=no", "GET /4  tls=no"}
	if got := served(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("served %q, want %q", got, want)
	}
}

func TestTLSListenerFollowsHTTP1AndLeavesHTTP2(t *testing.T) {
	ca, err := testcert.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	chain, key, err := ca.Leaf("a.test")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(chain, key)
	if err != nil {
		t.Fatal(err)
	}
	addr, served := serve(t, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}})
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.CertPEM)

	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "a.test", NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw := "GET /ok HTTP/1.1\r\n" + h + "\r\n" +
		"POST /bad HTTP/1.1\r\n" + h + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
		"GET /after HTTP/1.1\r\n" + h + "\r\n"
	if codes := exchange(t, c, raw, 3); len(codes) != 2 || codes[0] != 200 || codes[1] != 400 {
		t.Fatalf("h1 over TLS: statuses %v, want [200 400]", codes)
	}

	// HTTP/2 goes to the server untouched, with its TLS state.
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "a.test"}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Post("https://"+addr+"/h2", "text/plain", strings.NewReader("body"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Fatalf("h2: %d %s", resp.StatusCode, resp.Proto)
	}
	want := []string{"GET /ok  tls=HTTP/1.1", "POST /h2 body tls=HTTP/2.0"}
	if got := served(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("served %q, want %q", got, want)
	}
}

func TestHijackedConnectionIsNotParsed(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{ConnContext: ConnContext, ConnState: ConnState,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fc := r.Context().Value(ctxKey{}).(*Conn)
			c, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer c.Close()
			io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
			// What follows an upgrade is not HTTP: a blank line here would
			// be a malformed request head.
			buf := make([]byte, 12)
			if _, err := io.ReadFull(brw, buf); err != nil {
				return
			}
			io.WriteString(c, "refused="+fc.Refused()+"\n")
		})}
	done := make(chan struct{})
	go func() { defer close(done); hs.Serve(&Listener{Listener: inner}) }()
	defer func() { hs.Close(); <-done }()
	c, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\n"+h+"Upgrade: x\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	io.WriteString(c, "\r\n\r\n\x81\x85garbage")
	line, err := br.ReadString('\n')
	if err != nil || line != "refused=\n" {
		t.Fatalf("after the upgrade: %q %v", line, err)
	}
}

// BenchmarkFeed measures following a typical request head (what the edge
// adds to every HTTP/1.1 request), whole and split across reads.
func BenchmarkFeed(b *testing.B) {
	head := []byte("GET /assets/app.js?v=123 HTTP/1.1\r\nHost: shop.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0\r\n" +
		"Accept: */*\r\nAccept-Language: en-GB,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\nReferer: https://shop.example.com/\r\n" +
		"Cookie: session=0123456789abcdef0123456789abcdef\r\nConnection: keep-alive\r\n\r\n")
	b.Run("whole", func(b *testing.B) {
		c := NewConn(nil, 0)
		b.ReportAllocs()
		b.SetBytes(int64(len(head)))
		for b.Loop() {
			c.feed(head)
		}
	})
	b.Run("split", func(b *testing.B) {
		c := NewConn(nil, 0)
		b.ReportAllocs()
		b.SetBytes(int64(len(head)))
		for b.Loop() {
			c.feed(head[:100])
			c.feed(head[100:])
		}
	})
}

// TestRefusedClientReadsItsAnswer sends an ambiguous request followed by
// plenty of data the server never reads: the 400 still arrives, marked
// Connection: close, and nothing behind it is served.
func TestRefusedClientReadsItsAnswer(t *testing.T) {
	addr, served := serve(t, nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	raw := "POST /bad HTTP/1.1\r\n" + h + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
		strings.Repeat("GET /junk HTTP/1.1\r\nHost: a\r\n\r\n", 2000)
	go io.WriteString(c, raw)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || !resp.Close {
		t.Fatalf("status %d, close %v", resp.StatusCode, resp.Close)
	}
	if got := served(); len(got) != 0 {
		t.Fatalf("served %q", got)
	}
}

// exchange writes raw on c and reads up to n responses' status codes,
// stopping when the edge closes the connection.
func exchange(t *testing.T, c net.Conn, raw string, n int) []int {
	t.Helper()
	codes, _ := rawhttp.Exchange(c, raw, n)
	return codes
}
