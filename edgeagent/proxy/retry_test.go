package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// closingOrigin answers one request per connection as if keeping it alive,
// then closes it shortly after, as origins with a short keep-alive timeout
// do. It records the method and body of every request it read in full.
type closingOrigin struct {
	ln   net.Listener
	mu   sync.Mutex
	seen []string
}

func startClosingOrigin(t *testing.T) *closingOrigin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &closingOrigin{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go o.serve(c)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return o
}

func (o *closingOrigin) serve(c net.Conn) {
	defer c.Close()
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	o.mu.Lock()
	o.seen = append(o.seen, req.Method+" "+string(body))
	o.mu.Unlock()
	io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	time.Sleep(20 * time.Millisecond) // then close: the edge still holds it as idle
}

func (o *closingOrigin) requests() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.seen...)
}

// Requests with a body on a pooled connection the origin has closed are
// not lost: a POST goes only on a connection seen to be open (it is never
// sent twice), a PUT is sent again on a fresh one; each reaches the origin
// exactly once.
func TestStaleOriginConnectionRetries(t *testing.T) {
	o := startClosingOrigin(t)
	e := newEdge(t, site("a.example", "http://"+o.ln.Addr().String()))
	send := func(method, body string) {
		t.Helper()
		resp := e.do(t, method, "a.example", "/x", strings.NewReader(body), nil)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "ok" {
			e.log.Flush()
			t.Fatalf("%s: %d %q; log %v", method, resp.StatusCode, b, e.buf.lines(t))
		}
	}
	send("GET", "")
	for i, m := range []string{"POST", "PUT", "POST", "PUT"} {
		// Let the origin close the idle connection the edge pooled.
		time.Sleep(60 * time.Millisecond)
		send(m, m+"-body-"+string(rune('a'+i)))
	}
	got := o.requests()
	want := []string{"GET ", "POST POST-body-a", "PUT PUT-body-b", "POST POST-body-c", "PUT PUT-body-d"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("origin saw %q, want each request once: %q", got, want)
	}
}
