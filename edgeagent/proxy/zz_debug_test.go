package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/rampart-edge/rampart/controlsvc/api"
)

func TestZZDebug416(t *testing.T) {
	ce, _ := newCachedOrigin(t, api.CachePolicy{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "0123456789abcdef")
	})
	ce.get(t, "GET", "/f", nil)
	c, _ := net.Dial("tcp", ce.srv.Listener.Addr().String())
	io.WriteString(c, "GET /f HTTP/1.1\r\nHost: www.example.com\r\nRange: bytes=100-\r\nConnection: close\r\n\r\n")
	b, _ := io.ReadAll(bufio.NewReader(c))
	t.Logf("%s", b)
}
