package dashboard

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/rampart-edge/rampart/controlsvc/accounts"
	"github.com/rampart-edge/rampart/controlsvc/adminapi"
	"github.com/rampart-edge/rampart/controlsvc/buckets"
	"github.com/rampart-edge/rampart/controlsvc/internal/natstest"
	"github.com/rampart-edge/rampart/controlsvc/sites"
)

const token = "0123456789abcdef0123456789abcdef"

// server is the dashboard in front of a real admin API and KV buckets.
func server(t *testing.T) *httptest.Server {
	t.Helper()
	js, sitesKV, certsKV := natstest.Buckets(t)
	stateKV, err := js.KeyValue(context.Background(), buckets.State)
	if err != nil {
		t.Fatal(err)
	}
	acc, err := accounts.New(stateKV, 0)
	if err != nil {
		t.Fatal(err)
	}
	var d *Dashboard
	api, err := adminapi.New(adminapi.Config{Sites: sites.New(sitesKV), Certs: certsKV, State: stateKV, Token: token, Logger: slog.New(slog.DiscardHandler),
		Accounts: acc, Session: func(r *http.Request) error { return d.Authenticate(r) }})
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	if d, err = New(Config{Accounts: acc, Token: token, API: api, Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(d)
	t.Cleanup(srv.Close)
	return srv
}

type client struct {
	t    *testing.T
	http *http.Client
	base string
	csrf string
}

func newClient(t *testing.T, srv *httptest.Server) *client {
	jar, _ := cookiejar.New(nil)
	c := srv.Client()
	c.Jar = jar
	return &client{t: t, http: c, base: srv.URL}
}

func (c *client) do(method, path, body string, hdr ...string) (*http.Response, string) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (c *client) signIn(body string) *http.Response {
	c.t.Helper()
	resp, out := c.do("POST", "/api/v1/session", body)
	if resp.StatusCode == http.StatusOK {
		var info sessionInfo
		if err := json.Unmarshal([]byte(out), &info); err != nil {
			c.t.Fatal(err)
		}
		c.csrf = info.CSRF
	}
	return resp
}

func TestSignInSessionAndCSRF(t *testing.T) {
	srv := server(t)
	c := newClient(t, srv)

	if resp, _ := c.do("GET", "/api/v1/sites", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no session: %d", resp.StatusCode)
	}
	resp := c.signIn(`{"token":"` + token + `"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token sign-in: %d", resp.StatusCode)
	}
	ck := resp.Cookies()[0]
	if ck.Name != CookieName || !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.MaxAge <= 0 {
		t.Fatalf("cookie = %+v", ck)
	}
	_, out := c.do("GET", "/api/v1/session", "")
	if !strings.Contains(out, `"needs_user":true`) || !strings.Contains(out, `"user":"admin-token"`) {
		t.Fatalf("session = %s", out)
	}

	site := `{"hostname":"a.rampart.test","origins":[{"url":"http://127.0.0.1:1"}]}`
	if resp, _ := c.do("GET", "/api/v1/sites", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET with a session: %d", resp.StatusCode)
	}
	if resp, _ := c.do("POST", "/api/v1/sites", site); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST without CSRF: %d", resp.StatusCode)
	}
	if resp, _ := c.do("POST", "/api/v1/sites", site, CSRFHeader, "wrong"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST with a wrong CSRF token: %d", resp.StatusCode)
	}
	if resp, out := c.do("POST", "/api/v1/sites", site, CSRFHeader, c.csrf); resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST with CSRF: %d %s", resp.StatusCode, out)
	}
	// The bearer token still works, with no cookie and no CSRF token.
	bare := srv.Client()
	req, _ := http.NewRequest("DELETE", srv.URL+"/api/v1/sites/a.rampart.test", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if resp, err := bare.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("bearer DELETE: %v %v", resp, err)
	}

	// A user, then sign-in with the password.
	if resp, out := c.do("POST", "/api/v1/users", `{"name":"ops","password":"short"}`, CSRFHeader, c.csrf); resp.StatusCode != http.StatusBadRequest || !strings.Contains(out, `"field":"password"`) {
		t.Fatalf("bad user: %d %s", resp.StatusCode, out)
	}
	if resp, out := c.do("POST", "/api/v1/users", `{"name":"ops","password":"correct horse battery"}`, CSRFHeader, c.csrf); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create user: %d %s", resp.StatusCode, out)
	}
	// Sign-out needs the CSRF token too, then the cookie is dead.
	if resp, _ := c.do("DELETE", "/api/v1/session", ""); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("sign-out without CSRF: %d", resp.StatusCode)
	}
	oldCookie := ck.Value
	if resp, _ := c.do("DELETE", "/api/v1/session", "", CSRFHeader, c.csrf); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("sign-out: %d", resp.StatusCode)
	}
	if resp, _ := c.do("GET", "/api/v1/sites", "", "Cookie", CookieName+"="+oldCookie); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the old cookie after sign-out: %d", resp.StatusCode)
	}

	c2 := newClient(t, srv)
	if resp := c2.signIn(`{"user":"ops","password":"wrong password!"}`); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	if resp := c2.signIn(`{"user":"ops","password":"correct horse battery"}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("password sign-in: %d", resp.StatusCode)
	}
	if _, out := c2.do("GET", "/api/v1/session", ""); !strings.Contains(out, `"user":"ops"`) || !strings.Contains(out, `"needs_user":false`) {
		t.Fatalf("session = %s", out)
	}
}

func TestSignInRateLimited(t *testing.T) {
	srv := server(t)
	c := newClient(t, srv)
	for i := range loginFailures {
		if resp := c.signIn(`{"token":"not-the-token-0123456789"}`); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, resp.StatusCode)
		}
	}
	// Not JSON (what a cross-site form could send): refused before any check.
	if resp, _ := c.do("POST", "/api/v1/session", "", "Content-Type", "text/plain"); resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("text/plain sign-in: %d", resp.StatusCode)
	}
	// Now even the right token is refused until the window passes.
	resp := c.signIn(`{"token":"` + token + `"}`)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("after %d failures: %d (Retry-After %q)", loginFailures, resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func TestStaticStrictCSP(t *testing.T) {
	srv := server(t)
	c := newClient(t, srv)
	resp, body := c.do("GET", "/", "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `src="/ui/app.js"`) {
		t.Fatalf("GET /: %d %s", resp.StatusCode, body)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "Strict-Transport-Security", "Referrer-Policy"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("no %s", h)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); strings.Contains(csp, "unsafe") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP = %q", csp)
	}
	for _, p := range []string{"/ui/app.js", "/ui/app.css"} {
		if resp, _ := c.do("GET", p, ""); resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: %d", p, resp.StatusCode)
		}
	}
	if resp, _ := c.do("GET", "/nope", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nope: %d", resp.StatusCode)
	}
	// Offline and CSP-clean: no inline script or style, nothing external.
	inline := regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]|\sstyle=|\son[a-z]+=|innerHTML`)
	external := regexp.MustCompile(`(?:src|href)=["']?(?:https?:)?//|@import|url\(\s*["']?https?:`)
	err := fs.WalkDir(static, "static", func(path string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		b, _ := static.ReadFile(path)
		if m := inline.Find(b); m != nil {
			t.Errorf("%s: inline code %q", path, m)
		}
		if m := external.Find(b); m != nil {
			t.Errorf("%s: external link %q", path, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
