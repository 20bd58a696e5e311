package h1

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user+system CPU time (steadier than wall time
// on a shared machine).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkServe1K is one keep-alive connection doing GETs of a 1 KB body
// (the bench's cache-hit shape) against this server and against
// net/http's, the client reading each response before the next request.
func BenchmarkServe1K(b *testing.B) {
	body := strings.Repeat("x", 1024)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd["Content-Type"] = []string{"text/plain"}
		hd["Cache-Control"] = []string{"public, max-age=3600"}
		hd["Content-Length"] = []string{strconv.Itoa(len(body))}
		io.WriteString(w, body)
	})
	for _, name := range []string{"h1", "net-http"} {
		b.Run(name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			if name == "h1" {
				s := &Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
				go s.Serve(ln)
				defer s.Close()
			} else {
				s := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
				go s.Serve(ln)
				defer s.Close()
			}
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			req := []byte("GET /1k HTTP/1.1\r\nHost: bench.test\r\nAccept: */*\r\nUser-Agent: rampart-bench\r\n\r\n")
			br := bufio.NewReader(c)
			b.ReportAllocs()
			start := cpuTime()
			for b.Loop() {
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					b.Fatal(err)
				}
				if n, _ := io.Copy(io.Discard, resp.Body); n != 1024 {
					b.Fatalf("body %d bytes", n)
				}
			}
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		})
	}
}
