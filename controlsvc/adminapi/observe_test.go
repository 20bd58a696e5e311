package adminapi_test

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/rampart-edge/rampart/controlsvc/adminapi"
	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/controlsvc/certs/onboard"
	"github.com/rampart-edge/rampart/controlsvc/edgeevents"
	"github.com/rampart-edge/rampart/controlsvc/fleet"
	"github.com/rampart-edge/rampart/controlsvc/internal/natstest"
	"github.com/rampart-edge/rampart/controlsvc/sites"
)

// dnsServer answers a.example with the edge CNAME and everything else
// with NXDOMAIN, over TCP.
func dnsServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{Listener: ln, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		if q := r.Question[0]; q.Name == "a.example." {
			m.Answer = append(m.Answer, &dns.CNAME{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 60}, Target: "a.example.edge.test."})
		} else {
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return ln.Addr().String()
}

func TestEdgesEventsDNS(t *testing.T) {
	_, sitesKV, certsKV := natstest.Buckets(t)
	st := sites.New(sitesKV)
	for _, h := range []string{"a.example", "b.example"} {
		if _, err := st.Create(t.Context(), api.Site{Hostname: h, Origins: []api.Origin{{URL: "https://o.example"}}}); err != nil {
			t.Fatal(err)
		}
	}
	fl := fleet.New()
	fl.Observe(api.Heartbeat{Region: "nyc3", Node: "n1", Version: "v1", Healthy: true,
		SiteCache: map[string]api.CacheCounters{"a.example": {Hits: 9, Misses: 1}}})
	ev := edgeevents.New(10)
	ev.Add(api.Event{Site: "a.example", Action: "waf_block", Status: 403, Path: "/x", ClientIP: "192.0.2.1", RuleIDs: []int{941100}})
	chk, err := onboard.New(onboard.Config{EdgeZone: "edge.test", EdgeIPs: []netip.Addr{netip.MustParseAddr("192.0.2.10")}, Resolver: dnsServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	var sessionErr error = errors.New("no session")
	h, err := adminapi.New(adminapi.Config{Sites: st, Certs: certsKV, Token: token, Logger: slog.New(slog.DiscardHandler),
		Fleet: fl, Events: ev, DNSCheck: chk, EdgeMaxAge: time.Minute,
		Session: func(*http.Request) error { return sessionErr }})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string, bearer bool) (int, string) {
		req := httptest.NewRequest("GET", path, nil)
		if bearer {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code, w.Body.String()
	}
	cases := []struct {
		path   string
		status int
		want   []string
	}{
		{"/api/v1/edges", 200, []string{`"region":"nyc3"`, `"node":"n1"`, `"version":"v1"`, `"stale":false`, `"max_age":"1m0s"`}},
		{"/api/v1/events?site=a.example", 200, []string{`"rule_ids":[941100]`, `"client_ip":"192.0.2.1"`, `"action":"waf_block"`}},
		{"/api/v1/events?site=b.example", 200, []string{`"events":[]`}},
		{"/api/v1/events", 400, []string{`"field":"site"`}},
		{"/api/v1/events?site=a.example&limit=0", 400, []string{`"field":"limit"`}},
		{"/api/v1/events?site=Bad%20Host", 400, []string{`"field":"hostname"`}},
		{"/api/v1/sites/a.example/cache", 200, []string{`"hits":9`, `"hit_ratio":0.9`, `"edges":1`}},
		{"/api/v1/sites/a.example/dns", 200, []string{`"record":"a.example. CNAME a.example.edge.test."`, `"pointed":true`, `"edge_ips":["192.0.2.10"]`}},
		{"/api/v1/sites/b.example/dns", 200, []string{`"pointed":false`, `"record":"b.example. CNAME b.example.edge.test."`}},
		{"/api/v1/sites/nope.example/dns", 404, nil},
	}
	for _, c := range cases {
		status, body := get(c.path, true)
		if status != c.status {
			t.Errorf("GET %s: %d %s", c.path, status, body)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s: %s lacks %s", c.path, body, w)
			}
		}
	}

	// Without a bearer token the session hook decides: 401, 403 for CSRF, or through.
	if status, _ := get("/api/v1/edges", false); status != http.StatusUnauthorized {
		t.Errorf("no session: %d", status)
	}
	sessionErr = adminapi.ErrCSRF
	if status, _ := get("/api/v1/edges", false); status != http.StatusForbidden {
		t.Errorf("CSRF failure: %d", status)
	}
	sessionErr = nil
	status, body := get("/api/v1/edges", false)
	var out struct{ Edges []fleet.Edge }
	if status != http.StatusOK || json.Unmarshal([]byte(body), &out) != nil || len(out.Edges) != 1 {
		t.Errorf("with a session: %d %s", status, body)
	}
}
