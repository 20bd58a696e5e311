package h1

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// start serves h on 127.0.0.1:0 and returns the address.
func start(t *testing.T, s *Server, h http.Handler) string {
	t.Helper()
	s.Handler = h
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != ErrServerClosed {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return ln.Addr().String()
}

// exchange writes raw on a new connection and reads until the server
// closes it or wait passes, returning what was read.
func exchange(t *testing.T, addr, raw string, wait time.Duration) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(wait))
	b, _ := io.ReadAll(c)
	return string(b)
}

// responses parses every response in raw, in order.
func responses(t *testing.T, raw string, methods ...string) []*http.Response {
	t.Helper()
	br := bufio.NewReader(strings.NewReader(raw))
	var out []*http.Response
	for _, m := range methods {
		resp, err := http.ReadResponse(br, &http.Request{Method: m})
		if err != nil {
			t.Fatalf("response %d of %q: %v", len(out)+1, raw, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("response %d body: %v", len(out)+1, err)
		}
		resp.Body = io.NopCloser(strings.NewReader(string(body)))
		bodies[resp] = string(body)
		out = append(out, resp)
	}
	if rest, _ := io.ReadAll(br); len(rest) > 0 {
		t.Fatalf("bytes after the responses: %q", rest)
	}
	return out
}

// bodies holds what responses() read of each body.
var bodies = map[*http.Response]string{}

func bodyOf(r *http.Response) string {
	if b, ok := bodies[r]; ok {
		return b
	}
	b, _ := io.ReadAll(r.Body)
	bodies[r] = string(b)
	return string(b)
}

// TestFramingOfResponses checks the body framing the server picks, read
// back by Go's client parser, with several requests on one connection.
func TestFramingOfResponses(t *testing.T) {
	big := strings.Repeat("z", holdBytes+1)
	addr := start(t, &Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/small": // no Content-Length: the server counts it
			io.WriteString(w, "hello")
		case "/big": // past what is held: chunked
			io.WriteString(w, big[:10])
			io.WriteString(w, big[10:])
		case "/declared":
			w.Header().Set("Content-Length", "3")
			io.WriteString(w, "abc")
		case "/flushed":
			io.WriteString(w, "a")
			w.(http.Flusher).Flush()
			io.WriteString(w, "b")
		case "/nocontent":
			w.WriteHeader(http.StatusNoContent)
			if _, err := io.WriteString(w, "x"); err != http.ErrBodyNotAllowed {
				t.Errorf("body on 204: %v", err)
			}
		case "/notmodified":
			w.Header().Set("Etag", `"1"`)
			w.WriteHeader(http.StatusNotModified)
		case "/trailer":
			w.Header().Set("Trailer", "X-Sum")
			w.WriteHeader(200)
			io.WriteString(w, "data")
			w.(http.Flusher).Flush()
			w.Header().Set("X-Sum", "42")
			w.Header().Set(http.TrailerPrefix+"X-Late", "yes")
		case "/toolong":
			w.Header().Set("Content-Length", "2")
			if _, err := io.WriteString(w, "abc"); err != http.ErrContentLength {
				t.Errorf("over Content-Length: %v", err)
			}
			io.WriteString(w, "ab")
		}
	}))
	paths := []string{"/small", "/big", "/declared", "/flushed", "/nocontent", "/notmodified", "/trailer", "/toolong", "/small"}
	var raw strings.Builder
	var methods []string
	for i, p := range paths {
		conn := ""
		if i == len(paths)-1 {
			conn = "Connection: close\r\n"
		}
		fmt.Fprintf(&raw, "GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n", p, conn)
		methods = append(methods, "GET")
	}
	out := exchange(t, addr, raw.String(), 5*time.Second)
	rs := responses(t, out, methods...)
	check := func(i int, status int, body string, cl int64, chunked bool) {
		t.Helper()
		r := rs[i]
		if r.StatusCode != status || bodyOf(r) != body || r.ContentLength != cl || (len(r.TransferEncoding) > 0) != chunked {
			t.Errorf("%s: status %d, body %.20q, length %d, te %v; want %d %.20q %d chunked=%v",
				paths[i], r.StatusCode, bodyOf(r), r.ContentLength, r.TransferEncoding, status, body, cl, chunked)
		}
		if r.Header.Get("Date") == "" {
			t.Errorf("%s: no Date", paths[i])
		}
	}
	check(0, 200, "hello", 5, false)
	check(1, 200, big, -1, true)
	check(2, 200, "abc", 3, false)
	check(3, 200, "ab", -1, true)
	check(4, 204, "", 0, false)
	check(5, 304, "", 0, false)
	check(6, 200, "data", -1, true)
	if rs[6].Trailer.Get("X-Sum") != "42" || rs[6].Trailer.Get("X-Late") != "yes" {
		t.Errorf("trailers %v", rs[6].Trailer)
	}
	check(7, 200, "ab", 2, false)
	if !rs[8].Close {
		t.Errorf("Connection: close request answered without Connection: close")
	}
}

func TestHeadAndHTTP10(t *testing.T) {
	addr := start(t, &Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/length" {
			w.Header().Set("Content-Length", "5")
		}
		if r.URL.Path == "/stream" {
			io.WriteString(w, strings.Repeat("s", holdBytes+1))
			return
		}
		io.WriteString(w, "hello")
	}))
	out := exchange(t, addr, "HEAD /length HTTP/1.1\r\nHost: x\r\n\r\nHEAD /counted HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second)
	rs := responses(t, out, "HEAD", "HEAD")
	if rs[0].ContentLength != 5 || rs[1].ContentLength != 5 {
		t.Errorf("HEAD lengths %d %d, want 5 5", rs[0].ContentLength, rs[1].ContentLength)
	}
	// HTTP/1.0 with keep-alive and a known length stays open.
	out = exchange(t, addr, "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /stream HTTP/1.0\r\n\r\n", 5*time.Second)
	rs = responses(t, out, "GET", "GET")
	if rs[0].Header.Get("Connection") != "keep-alive" || bodyOf(rs[0]) != "hello" {
		t.Errorf("1.0 keep-alive: %v", rs[0].Header)
	}
	// Unknown length on HTTP/1.0: the body ends with the connection.
	if len(rs[1].TransferEncoding) != 0 || len(bodyOf(rs[1])) != holdBytes+1 {
		t.Errorf("1.0 stream: te %v", rs[1].TransferEncoding)
	}
}

func TestHeaderValuesCannotSplitTheResponse(t *testing.T) {
	addr := start(t, &Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["X-Echo"] = []string{"a\r\nSet-Cookie: evil=1"}
		w.Header()["Bad Name"] = []string{"x"}
		io.WriteString(w, "ok")
	}))
	out := exchange(t, addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second)
	rs := responses(t, out, "GET")
	if rs[0].Header.Get("Set-Cookie") != "" || rs[0].Header.Get("X-Echo") != "a  Set-Cookie: evil=1" {
		t.Errorf("headers %v", rs[0].Header)
	}
	if strings.Contains(out, "Bad Name") {
		t.Errorf("invalid field name written: %q", out)
	}
}

// TestMalformedRequests checks the answers net/http's server gives itself.
func TestMalformedRequests(t *testing.T) {
	var called atomic.Int32
	addr := start(t, &Server{MaxHeaderBytes: 1 << 10}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		called.Add(1)
	}))
	for _, tc := range []struct {
		name, raw string
		status    int
	}{
		{"no host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"bad host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
		{"head too large", "GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 8<<10) + "\r\n\r\n", 431},
		{"http/2 line", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
		{"bad field value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n", 400},
		{"bad request line", "GET\r\nHost: x\r\n\r\n", 400},
		{"unknown expectation", "GET / HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n", 417},
	} {
		out := exchange(t, addr, tc.raw, 5*time.Second)
		rs := responses(t, out, "GET")
		if rs[0].StatusCode != tc.status || !rs[0].Close {
			t.Errorf("%s: status %d (%v), want %d and Connection: close", tc.name, rs[0].StatusCode, rs[0].Header, tc.status)
		}
	}
	if n := called.Load(); n != 0 {
		t.Errorf("the handler saw %d malformed requests", n)
	}
	// OPTIONS * is answered by the server.
	out := exchange(t, addr, "OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second)
	if rs := responses(t, out, "OPTIONS"); rs[0].StatusCode != 200 || called.Load() != 0 {
		t.Errorf("OPTIONS *: %d, handler calls %d", rs[0].StatusCode, called.Load())
	}
}

func TestExpectContinue(t *testing.T) {
	addr := start(t, &Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/read" {
			b, _ := io.ReadAll(r.Body)
			io.WriteString(w, "got "+string(b))
			return
		}
		w.WriteHeader(http.StatusForbidden) // never reads the body
	}))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	io.WriteString(c, "POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
	line, err := br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("interim response %q, %v", line, err)
	}
	br.ReadString('\n')
	io.WriteString(c, "body")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || bodyOf(resp) != "got body" {
		t.Fatalf("final response %v", err)
	}
	// Refused without reading: no 100 Continue, and the connection closes
	// (the client may or may not send the body).
	io.WriteString(c, "POST /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
	resp, err = http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 403 || !resp.Close {
		t.Fatalf("refused: %v %v", resp, err)
	}
}

// TestUnreadBodies: a small unread body is skipped to keep the connection;
// a large one closes it; closing the body does not read it all.
func TestUnreadBodies(t *testing.T) {
	addr := start(t, &Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body.Close()
		if _, err := r.Body.Read(make([]byte, 1)); err == nil {
			t.Error("read after Close succeeded")
		}
		io.WriteString(w, "ok")
	}))
	out := exchange(t, addr, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second)
	rs := responses(t, out, "POST", "GET")
	if rs[0].Close || rs[1].StatusCode != 200 {
		t.Errorf("small unread body: %v / %d", rs[0].Header, rs[1].StatusCode)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", 100<<20)
	go func() { // a client sending a large body slowly
		chunk := make([]byte, 64<<10)
		for i := 0; i < 1600; i++ {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || !resp.Close {
		t.Fatalf("large unread body: %v %v", resp, err)
	}
}

func TestHijackPanicAndState(t *testing.T) {
	type change struct {
		c  net.Conn
		st http.ConnState
	}
	stateCh := make(chan change, 16)
	s := &Server{ConnState: func(c net.Conn, st http.ConnState) { stateCh <- change{c, st} }}
	addr := start(t, s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/panic":
			panic("boom")
		case "/hijack":
			c, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			line, _ := brw.ReadString('\n') // what the client sent after the head
			brw.WriteString("HTTP/1.1 101 Switching Protocols\r\n\r\necho " + line)
			brw.Flush()
		}
	}))
	out := exchange(t, addr, "GET /panic HTTP/1.1\r\nHost: x\r\n\r\n", 5*time.Second)
	if out != "" {
		t.Errorf("a panicking handler's connection got %q", out)
	}
	out = exchange(t, addr, "GET /hijack HTTP/1.1\r\nHost: x\r\n\r\nping\n", 5*time.Second)
	if out != "HTTP/1.1 101 Switching Protocols\r\n\r\necho ping\n" {
		t.Errorf("hijacked exchange %q", out)
	}
	// Per connection: the panicking one closes, the hijacked one is the
	// handler's.
	byConn := map[net.Conn][]http.ConnState{}
	var order []net.Conn
	for n := 0; n < 6; n++ {
		select {
		case ch := <-stateCh:
			if byConn[ch.c] == nil {
				order = append(order, ch.c)
			}
			byConn[ch.c] = append(byConn[ch.c], ch.st)
		case <-time.After(5 * time.Second):
			t.Fatalf("states so far %v", byConn)
		}
	}
	got := fmt.Sprint(byConn[order[0]], byConn[order[1]])
	if want := fmt.Sprint([]http.ConnState{http.StateNew, http.StateActive, http.StateClosed},
		[]http.ConnState{http.StateNew, http.StateActive, http.StateHijacked}); got != want {
		t.Fatalf("states %s, want %s", got, want)
	}
}

func TestTimeouts(t *testing.T) {
	addr := start(t, &Server{ReadHeaderTimeout: 200 * time.Millisecond, IdleTimeout: 300 * time.Millisecond},
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	for _, tc := range []struct {
		name, raw string
		want      string
	}{
		{"slow head", "GET / HTTP/1.1\r\nHost: x\r\n", ""},
		{"idle after a response", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "ok"},
	} {
		start := time.Now()
		out := exchange(t, addr, tc.raw, 5*time.Second)
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s: connection open for %v", tc.name, d)
		}
		if !strings.HasSuffix(out, tc.want) {
			t.Errorf("%s: got %q", tc.name, out)
		}
	}
}

// TestShutdown: an idle connection is closed at once, a request in flight
// finishes (with Connection: close) before Shutdown returns.
func TestShutdown(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	s := &Server{}
	addr := start(t, s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-release
		}
		io.WriteString(w, "done")
	}))
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	io.WriteString(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, err := http.ReadResponse(bufio.NewReader(idle), nil); err != nil {
		t.Fatal(err)
	}
	busy, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	<-entered
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := idle.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("idle connection: read %d, %v; want EOF", n, err)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	busy.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(busy), nil)
	if err != nil || bodyOf(resp) != "done" || !resp.Close {
		t.Fatalf("in-flight request: %v %v", resp, err)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}
