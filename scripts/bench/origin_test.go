package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"testing"

	"github.com/rampart-edge/rampart/waf"
)

// startTestOrigins starts one origin of each kind; nginx's only where it is
// installed.
func startTestOrigins(t *testing.T) map[string]origin {
	t.Helper()
	g, err := newGoOrigin()
	if err != nil {
		t.Fatal(err)
	}
	g.Start()
	t.Cleanup(func() {
		if err := g.Close(); err != nil {
			t.Error(err)
		}
	})
	origins := map[string]origin{originGo: g}
	v, ok := installedVersion(context.Background(), "nginx")
	if !ok {
		t.Log("nginx is not installed: only the Go origin is tested")
		return origins
	}
	// nginx's worker runs as nobody: its files must be reachable, which
	// t.TempDir's are not (its parent is private).
	dir, err := os.MkdirTemp("", "rampart-origin-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	n, err := startNginxOrigin(context.Background(), dir, packages{Version: map[string]string{"nginx": v}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() }) // before the dir's removal: cleanups run last first
	origins[originNginx] = n
	return origins
}

// TestOrigin has each kind of origin give the same answers, and count the
// requests and connections that reach it.
func TestOrigin(t *testing.T) {
	for kind, o := range startTestOrigins(t) {
		t.Run(kind, func(t *testing.T) {
			testOrigin(t, o)
		})
	}
}

func testOrigin(t *testing.T, o origin) {
	base := "http://" + o.addr()
	tests := []struct {
		method, path string
		body         []byte
		wantStatus   int
		wantSize     int
		wantCache    string
		wantType     string
	}{
		{"GET", pathCached1K, nil, 200, 1024, "public, max-age=3600", "text/plain; charset=utf-8"},
		{"GET", pathCached100K, nil, 200, 100 * 1024, "public, max-age=3600", "text/plain; charset=utf-8"},
		{"GET", pathNoStore1K + "?id=42&q=blue+widgets", nil, 200, 1024, "no-store", "text/plain; charset=utf-8"},
		{"GET", pathNoStore100K, nil, 200, 100 * 1024, "no-store", "text/plain; charset=utf-8"},
		{"POST", pathAPI, waf.OrdersJSON(), 200, len(waf.OrdersJSON()), "no-store", "application/json"},
		{"POST", pathAPI, waf.OrdersJSON(), 200, len(waf.OrdersJSON()), "no-store", "application/json"},
		{"GET", "/nope", nil, 404, -1, "", ""},
	}
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	reqs0, conns0, err := o.counts()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		req, err := http.NewRequest(tt.method, base+tt.path, bytes.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		if tt.body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tt.wantStatus {
			t.Errorf("%s %s: status %d, want %d", tt.method, tt.path, resp.StatusCode, tt.wantStatus)
		}
		if tt.wantSize >= 0 && len(got) != tt.wantSize {
			t.Errorf("%s %s: %d bytes, want %d", tt.method, tt.path, len(got), tt.wantSize)
		}
		if cc := resp.Header.Get("Cache-Control"); tt.wantCache != "" && cc != tt.wantCache {
			t.Errorf("%s %s: Cache-Control %q, want %q", tt.method, tt.path, cc, tt.wantCache)
		}
		if ct := resp.Header.Get("Content-Type"); tt.wantType != "" && ct != tt.wantType {
			t.Errorf("%s %s: Content-Type %q, want %q", tt.method, tt.path, ct, tt.wantType)
		}
		if tt.body != nil && !bytes.Equal(got, tt.body) {
			t.Errorf("%s %s: the answer is not the document sent", tt.method, tt.path)
		}
	}
	reqs, conns, err := o.counts()
	if err != nil {
		t.Fatal(err)
	}
	if got := reqs - reqs0; got != int64(len(tests)) {
		t.Errorf("origin counted %d requests, want %d", got, len(tests))
	}
	if got := conns - conns0; got != 1 {
		t.Errorf("origin counted %d connections, want 1 (keepalive)", got)
	}
	// Reading the counters is not counted.
	if again, _, err := o.counts(); err != nil || again != reqs {
		t.Errorf("counters read again: %d requests (err %v), want %d", again, err, reqs)
	}
}

func TestParseStubStatus(t *testing.T) {
	page := "Active connections: 1 \nserver accepts handled requests\n 12 12 345 \nReading: 0 Writing: 1 Waiting: 0 \n"
	accepts, requests, err := parseStubStatus(page)
	if err != nil || accepts != 12 || requests != 345 {
		t.Errorf("parseStubStatus = %d, %d, %v; want 12, 345, nil", accepts, requests, err)
	}
	for _, bad := range []string{
		"",
		"<html>404</html>",
		"server accepts handled requests\n 12 12\n",
		"server accepts handled requests\n 12 12 y\n",
	} {
		if _, _, err := parseStubStatus(bad); err == nil {
			t.Errorf("parseStubStatus(%q): no error", bad)
		}
	}
}

func TestJSONPayload(t *testing.T) {
	p := waf.OrdersJSON()
	var items []map[string]any
	if err := json.Unmarshal(p, &items); err != nil {
		t.Fatalf("payload is not JSON: %v", err)
	}
	if len(items) != 70 {
		t.Errorf("%d objects, want 70", len(items))
	}
	if n := len(p); n < 3800 || n > 4400 {
		t.Errorf("payload is %d bytes, want about 4 KB", n)
	}
}
