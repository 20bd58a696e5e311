package framing

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-edge/rampart/edgeagent/internal/rawhttp"
)

// genRequest returns one well-framed request in a random style: with or
// without a body, by length or chunked (odd chunk sizes, extensions,
// trailers), LF-only lines, header names in any case, bodies that look
// like requests.
func genRequest(r *rand.Rand, i int) string {
	eol := "\r\n"
	if r.IntN(5) == 0 {
		eol = "\n"
	}
	caseOf := func(s string) string {
		switch r.IntN(3) {
		case 0:
			return strings.ToLower(s)
		case 1:
			return strings.ToUpper(s)
		}
		return s
	}
	body := ""
	if r.IntN(2) == 0 {
		body = strings.Repeat("GET /inner HTTP/1.1\r\nHost: a\r\n\r\n", r.IntN(3)) + strings.Repeat("b", r.IntN(300))
	}
	method := []string{"GET", "POST", "PUT"}[r.IntN(3)]
	head := fmt.Sprintf("%s /r%d HTTP/1.1%sHost: a%sX-Pad: %s%s", method, i, eol, eol, strings.Repeat("p", r.IntN(200)), eol)
	switch {
	case body == "" && r.IntN(2) == 0:
		return head + eol
	case r.IntN(2) == 0:
		return head + caseOf("Content-Length") + fmt.Sprintf(":%s%d%s", []string{" ", "", "\t"}[r.IntN(3)], len(body), eol) + eol + body
	default:
		var sb strings.Builder
		sb.WriteString(head + caseOf("Transfer-Encoding") + ": " + caseOf("chunked") + eol + eol)
		for rest := body; rest != ""; {
			n := min(len(rest), 1+r.IntN(64))
			size := fmt.Sprintf("%x", n)
			if r.IntN(2) == 0 {
				size = strings.ToUpper(size)
			}
			if r.IntN(3) == 0 {
				size = "0" + size
			}
			if r.IntN(4) == 0 {
				size += ";ext=" + fmt.Sprint(r.IntN(9))
			} else if r.IntN(4) == 0 {
				size += " "
			}
			sb.WriteString(size + "\r\n" + rest[:n] + "\r\n")
			rest = rest[n:]
		}
		// Go's server wants the trailer section to end in CRLF CRLF.
		sb.WriteString("0\r\n")
		if r.IntN(3) == 0 {
			sb.WriteString("X-Trailer: 1\r\n")
		}
		sb.WriteString("\r\n")
		return sb.String()
	}
}

// TestParserAgreesWithServer sends random pipelines of well-framed requests,
// some followed by an ambiguous one, through Go's server over the framing
// listener, written in random pieces. Every request the handler gets must
// be the one the parser numbered the same (the two never disagree on where
// a request starts), no well-framed request is refused, and the ambiguous
// one and everything after it are.
func TestParserAgreesWithServer(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	heads := map[*Conn][]string{}
	var problems []string
	ln := &Listener{Listener: inner, onHead: func(c *Conn, num uint64, line string) {
		mu.Lock()
		heads[c] = append(heads[c], line)
		mu.Unlock()
	}}
	hs := &http.Server{ConnContext: ConnContext, ConnState: ConnState,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fc := r.Context().Value(ctxKey{}).(*Conn)
			n := fc.served.Load() + 1
			ok, _ := Admit(r)
			line := r.Method + " " + r.RequestURI + " " + r.Proto
			mu.Lock()
			if hs := heads[fc]; uint64(len(hs)) < n || hs[n-1] != line {
				problems = append(problems, fmt.Sprintf("request %d %q: the parser numbered %q", n, line, hs))
			}
			mu.Unlock()
			if !ok {
				w.Header().Set("Connection", "close")
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			io.Copy(io.Discard, r.Body)
			io.WriteString(w, r.URL.Path)
		})}
	done := make(chan struct{})
	go func() { defer close(done); hs.Serve(ln) }()
	defer func() { hs.Close(); <-done }()

	ambiguous := []string{
		"POST /bad HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST /bad HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n0\r\n\r\n",
		"GET /bad HTTP/1.1\r\nHost: a\r\nX: 1\r\n  folded\r\n\r\n",
		"POST /bad HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	}
	r := rand.New(rand.NewPCG(7, 9))
	for round := range 150 {
		n := 1 + r.IntN(6)
		var reqs []string
		for i := range n {
			reqs = append(reqs, genRequest(r, i))
		}
		bad := -1
		if r.IntN(2) == 0 {
			bad = r.IntN(n + 1)
			reqs = append(reqs[:bad], append([]string{ambiguous[r.IntN(len(ambiguous))]}, reqs[bad:]...)...)
		}
		stream := strings.Join(reqs, "")
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		// Random pieces, so heads and bodies split anywhere.
		var pieces []string
		for rest := stream; rest != ""; {
			k := min(len(rest), 1+r.IntN(700))
			pieces, rest = append(pieces, rest[:k]), rest[k:]
		}
		go func() {
			for _, p := range pieces {
				if _, err := io.WriteString(c, p); err != nil {
					return
				}
			}
		}()
		wantOK := len(reqs)
		if bad >= 0 {
			wantOK = bad
		}
		// Read responses until the connection closes or all have come.
		got, err := rawhttp.Exchange(c, "", len(reqs))
		c.Close()
		var want []int
		for range wantOK {
			want = append(want, 200)
		}
		if bad >= 0 {
			want = append(want, 400)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("round %d: statuses %v (%v), want %v; stream %q", round, got, err, want, stream)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Fatalf("parser and server disagree: %q", problems)
	}
}
