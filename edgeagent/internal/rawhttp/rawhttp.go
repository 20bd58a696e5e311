// Package rawhttp is a test helper: it speaks HTTP/1.1 over a raw
// connection, so tests can send what net/http's client never would.
package rawhttp

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"time"
)

// Exchange writes raw on c (nothing when empty) and reads up to n
// responses, returning their status codes. It stops after a response that
// closes the connection, and at the first error (e.g. the server closing),
// which it returns with the codes read so far.
func Exchange(c net.Conn, raw string, n int) ([]int, error) {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if raw != "" {
		if _, err := io.WriteString(c, raw); err != nil {
			return nil, err
		}
	}
	br := bufio.NewReader(c)
	var codes []int
	for range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return codes, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
		if resp.Close {
			break
		}
	}
	return codes, nil
}
