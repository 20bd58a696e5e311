package adminapi_test

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-edge/rampart/controlsvc/adminapi"
	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/controlsvc/certs"
	"github.com/rampart-edge/rampart/controlsvc/certs/labca"
	"github.com/rampart-edge/rampart/controlsvc/internal/natstest"
	"github.com/rampart-edge/rampart/controlsvc/sites"
)

const token = "test-token-0123456789abcdef"

type fixture struct {
	h       http.Handler
	js      jetstream.JetStream
	sitesKV jetstream.KeyValue
	logs    *bytes.Buffer
	health  error
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	js, sitesKV, certsKV := natstest.Buckets(t)
	f := &fixture{js: js, logs: &bytes.Buffer{}}
	h, err := adminapi.New(adminapi.Config{
		Sites:  sites.New(sitesKV),
		Certs:  certsKV,
		Token:  token,
		Health: func(context.Context) error { return f.health },
		Logger: slog.New(slog.NewJSONHandler(f.logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	f.sitesKV = sitesKV
	ctx := context.Background()
	st := sites.New(sitesKV)
	for _, host := range []string{"a.example", "nocert.example"} {
		if _, err := st.Create(ctx, api.Site{Hostname: host, Origins: []api.Origin{{URL: "https://origin.example"}}}); err != nil {
			t.Fatal(err)
		}
	}
	// A certificate for a.example, as the manager writes it.
	ca, err := labca.New(labca.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	edge, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	m, err := certs.New(certs.Config{Sites: sitesKV, Certs: certsKV, Issuer: ca, SealKey: edge.PublicKey(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { m.Run(runCtx); close(done) }()
	waitCtx, waitCancel := context.WithTimeout(ctx, 10*time.Second)
	defer waitCancel()
	w, err := certsKV.Watch(waitCtx, "a.example")
	if err != nil {
		t.Fatal(err)
	}
	issued := false
	for e := range w.Updates() { // closed when waitCtx ends
		if e != nil && e.Operation() == jetstream.KeyValuePut {
			issued = true
			break
		}
	}
	w.Stop()
	if !issued {
		t.Fatal("no certificate for a.example")
	}
	cancel()
	<-done
	// The manager issued for nocert.example too; take it away.
	if err := certsKV.Purge(ctx, "nocert.example"); err != nil {
		t.Fatal(err)
	}
	return f
}

// lastSeq is the sites stream's last sequence: unchanged means nothing was written.
func (f *fixture) lastSeq(t *testing.T) uint64 {
	t.Helper()
	s, err := f.js.Stream(context.Background(), "KV_sites")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.LastSeq
}

type reqOpt func(*http.Request)

func noAuth(r *http.Request)      { r.Header.Del("Authorization") }
func header(k, v string) reqOpt   { return func(r *http.Request) { r.Header.Set(k, v) } }
func chunked(r *http.Request)     { r.ContentLength = -1 }
func withAuth(v string) reqOpt    { return header("Authorization", v) }
func contentType(v string) reqOpt { return header("Content-Type", v) }
func siteJSON(host, origin string) string {
	return `{"hostname":"` + host + `","origins":[{"url":"` + origin + `"}]}`
}

type response struct {
	Error  string          `json:"error"`
	Field  string          `json:"field"`
	Errors api.FieldErrors `json:"errors"`
	ReqID  string          `json:"req_id"`
}

// do serves one authorised request.
func (f *fixture) do(method, path, body string, hdr ...string) (*http.Response, string) {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+token)
	r.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w.Result(), w.Body.String()
}

func TestList(t *testing.T) {
	f := newFixture(t)
	res, body := f.do("GET", "/api/v1/sites", "")
	var list struct{ Sites []api.Site }
	if err := json.Unmarshal([]byte(body), &list); err != nil || res.StatusCode != 200 {
		t.Fatalf("list: %d %s", res.StatusCode, body)
	}
	if len(list.Sites) != 2 || list.Sites[0].Hostname != "a.example" || list.Sites[1].Hostname != "nocert.example" {
		t.Fatalf("list = %s", body)
	}
	for _, host := range []string{"a.example", "nocert.example"} {
		if res, body := f.do("DELETE", "/api/v1/sites/"+host, ""); res.StatusCode != 204 {
			t.Fatalf("delete %s: %d %s", host, res.StatusCode, body)
		}
	}
	if _, body := f.do("GET", "/api/v1/sites", ""); strings.TrimSpace(body) != `{"sites":[]}` {
		t.Fatalf("empty list = %s", body)
	}
}

func TestAPI(t *testing.T) {
	f := newFixture(t)
	// A value that bypassed validation, to provoke a 500.
	if _, err := f.sitesKV.Put(context.Background(), "broken.example", []byte(`{"v":1,"secret_internal":true}`)); err != nil {
		t.Fatal(err)
	}
	big := `{"hostname":"big.example","origins":[{"url":"https://o.example"}],"redirects":[` +
		strings.Repeat(`{"path":"/x","to":"/y"},`, api.MaxSiteBytes/20) + `{"path":"/x","to":"/y"}]}`

	for _, tc := range []struct {
		name, method, path, body string
		opts                     []reqOpt
		status                   int
		field                    string // the "field" of an error answer
		contains                 string // in the body
		header                   [2]string
		writes                   bool // whether the sites bucket may change
	}{
		{name: "healthz without a token", method: "GET", path: "/healthz", opts: []reqOpt{noAuth}, status: 200, contains: `"ok"`},
		{name: "no token", method: "GET", path: "/api/v1/sites", opts: []reqOpt{noAuth}, status: 401, header: [2]string{"WWW-Authenticate", "Bearer"}},
		{name: "wrong token", method: "GET", path: "/api/v1/sites", opts: []reqOpt{withAuth("Bearer nope-nope-nope-nope-nope")}, status: 401, header: [2]string{"WWW-Authenticate", "Bearer"}},
		{name: "token prefix", method: "GET", path: "/api/v1/sites", opts: []reqOpt{withAuth("Bearer " + token[:len(token)-1])}, status: 401},
		{name: "basic auth", method: "GET", path: "/api/v1/sites", opts: []reqOpt{withAuth("Basic " + token)}, status: 401},
		{name: "unknown endpoint needs a token", method: "GET", path: "/api/v1/nothing", opts: []reqOpt{noAuth}, status: 401},
		{name: "write without a token", method: "POST", path: "/api/v1/sites", body: siteJSON("x.example", "https://o.example"), opts: []reqOpt{noAuth}, status: 401},
		{name: "lower-case scheme", method: "GET", path: "/api/v1/sites/a.example", opts: []reqOpt{withAuth("bearer " + token)}, status: 200},
		{name: "get", method: "GET", path: "/api/v1/sites/a.example", status: 200, contains: `"hostname":"a.example"`, header: [2]string{"ETag", `"`}},
		{name: "create", method: "POST", path: "/api/v1/sites", body: siteJSON(" Bücher.Example", "https://origin.example:8443"), status: 201,
			contains: `"hostname":"xn--bcher-kva.example"`, header: [2]string{"Location", "/api/v1/sites/xn--bcher-kva.example"}, writes: true},
		{name: "get by unicode name", method: "GET", path: "/api/v1/sites/B%C3%BCcher.example", status: 200, contains: `"v":1`},
		{name: "duplicate create", method: "POST", path: "/api/v1/sites", body: siteJSON("bücher.example", "https://x.example"), status: 409},
		{name: "invalid JSON", method: "POST", path: "/api/v1/sites", body: `{"hostname":`, status: 400},
		{name: "not an object", method: "POST", path: "/api/v1/sites", body: `[1,2]`, status: 400},
		{name: "trailing data", method: "POST", path: "/api/v1/sites", body: siteJSON("t.example", "https://o.example") + `{}`, status: 400},
		{name: "unknown field", method: "POST", path: "/api/v1/sites", body: `{"hostname":"u.example","origins":[{"url":"https://o.example"}],"colour":"red"}`, status: 400, field: "colour"},
		{name: "wrong type", method: "POST", path: "/api/v1/sites", body: `{"hostname":"u.example","origins":"https://o.example"}`, status: 400, field: "origins"},
		{name: "bad hostname", method: "POST", path: "/api/v1/sites", body: siteJSON("not a host", "https://o.example"), status: 400, field: "hostname"},
		{name: "IP as hostname", method: "POST", path: "/api/v1/sites", body: siteJSON("10.0.0.1", "https://o.example"), status: 400, field: "hostname"},
		{name: "bad origin URL", method: "POST", path: "/api/v1/sites", body: siteJSON("o.example", "ftp://o.example"), status: 400, field: "origins[0].url"},
		{name: "origin with a path", method: "POST", path: "/api/v1/sites", body: siteJSON("o.example", "https://o.example/app"), status: 400, field: "origins[0].url"},
		{name: "missing origin", method: "POST", path: "/api/v1/sites", body: `{"hostname":"o.example"}`, status: 400, field: "origins"},
		{name: "unsupported version", method: "POST", path: "/api/v1/sites", body: `{"v":2,"hostname":"o.example","origins":[{"url":"https://o.example"}]}`, status: 400, field: "v"},
		{name: "WAF rule the parser rejects", method: "POST", path: "/api/v1/sites",
			body:   `{"hostname":"w.example","origins":[{"url":"https://o.example"}],"waf":{"mode":"block","custom_rules":["SecRule ARGS \"@rx ok\" \"id:1001,phase:2,deny\"","SecRule ARGS \"@rxx nope\" \"id:1002,deny\""]}}`,
			status: 400, field: "waf.custom_rules[1]", contains: "rxx"},
		{name: "WAF rule id clashes with the CRS", method: "POST", path: "/api/v1/sites",
			body:   `{"hostname":"w.example","origins":[{"url":"https://o.example"}],"waf":{"mode":"detect","custom_rules":["SecRule ARGS \"@rx x\" \"id:942100,phase:2,pass\""]}}`,
			status: 400, field: "waf.custom_rules[0]", contains: "942100"},
		{name: "WAF bad paranoia", method: "POST", path: "/api/v1/sites",
			body: `{"hostname":"w.example","origins":[{"url":"https://o.example"}],"waf":{"mode":"block","paranoia":5}}`, status: 400, field: "waf.paranoia"},
		{name: "WAF policy", method: "POST", path: "/api/v1/sites",
			body:   `{"hostname":"w.example","origins":[{"url":"https://o.example"}],"waf":{"mode":"block","custom_rules":["SecRule ARGS:q \"@streq evil\" \"id:1003,phase:2,deny,status:403\""],"exclusions":[{"rule_ids":[942100],"path_prefix":"/search","args":["q"]}]}}`,
			status: 201, contains: `"custom_rules"`, writes: true},
		{name: "wrong content type", method: "POST", path: "/api/v1/sites", body: siteJSON("c.example", "https://o.example"), opts: []reqOpt{contentType("text/plain")}, status: 415},
		{name: "no content type", method: "POST", path: "/api/v1/sites", body: siteJSON("c.example", "https://o.example"), opts: []reqOpt{contentType("")}, status: 415},
		{name: "content type with charset", method: "POST", path: "/api/v1/sites", body: siteJSON("c.example", "https://o.example"), opts: []reqOpt{contentType("application/json; charset=utf-8")}, status: 201, writes: true},
		{name: "oversize body", method: "POST", path: "/api/v1/sites", body: big, status: 413},
		{name: "oversize chunked body", method: "POST", path: "/api/v1/sites", body: big, opts: []reqOpt{chunked}, status: 413},
		{name: "get missing", method: "GET", path: "/api/v1/sites/missing.example", status: 404},
		{name: "get bad hostname", method: "GET", path: "/api/v1/sites/under_score.example", status: 400, field: "hostname"},
		{name: "update", method: "PUT", path: "/api/v1/sites/a.example", body: siteJSON("A.example", "https://new.example"), status: 200, contains: "new.example", writes: true},
		{name: "update without hostname in the body", method: "PUT", path: "/api/v1/sites/a.example", body: `{"origins":[{"url":"https://newer.example"}]}`, status: 200, contains: `"hostname":"a.example"`, writes: true},
		{name: "update hostname mismatch", method: "PUT", path: "/api/v1/sites/a.example", body: siteJSON("b.example", "https://o.example"), status: 400, field: "hostname"},
		{name: "update missing", method: "PUT", path: "/api/v1/sites/missing.example", body: siteJSON("missing.example", "https://o.example"), status: 404},
		{name: "update invalid", method: "PUT", path: "/api/v1/sites/a.example", body: siteJSON("a.example", "https://o.example?x=1"), status: 400, field: "origins[0].url"},
		{name: "update stale If-Match", method: "PUT", path: "/api/v1/sites/a.example", body: siteJSON("a.example", "https://o.example"), opts: []reqOpt{header("If-Match", `"1"`)}, status: 412},
		{name: "update bad If-Match", method: "PUT", path: "/api/v1/sites/a.example", body: siteJSON("a.example", "https://o.example"), opts: []reqOpt{header("If-Match", `W/"x"`)}, status: 400},
		{name: "update wrong content type", method: "PUT", path: "/api/v1/sites/a.example", body: siteJSON("a.example", "https://o.example"), opts: []reqOpt{contentType("application/x-www-form-urlencoded")}, status: 415},
		{name: "method not allowed", method: "PATCH", path: "/api/v1/sites/a.example", body: "{}", status: 405, header: [2]string{"Allow", "GET, PUT, DELETE"}},
		{name: "unknown endpoint", method: "GET", path: "/api/v1/nothing", status: 404},
		{name: "cert status", method: "GET", path: "/api/v1/sites/a.example/cert", status: 200, contains: `"issuer":"` + labca.Name + `","not_before":"`},
		{name: "cert not issued yet", method: "GET", path: "/api/v1/sites/nocert.example/cert", status: 404, contains: "no certificate"},
		{name: "cert of a missing site", method: "GET", path: "/api/v1/sites/missing.example/cert", status: 404, contains: "not found"},
		{name: "internal error", method: "GET", path: "/api/v1/sites/broken.example", status: 500, contains: `"req_id"`},
		{name: "list with a broken value", method: "GET", path: "/api/v1/sites", status: 500},
		{name: "delete", method: "DELETE", path: "/api/v1/sites/nocert.example", status: 204, writes: true},
		{name: "delete again", method: "DELETE", path: "/api/v1/sites/nocert.example", status: 404},
		{name: "delete by unicode name", method: "DELETE", path: "/api/v1/sites/BÜCHER.example", status: 204, writes: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.lastSeq(t)
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			r := httptest.NewRequest(tc.method, tc.path, body)
			r.Header.Set("Authorization", "Bearer "+token)
			if tc.body != "" {
				r.Header.Set("Content-Type", "application/json")
			}
			for _, o := range tc.opts {
				o(r)
			}
			w := httptest.NewRecorder()
			f.h.ServeHTTP(w, r)
			res := w.Result()
			got, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tc.status, got)
			}
			if tc.status != http.StatusNoContent {
				if ct := res.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q", ct)
				}
			}
			if tc.contains != "" && !strings.Contains(string(got), tc.contains) {
				t.Errorf("body %s does not contain %s", got, tc.contains)
			}
			if k := tc.header[0]; k != "" && !strings.HasPrefix(res.Header.Get(k), tc.header[1]) {
				t.Errorf("%s: %q, want it to start with %q", k, res.Header.Get(k), tc.header[1])
			}
			if tc.status >= 400 {
				var e response
				if err := json.Unmarshal(got, &e); err != nil || e.Error == "" {
					t.Fatalf("error body %s is not {\"error\": ...}: %v", got, err)
				}
				if e.Field != tc.field {
					t.Errorf("field %q, want %q (%s)", e.Field, tc.field, got)
				}
				if tc.field != "" && (len(e.Errors) == 0 || e.Errors[0].Field != tc.field) {
					t.Errorf("errors %v do not start with field %q", e.Errors, tc.field)
				}
				if tc.status == 500 && (strings.Contains(string(got), "broken") || strings.Contains(string(got), "secret_internal")) {
					t.Errorf("500 leaks internals: %s", got)
				}
			}
			if after := f.lastSeq(t); !tc.writes && after != before {
				t.Errorf("the sites bucket changed (last sequence %d -> %d)", before, after)
			}
		})
	}
	if !strings.Contains(f.logs.String(), "secret_internal") || !strings.Contains(f.logs.String(), `"req_id"`) {
		t.Errorf("the 500 was not logged with its cause: %s", f.logs)
	}
}

func TestConditionalUpdate(t *testing.T) {
	f := newFixture(t)
	res, _ := f.do("GET", "/api/v1/sites/a.example", "")
	etag := res.Header.Get("ETag")
	if res, body := f.do("PUT", "/api/v1/sites/a.example", siteJSON("a.example", "https://one.example"), "If-Match", etag); res.StatusCode != 200 {
		t.Fatalf("update with the current ETag: %d %s", res.StatusCode, body)
	}
	if res, body := f.do("PUT", "/api/v1/sites/a.example", siteJSON("a.example", "https://two.example"), "If-Match", etag); res.StatusCode != 412 {
		t.Fatalf("update with a stale ETag: %d %s, want 412", res.StatusCode, body)
	}
	if _, body := f.do("GET", "/api/v1/sites/a.example", ""); !strings.Contains(body, "one.example") {
		t.Fatalf("after a rejected update the site is %s", body)
	}
}

func TestHealth(t *testing.T) {
	f := newFixture(t)
	f.health = io.ErrClosedPipe
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, httptest.NewRequest("GET", "/healthz", nil))
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("unhealthy: %d", w.Code)
	}
}
