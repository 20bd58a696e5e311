package edgeagent

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rampart-edge/rampart/edgeagent/internal/rawhttp"
)

// TestAmbiguousFramingIs400 sends, over raw TCP and TLS with HTTP/1.1,
// requests whose framing Go's server would accept but a proxy in front of
// the edge might read differently: each gets 400 with Connection: close,
// nothing reaches the origin, and a request smuggled behind one is never
// forwarded. Pipelined requests and chunked bodies still work.
func TestAmbiguousFramingIs400(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+" "+string(b))
		mu.Unlock()
		io.WriteString(w, "ok")
	}))
	defer origin.Close()
	originSaw := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := seen
		seen = nil
		return out
	}
	a, roots := limitsAgent(t, origin.URL, Limits{})
	h := "Host: " + limitsHost + "\r\n"
	smuggled := "GET /smuggled HTTP/1.1\r\n" + h + "\r\n"
	after := "GET /after HTTP/1.1\r\n" + h + "\r\n"

	dialTLS := func() net.Conn {
		c, err := tls.Dial("tcp", a.Addr("https"), &tls.Config{RootCAs: roots, ServerName: limitsHost, NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	dialTCP := func() net.Conn {
		c, err := net.Dial("tcp", a.Addr("http"))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	bad := map[string]string{
		// CL.TE: a front that believes the length forwards 4 bytes and
		// reads the rest as the next request; TE.CL the other way round.
		"cl.te": "POST /a HTTP/1.1\r\n" + h + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
		"te.cl": "POST /a HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n" +
			strconv.FormatInt(int64(len(smuggled)), 16) + "\r\n" + smuggled + "\r\n0\r\n\r\n",
		"obs-fold te":    "POST /a HTTP/1.1\r\n" + h + "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n" + smuggled,
		"obs-fold other": "GET /a HTTP/1.1\r\n" + h + "X-A: 1\r\n\t2\r\n\r\n" + smuggled,
		"te on 1.0":      "POST /a HTTP/1.0\r\n" + h + "Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
	}
	for name, raw := range bad {
		for _, tr := range []struct {
			name string
			dial func() net.Conn
		}{{"http", dialTCP}, {"https", dialTLS}} {
			c := tr.dial()
			codes := exchange(c, raw+after, 3)
			c.Close()
			if len(codes) != 1 || codes[0] != http.StatusBadRequest {
				t.Errorf("%s over %s: statuses %v, want [400] and the connection closed", name, tr.name, codes)
			}
			if got := originSaw(); len(got) != 0 {
				t.Errorf("%s over %s: the origin saw %q", name, tr.name, got)
			}
		}
	}

	// Behind a good request, the bad one is refused and the good one kept.
	c := dialTCP()
	codes := exchange(c, "POST /ok HTTP/1.1\r\n"+h+"Content-Length: 2\r\n\r\nhi"+bad["cl.te"]+after, 4)
	c.Close()
	if len(codes) != 2 || codes[0] != 200 || codes[1] != 400 {
		t.Errorf("good then bad: statuses %v, want [200 400]", codes)
	}
	if got := originSaw(); len(got) != 1 || got[0] != "POST /ok hi" {
		t.Errorf("good then bad: the origin saw %q", got)
	}

	// Pipelined requests with chunked and length bodies still work, over
	// both listeners.
	pipelined := "GET /1 HTTP/1.1\r\n" + h + "\r\n" +
		"POST /2 HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n" +
		"POST /3 HTTP/1.1\r\n" + h + "Content-Length: 3\r\n\r\nxyz" +
		"GET /4 HTTP/1.1\r\n" + h + "\r\n"
	for _, dial := range []func() net.Conn{dialTCP, dialTLS} {
		c := dial()
		codes := exchange(c, pipelined, 4)
		c.Close()
		if len(codes) != 4 || codes[0] != 200 || codes[1] != 200 || codes[2] != 200 || codes[3] != 200 {
			t.Errorf("pipelined: statuses %v", codes)
		}
		want := "GET /1 |POST /2 abcde|POST /3 xyz|GET /4 "
		if got := strings.Join(originSaw(), "|"); got != want {
			t.Errorf("pipelined: the origin saw %q, want %q", got, want)
		}
	}

	resp, err := http.Get("http://" + a.Addr("admin") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `action="bad_framing"`) {
		t.Errorf("metrics do not count refused framing:\n%s", body)
	}
}

// exchange writes raw on c and reads up to n responses' status codes,
// stopping when the edge closes the connection.
func exchange(c net.Conn, raw string, n int) []int {
	codes, _ := rawhttp.Exchange(c, raw, n)
	return codes
}
