package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/internal/testcert"
)

// TestMTLSOriginPull runs a real TLS origin that requires a client
// certificate from the origin-pull CA: the edge with its client
// certificate gets through; without one, or with one from another CA, the
// request fails cleanly with 502.
func TestMTLSOriginPull(t *testing.T) {
	serverCA, _ := testcert.NewCA()
	pullCA, _ := testcert.NewCA()
	otherCA, _ := testcert.NewCA()
	chain, key, err := serverCA.Leaf("origin.test")
	if err != nil {
		t.Fatal(err)
	}
	serverCert, err := tls.X509KeyPair(chain, key)
	if err != nil {
		t.Fatal(err)
	}
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(pullCA.Cert)
	origin := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello "+r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	origin.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCAs}
	origin.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are expected
	origin.StartTLS()
	defer origin.Close()

	s := site("shop.example.com", origin.URL)
	s.Origins[0].TLS = api.OriginTLS{ServerName: "origin.test", CAPEM: string(serverCA.CertPEM)}
	clientCert := func(ca *testcert.CA) *tls.Certificate {
		chain, key, err := ca.Leaf("edge.rampart.test")
		if err != nil {
			t.Fatal(err)
		}
		c, err := tls.X509KeyPair(chain, key)
		if err != nil {
			t.Fatal(err)
		}
		return &c
	}
	cases := []struct {
		name   string
		cert   *tls.Certificate
		status int
	}{
		{"with the origin-pull certificate", clientCert(pullCA), 200},
		{"without a client certificate", nil, http.StatusBadGateway},
		{"with a certificate from another CA", clientCert(otherCA), http.StatusBadGateway},
	}
	for _, c := range cases {
		e := newEdge(t, s)
		e.h = New(Config{Catalog: e.cat, Log: e.log, AllowPrivateOrigins: true, DialTimeout: 2 * time.Second,
			ResponseHeaderTimeout: 2 * time.Second, OriginClientCert: c.cert})
		e.srv.Config.Handler = e.h
		start := time.Now()
		resp := e.do(t, "GET", "shop.example.com", "/", nil, nil)
		body := readAll(t, resp.Body)
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d body %q", c.name, resp.StatusCode, body)
			continue
		}
		if c.status == 200 && body != "hello edge.rampart.test" {
			t.Errorf("%s: body %q", c.name, body)
		}
		if c.status != 200 {
			if time.Since(start) > 2*time.Second || !strings.Contains(body, "request id") {
				t.Errorf("%s: after %v, body %q", c.name, time.Since(start), body)
			}
			e.log.Flush()
			if l := e.buf.lines(t)[0]; l["action"] != ActionOriginError || !strings.Contains(l["error"].(string), "tls") {
				t.Errorf("%s: access log %v", c.name, l)
			}
		}
		e.h.Close()
	}
}
