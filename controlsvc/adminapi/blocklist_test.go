package adminapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/adminapi"
	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/controlsvc/blocklist"
	"github.com/rampart-edge/rampart/controlsvc/internal/natstest"
	"github.com/rampart-edge/rampart/controlsvc/sites"
)

func TestBlocklistAPI(t *testing.T) {
	js, sitesKV, certsKV := natstest.Buckets(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, api.BucketBlocklist)
	if err != nil {
		t.Fatal(err)
	}
	h, err := adminapi.New(adminapi.Config{Sites: sites.New(sitesKV), Certs: certsKV, Token: token,
		Blocklist: blocklist.New(kv), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	do := func(method, body string, hdr ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, srv.URL+"/api/v1/blocklist", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}

	// Nothing stored yet: an empty list.
	resp, body := do("GET", "")
	if resp.StatusCode != 200 || strings.TrimSpace(body) != `{"v":1,"entries":[]}` || resp.Header.Get("ETag") != `"0"` {
		t.Fatalf("empty list: %d %s %s", resp.StatusCode, resp.Header.Get("ETag"), body)
	}

	// Without the token: 401.
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/blocklist", nil)
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != 401 {
		t.Fatalf("no token: %v %v", r, err)
	} else {
		r.Body.Close()
	}

	doc := `{"v":1,"entries":[{"cidr":"198.51.100.0/24","reason":"scanner"},{"cidr":"192.0.2.7","expires":"2030-01-01T00:00:00Z"}]}`
	resp, body = do("PUT", doc)
	if resp.StatusCode != 200 {
		t.Fatalf("put: %d %s", resp.StatusCode, body)
	}
	etag := resp.Header.Get("ETag")
	resp, body = do("GET", "")
	var got api.Blocklist
	if err := json.Unmarshal([]byte(body), &got); err != nil || resp.Header.Get("ETag") != etag ||
		len(got.Entries) != 2 || got.Entries[0].CIDR != "198.51.100.0/24" || got.Entries[1].Expires.Year() != 2030 {
		t.Fatalf("get after put: %s %s %v", resp.Header.Get("ETag"), body, err)
	}

	// Invalid input: 400 naming the field; nothing changes.
	for _, tt := range []struct{ doc, field string }{
		{`{"v":1,"entries":[{"cidr":"198.51.100.0/24"},{"cidr":"10.0.0.1/8"}]}`, "entries[1].cidr"},
		{`{"v":1,"entries":[{"cidr":"192.0.2.1","reason":"` + strings.Repeat("x", 300) + `"}]}`, "entries[0].reason"},
		{`{"v":1,"entries":[{"cidr":"192.0.2.1"}],"mode":"x"}`, "mode"},
		{`{"v":7,"entries":[]}`, "v"},
	} {
		resp, body := do("PUT", tt.doc)
		var eb struct{ Field string }
		json.Unmarshal([]byte(body), &eb)
		if resp.StatusCode != 400 || eb.Field != tt.field {
			t.Errorf("put %s: %d %s, want 400 naming %q", tt.doc, resp.StatusCode, body, tt.field)
		}
	}
	if resp, _ := do("PUT", doc, "Content-Type", "text/plain"); resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: %d", resp.StatusCode)
	}

	// If-Match: the current ETag succeeds, a stale one is 412.
	resp, body = do("PUT", `{"v":1,"entries":[{"cidr":"203.0.113.0/24"}]}`, "If-Match", etag)
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == etag {
		t.Fatalf("if-match current: %d %s %s", resp.StatusCode, resp.Header.Get("ETag"), body)
	}
	if resp, body := do("PUT", `{"v":1,"entries":[]}`, "If-Match", etag); resp.StatusCode != http.StatusPreconditionFailed {
		t.Fatalf("if-match stale: %d %s", resp.StatusCode, body)
	}
	if resp, _ := do("PUT", `{"v":1,"entries":[]}`, "If-Match", "nonsense"); resp.StatusCode != 400 {
		t.Fatalf("if-match malformed: %d", resp.StatusCode)
	}
	if resp, _ := do("DELETE", ""); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("delete: %d", resp.StatusCode)
	}

	// The region's sourced copy, which edges watch, gets the document.
	copyKV, err := js.KeyValue(ctx, api.RegionBucket(api.BucketBlocklist, natstest.Region))
	if err != nil {
		t.Fatal(err)
	}
	for {
		e, err := copyKV.Get(ctx, api.BlocklistKey)
		if err == nil && strings.Contains(string(e.Value()), "203.0.113.0/24") {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the region copy never got the list: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
