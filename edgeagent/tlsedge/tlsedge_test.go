package tlsedge

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/catalog"
	"github.com/rampart-edge/rampart/edgeagent/internal/testcert"
)

func serve(t *testing.T, cat *catalog.Catalog) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", Config(cat))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				c.(*tls.Conn).Handshake()
			}()
		}
	}()
	return ln.Addr().String()
}

func TestCertificateBySNI(t *testing.T) {
	ca, _ := testcert.NewCA()
	edgeKey, _ := ecdh.X25519().GenerateKey(rand.Reader)
	cat := catalog.New(edgeKey, nil)
	for _, h := range []string{"a.example.com", "b.example.com"} {
		chain, key, _ := ca.Leaf(h)
		sealed, _ := api.SealFor(edgeKey.PublicKey(), key)
		rec, _ := json.Marshal(api.CertRecord{V: 1, Hostname: h, ChainPEM: string(chain), KeySealed: sealed})
		if err := cat.Apply(catalog.Change{Kind: catalog.KindCert, Key: h, Value: rec}); err != nil {
			t.Fatal(err)
		}
		min := ""
		if h == "b.example.com" {
			min = "1.3"
		}
		site, _ := json.Marshal(api.Site{V: 1, Hostname: h, Origins: []api.Origin{{URL: "http://o.example.net"}}, HTTPS: api.HTTPSPolicy{MinTLS: min}})
		if err := cat.Apply(catalog.Change{Kind: catalog.KindSite, Key: h, Value: site}); err != nil {
			t.Fatal(err)
		}
	}
	addr := serve(t, cat)
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)

	for _, name := range []string{"a.example.com", "B.Example.com"} {
		c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: name, RootCAs: roots})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := c.ConnectionState().PeerCertificates[0].DNSNames[0]; got != strings.ToLower(name) {
			t.Errorf("%s: served cert for %s", name, got)
		}
		c.Close()
	}

	// A name the edge does not serve gets an alert, not some default cert.
	_, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "unknown.example.com", InsecureSkipVerify: true})
	if err == nil || !strings.Contains(err.Error(), "unrecognized name") {
		t.Fatalf("unknown SNI: %v", err)
	}
	_, err = tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) // no SNI at all
	if err == nil {
		t.Fatal("handshake without SNI succeeded")
	}

	// b.example.com requires TLS 1.3; a.example.com accepts 1.2.
	if _, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "b.example.com", RootCAs: roots, MaxVersion: tls.VersionTLS12}); err == nil {
		t.Fatal("TLS 1.2 accepted for a 1.3-only site")
	}
	c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "a.example.com", RootCAs: roots, MaxVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("TLS 1.2 to a.example.com: %v", err)
	}
	c.Close()
	if _, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "a.example.com", RootCAs: roots, MaxVersion: tls.VersionTLS11}); err == nil {
		t.Fatal("TLS 1.1 accepted")
	}
	_ = net.IPv4len
}
