package proxy

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rampart-edge/rampart/edgeagent/challenge"
)

func TestACMEChallengeAnsweredBeforeHTTPSRedirect(t *testing.T) {
	s := site("www.example.com", "http://127.0.0.1:1")
	s.HTTPS.HTTP = "" // default: redirect to HTTPS
	e := newEdge(t, s)
	store := challenge.NewStore()
	store.Set("tok-1_A", "tok-1_A.thumbprint")
	e.h = New(Config{Catalog: e.cat, Log: e.log, AllowPrivateOrigins: true, DialTimeout: time.Second, Challenges: store})
	e.srv.Close()
	e.srv = httptest.NewServer(e.h)
	t.Cleanup(e.srv.Close)

	resp := e.do(t, "GET", "www.example.com", challenge.PathPrefix+"tok-1_A", nil, nil)
	if body := readAll(t, resp.Body); resp.StatusCode != 200 || body != "tok-1_A.thumbprint" {
		t.Fatalf("known token: %d %q", resp.StatusCode, body)
	}
	if resp := e.do(t, "GET", "www.example.com", challenge.PathPrefix+"unknown", nil, nil); resp.StatusCode != 404 {
		t.Fatalf("unknown token: %d, want 404", resp.StatusCode)
	}
	// Not a challenge, or not a site of this edge: the usual answers.
	if resp := e.do(t, "GET", "www.example.com", "/other", nil, nil); resp.StatusCode != 301 {
		t.Fatalf("other path: %d, want the HTTPS redirect", resp.StatusCode)
	}
	if resp := e.do(t, "POST", "www.example.com", challenge.PathPrefix+"tok-1_A", nil, nil); resp.StatusCode != 308 {
		t.Fatalf("POST: %d, want the HTTPS redirect", resp.StatusCode)
	}
	if resp := e.do(t, "GET", "other.example.com", challenge.PathPrefix+"tok-1_A", nil, nil); resp.StatusCode != 421 {
		t.Fatalf("unknown host: %d, want 421", resp.StatusCode)
	}
	// A deleted token is gone at once.
	store.Set("tok-1_A", "")
	if resp := e.do(t, "GET", "www.example.com", challenge.PathPrefix+"tok-1_A", nil, nil); resp.StatusCode != 404 {
		t.Fatalf("deleted token: %d, want 404", resp.StatusCode)
	}
	e.log.Flush()
	found := false
	for _, l := range e.buf.lines(t) {
		if l["action"] == ActionACMEChallenge && l["status"] == float64(200) {
			found = true
		}
	}
	if !found {
		t.Fatalf("no acme_challenge entry in the access log")
	}
}
