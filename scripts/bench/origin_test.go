package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/rampart-edge/rampart/waf"
)

func startTestOrigin(t *testing.T) *origin {
	t.Helper()
	o, err := newOrigin()
	if err != nil {
		t.Fatal(err)
	}
	o.Start()
	t.Cleanup(func() {
		if err := o.Close(); err != nil {
			t.Error(err)
		}
	})
	return o
}

func TestOrigin(t *testing.T) {
	o := startTestOrigin(t)
	base := "http://" + o.addr()
	tests := []struct {
		method, path string
		body         []byte
		wantStatus   int
		wantSize     int
		wantCache    string
	}{
		{"GET", pathCached1K, nil, 200, 1024, "public, max-age=3600"},
		{"GET", pathCached100K, nil, 200, 100 * 1024, "public, max-age=3600"},
		{"GET", pathNoStore1K + "?id=42&q=blue+widgets", nil, 200, 1024, "no-store"},
		{"GET", pathNoStore100K, nil, 200, 100 * 1024, "no-store"},
		{"POST", pathAPI, waf.OrdersJSON(), 200, len(waf.OrdersJSON()), "no-store"},
		{"GET", pathAPI, nil, 405, -1, ""},
		{"GET", "/nope", nil, 404, -1, ""},
	}
	for _, tt := range tests {
		req, err := http.NewRequest(tt.method, base+tt.path, bytes.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
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
		if tt.body != nil && !bytes.Equal(got, tt.body) {
			t.Errorf("%s %s: the echo differs from the request body", tt.method, tt.path)
		}
	}
	if got := o.hits.Load(); got != 5 {
		t.Errorf("origin counted %d hits, want 5 (404 and 405 are not served)", got)
	}
	if got := o.conns.Load(); got != 1 {
		t.Errorf("origin counted %d connections, want 1 (keepalive)", got)
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
