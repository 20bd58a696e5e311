package edgeagent

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/catalog"
	"github.com/rampart-edge/rampart/edgeagent/internal/testcert"
)

const limitsHost = "limits.example.com"

// limitsAgent starts a static-mode agent on 127.0.0.1:0 serving limitsHost
// from origin, over HTTP and HTTPS (certificate from a throwaway CA).
func limitsAgent(t *testing.T, origin string, lim Limits) (*Agent, *x509.CertPool) {
	t.Helper()
	return limitsAgentWith(t, origin, Config{Limits: lim})
}

// limitsAgentWith is limitsAgent with more of the config (listen addresses
// and the static file are filled in).
func limitsAgentWith(t *testing.T, origin string, cfg Config) (*Agent, *x509.CertPool) {
	t.Helper()
	ca, err := testcert.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	chain, key, err := ca.Leaf(limitsHost)
	if err != nil {
		t.Fatal(err)
	}
	// The cache is off: these tests count requests reaching the origin, and
	// the cache would coalesce identical ones.
	site, _ := json.Marshal(api.Site{V: api.Version, Hostname: limitsHost, Origins: []api.Origin{{URL: origin}}, Cache: api.CachePolicy{Off: true},
		HTTPS: api.HTTPSPolicy{HTTP: api.HTTPAllow}})
	static, _ := json.Marshal(struct {
		Sites []json.RawMessage    `json:"sites"`
		Certs []catalog.StaticCert `json:"certs"`
	}{[]json.RawMessage{site}, []catalog.StaticCert{{Hostname: limitsHost, ChainPEM: string(chain), KeyPEM: string(key)}}})
	path := filepath.Join(t.TempDir(), "static.json")
	if err := os.WriteFile(path, static, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.StaticFile, cfg.HTTPAddr, cfg.HTTPSAddr, cfg.AdminAddr = path, "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	a, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.CertPEM)
	return a, roots
}

func okOrigin(t *testing.T) *httptest.Server {
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	t.Cleanup(o.Close)
	return o
}

// rawRequest writes raw bytes on a new connection and reads one response.
func rawRequest(t *testing.T, addr, raw string) *http.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestSlowlorisIsClosedAfterHeaderTimeout(t *testing.T) {
	timeout := 300 * time.Millisecond
	a, _ := limitsAgent(t, okOrigin(t).URL, Limits{ReadHeaderTimeout: Duration(timeout)})
	c, err := net.Dial("tcp", a.Addr("http"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+limitsHost+"\r\n")
	// Trickle a header line every 50 ms, never finishing the head: the
	// header deadline is for the whole head, so trickling does not extend it.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := io.WriteString(c, "X-Slow: 1\r\n"); err != nil {
					return
				}
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 512)
	var rerr error
	for rerr == nil {
		_, rerr = c.Read(buf)
	}
	elapsed := time.Since(start)
	var ne net.Error
	if errors.As(rerr, &ne) && ne.Timeout() {
		t.Fatalf("the edge kept the slow connection open for %v", elapsed)
	}
	// The server's deadline starts at accept, a little before start: the
	// bounds only tell "closed by the header timeout" from "closed at once"
	// and from "never closed".
	if elapsed < timeout/2 || elapsed > 5*time.Second {
		t.Fatalf("closed after %v (%v), want about %v", elapsed, rerr, timeout)
	}
}

func TestOversizeHeadersAre431AndBodies413(t *testing.T) {
	a, _ := limitsAgent(t, okOrigin(t).URL, Limits{MaxHeaderBytes: 4 << 10, MaxBodyBytes: 1 << 10})
	addr := a.Addr("http")
	// Go's server allows 4 KiB of slop over MaxHeaderBytes.
	big := strings.Repeat("a", 16<<10)
	if resp := rawRequest(t, addr, "GET / HTTP/1.1\r\nHost: "+limitsHost+"\r\nX-Big: "+big+"\r\n\r\n"); resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("big header: status %d", resp.StatusCode)
	}
	// A declared Content-Length over the limit is refused before reading.
	resp := rawRequest(t, addr, "POST / HTTP/1.1\r\nHost: "+limitsHost+"\r\nContent-Length: 2048\r\n\r\n")
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("big Content-Length: status %d", resp.StatusCode)
	}
	// A chunked body is cut off when it passes the limit.
	chunk := strings.Repeat("b", 1000)
	body := "3e8\r\n" + chunk + "\r\n3e8\r\n" + chunk + "\r\n0\r\n\r\n"
	resp = rawRequest(t, addr, "POST / HTTP/1.1\r\nHost: "+limitsHost+"\r\nTransfer-Encoding: chunked\r\n\r\n"+body)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("big chunked body: status %d", resp.StatusCode)
	}
	// Within the limits all is well.
	resp = rawRequest(t, addr, "POST / HTTP/1.1\r\nHost: "+limitsHost+"\r\nContent-Length: 5\r\n\r\nhello")
	if resp.StatusCode != 200 {
		t.Fatalf("small body: status %d", resp.StatusCode)
	}
}

// TestSmuggling checks the framing cases Go's server rejects itself:
// conflicting or duplicated lengths and unknown transfer codings, and a bad
// chunk size found while the body streams. The ambiguous ones it would
// accept (Content-Length with Transfer-Encoding, obs-fold, Transfer-Encoding
// on HTTP/1.0) are TestAmbiguousFramingIs400's.
func TestSmuggling(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+" cl="+r.Header.Get("Content-Length")+" te="+strings.Join(r.TransferEncoding, ",")+" body="+string(b))
		mu.Unlock()
		io.WriteString(w, "ok")
	}))
	defer origin.Close()
	a, _ := limitsAgent(t, origin.URL, Limits{})
	addr := a.Addr("http")
	h := "Host: " + limitsHost + "\r\n"
	bad := map[string]string{
		"two lengths":        "POST / HTTP/1.1\r\n" + h + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		"bad length":         "POST / HTTP/1.1\r\n" + h + "Content-Length: 5x\r\n\r\nhello",
		"negative length":    "POST / HTTP/1.1\r\n" + h + "Content-Length: -1\r\n\r\n",
		"two codings":        "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"obfuscated coding":  "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
		"coding list":        "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
		"space before colon": "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
		"two hosts":          "GET / HTTP/1.1\r\n" + h + "Host: other.example\r\n\r\n",
		"no host":            "GET / HTTP/1.1\r\n\r\n",
	}
	for name, raw := range bad {
		resp := rawRequest(t, addr, raw)
		if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusNotImplemented {
			t.Errorf("%s: status %d, want 400 (or 501 for an unknown coding)", name, resp.StatusCode)
		}
	}
	mu.Lock()
	if len(seen) != 0 {
		t.Errorf("rejected requests reached the origin: %q", seen)
	}
	mu.Unlock()
	// A broken chunk is found while the body streams to the origin: the
	// client gets 400 and the origin a body cut short (never a request).
	resp := rawRequest(t, addr, "POST /broken HTTP/1.1\r\n"+h+"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad chunk size: status %d", resp.StatusCode)
	}

	mu.Lock()
	defer mu.Unlock()
	for _, got := range seen {
		if !strings.HasPrefix(got, "POST /broken ") {
			t.Errorf("origin saw %q", got)
		}
	}
}

func TestInFlightCapShedsWhileHealthzAnswers(t *testing.T) {
	arrived := make(chan struct{}, 8)
	release := make(chan struct{})
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			arrived <- struct{}{}
			<-release
		}
		io.WriteString(w, "ok")
	}))
	defer origin.Close()
	a, _ := limitsAgent(t, origin.URL, Limits{MaxInFlight: 2})
	get := func(path string) (*http.Response, error) {
		req, _ := http.NewRequest("GET", "http://"+a.Addr("http")+path, nil)
		req.Host = limitsHost
		return http.DefaultClient.Do(req)
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, err := get("/slow"); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	released := false
	defer func() {
		if !released {
			close(release)
		}
		wg.Wait()
	}()
	<-arrived
	<-arrived
	resp, err := get("/fast")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("over the cap: status %d retry-after %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	hz, err := http.Get("http://" + a.Addr("admin") + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	hz.Body.Close()
	if hz.StatusCode != 200 {
		t.Fatalf("healthz while shedding: %d", hz.StatusCode)
	}
	close(release)
	released = true
	wg.Wait()
	resp, err = get("/fast")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("after the load: status %d", resp.StatusCode)
	}
}

// TestHTTP2StreamLimit opens an HTTP/2 connection over TLS and checks the
// advertised stream limit, then opens one stream too many.
func TestHTTP2StreamLimit(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 16)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
	}))
	defer origin.Close()
	defer close(release)
	const streams = 3
	a, roots := limitsAgent(t, origin.URL, Limits{H2MaxConcurrentStreams: streams})
	c, err := tls.Dial("tcp", a.Addr("https"), &tls.Config{ServerName: limitsHost, RootCAs: roots, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("ALPN negotiated %q", p)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, http2.ClientPreface)
	fr := http2.NewFramer(c, c)
	fr.WriteSettings()
	var maxStreams uint32
	for maxStreams == 0 {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			v, ok := sf.Value(http2.SettingMaxConcurrentStreams)
			if !ok {
				t.Fatal("no SETTINGS_MAX_CONCURRENT_STREAMS")
			}
			maxStreams = v
			fr.WriteSettingsAck()
		}
	}
	if maxStreams != streams {
		t.Fatalf("SETTINGS_MAX_CONCURRENT_STREAMS = %d, want %d", maxStreams, streams)
	}
	// Wait for the server to acknowledge our settings, so it enforces its own.
	for acked := false; !acked; {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && sf.IsAck() {
			acked = true
		}
	}
	var hb strings.Builder
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", limitsHost}, {":path", "/hold"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	block := []byte(hb.String())
	for i := range streams + 1 {
		id := uint32(2*i + 1)
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndStream: true, EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		if i < streams {
			<-arrived // the stream is being served (held at the origin)
		}
	}
	extra := uint32(2*streams + 1)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("no RST_STREAM for stream %d: %v", extra, err)
		}
		switch f := f.(type) {
		case *http2.RSTStreamFrame:
			if f.StreamID != extra {
				t.Fatalf("RST_STREAM for stream %d (%v), want %d", f.StreamID, f.ErrCode, extra)
			}
			if f.ErrCode != http2.ErrCodeProtocol && f.ErrCode != http2.ErrCodeRefusedStream {
				t.Fatalf("RST_STREAM code %v", f.ErrCode)
			}
			return
		case *http2.GoAwayFrame:
			t.Fatalf("GOAWAY %v instead of refusing the stream", f.ErrCode)
		}
	}
}

func TestPerIPConnectionCap(t *testing.T) {
	a, _ := limitsAgent(t, okOrigin(t).URL, Limits{MaxConnsPerIP: 3})
	addr := a.Addr("http")
	get := "GET / HTTP/1.1\r\nHost: " + limitsHost + "\r\n\r\n"
	// use sends one request on c and reads the answer; false when the edge
	// closed the connection instead.
	use := func(c net.Conn, br *bufio.Reader) bool {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, get); err != nil {
			return false
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == 200
	}
	var conns []net.Conn
	for i := range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if !use(c, bufio.NewReader(c)) {
			t.Fatalf("connection %d refused", i+1)
		}
		conns = append(conns, c)
	}
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	if use(extra, bufio.NewReader(extra)) {
		t.Fatal("a 4th connection from the same address was served")
	}
	// Closing one gives its slot back (once the edge has seen the close).
	conns[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		ok := use(c, bufio.NewReader(c))
		c.Close()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the slot of a closed connection was never given back")
		}
	}
}

func TestBlockedNetworkIsClosedOnAccept(t *testing.T) {
	a, _ := limitsAgentWith(t, okOrigin(t).URL, Config{BlockCIDRs: []string{"127.0.0.0/8"}})
	get := func() (*http.Response, error) {
		req, _ := http.NewRequest("GET", "http://"+a.Addr("http")+"/", nil)
		req.Host = limitsHost
		return (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	}
	if resp, err := get(); err == nil {
		resp.Body.Close()
		t.Fatalf("a blocked client was served: %d", resp.StatusCode)
	}
	hz, err := http.Get("http://" + a.Addr("admin") + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	hz.Body.Close()
	if hz.StatusCode != 200 {
		t.Fatalf("healthz: %d", hz.StatusCode)
	}
	resp, err := http.Get("http://" + a.Addr("admin") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(body), "rampart_conns_blocked_total 0\n") || !strings.Contains(string(body), "rampart_conns_blocked_total ") {
		t.Errorf("metrics: %s", body)
	}
	// The list is replaced while serving.
	if err := a.Blocklist().Set([]string{"198.51.100.0/24"}); err != nil {
		t.Fatal(err)
	}
	resp, err = get()
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("after unblocking: %d", resp.StatusCode)
	}
}

// TestSlowBodyIs408 sends a request head and part of its body, then goes
// quiet: the edge answers 408 after the body idle timeout. A body that
// arrives in time still waits as long as the origin needs.
func TestSlowBodyIs408(t *testing.T) {
	idle := 300 * time.Millisecond
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/slow-origin" {
			time.Sleep(3 * idle) // the origin's own latency, longer than the body idle timeout
		}
		io.WriteString(w, "ok")
	}))
	defer origin.Close()
	a, _ := limitsAgent(t, origin.URL, Limits{BodyIdleTimeout: Duration(idle)})
	start := time.Now()
	resp := rawRequest(t, a.Addr("http"), "POST / HTTP/1.1\r\nHost: "+limitsHost+"\r\nContent-Length: 100\r\n\r\n0123456789")
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("slow body: status %d", resp.StatusCode)
	}
	if d := time.Since(start); d < idle || d > 5*time.Second {
		t.Fatalf("answered after %v", d)
	}
	resp = rawRequest(t, a.Addr("http"), "POST /slow-origin HTTP/1.1\r\nHost: "+limitsHost+"\r\nContent-Length: 5\r\n\r\nhello")
	if resp.StatusCode != 200 {
		t.Fatalf("slow origin after a complete body: status %d", resp.StatusCode)
	}
}
