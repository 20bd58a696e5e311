package catalog

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/internal/testcert"
)

func siteJSON(t *testing.T, host, origin string) []byte {
	t.Helper()
	b, err := json.Marshal(api.Site{V: api.Version, Hostname: host, Origins: []api.Origin{{URL: origin}},
		HTTPS: api.HTTPSPolicy{HSTSMaxAge: 60, HSTSIncludeSubdomains: true, MinTLS: "1.3"}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func certJSON(t *testing.T, ca *testcert.CA, pub *ecdh.PublicKey, host string) []byte {
	t.Helper()
	chain, key, err := ca.Leaf(host)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := api.SealFor(pub, key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(api.CertRecord{V: api.Version, Hostname: host, ChainPEM: string(chain), KeySealed: sealed, Issuer: "test",
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)})
	return b
}

func TestApplyCompilesAndRejectsInvalid(t *testing.T) {
	c := New(nil, nil)
	if c.Loaded() {
		t.Fatal("empty catalog reports loaded")
	}
	if err := c.Apply(Change{Kind: KindSite, Key: "a.example.com", Value: siteJSON(t, "a.example.com", "https://origin.example.net:8443")}); err != nil {
		t.Fatal(err)
	}
	s := c.Load().Site("a.example.com")
	if s == nil || s.HSTS != "max-age=60; includeSubDomains" || s.MinTLS != 0x0304 ||
		s.Origins[0].Addr != "origin.example.net:8443" || s.Origins[0].HostHeader != "a.example.com" || s.Origins[0].TLS == nil {
		t.Fatalf("compiled site: %+v", s)
	}
	before := c.Load()
	// An invalid value and a value under the wrong key are refused; the
	// previous version stays.
	for _, bad := range []Change{
		{Kind: KindSite, Key: "a.example.com", Value: []byte(`{"v":1,"hostname":"a.example.com","origins":[]}`)},
		{Kind: KindSite, Key: "a.example.com", Value: siteJSON(t, "b.example.com", "http://o.example.net")},
		{Kind: KindSite, Key: "a.example.com", Value: []byte(`{"v":2}`)},
	} {
		if err := c.Apply(bad); err == nil {
			t.Errorf("accepted %s", bad.Value)
		}
	}
	if c.Load() != before {
		t.Fatal("a rejected change replaced the snapshot")
	}
	if err := c.Apply(Change{Kind: KindSite, Key: "a.example.com"}); err != nil {
		t.Fatal(err)
	}
	if c.Load().Site("a.example.com") != nil || before.Site("a.example.com") == nil {
		t.Fatal("delete did not apply, or changed an old snapshot")
	}
}

// closed reports whether ch is closed.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestChangedIsClosedByEverySwapOnly(t *testing.T) {
	c := New(nil, nil)
	ch := c.Changed()
	if closed(ch) {
		t.Fatal("closed before any change")
	}
	// A rejected change replaces nothing and signals nothing.
	if err := c.Apply(Change{Kind: KindSite, Key: "a.example.com", Value: []byte(`{"v":2}`)}); err == nil {
		t.Fatal("accepted an invalid site")
	}
	if closed(ch) {
		t.Fatal("closed by a rejected change")
	}
	if err := c.Apply(Change{Kind: KindSite, Key: "a.example.com", Value: siteJSON(t, "a.example.com", "http://o.example.net")}); err != nil {
		t.Fatal(err)
	}
	if !closed(ch) {
		t.Fatal("not closed by an applied change")
	}
	// The next channel waits for the next change: a full replace here.
	next := c.Changed()
	if closed(next) {
		t.Fatal("the next channel is closed already")
	}
	if errs := c.Replace(KindSite, map[string][]byte{"b.example.com": siteJSON(t, "b.example.com", "http://o.example.net")}); len(errs) > 0 {
		t.Fatal(errs)
	}
	if !closed(next) || c.Load().Site("b.example.com") == nil {
		t.Fatal("not closed by a replace")
	}
}

func TestCertsOpenWithSealKeyOnly(t *testing.T) {
	ca, _ := testcert.NewCA()
	edgeKey, _ := ecdh.X25519().GenerateKey(rand.Reader)
	otherKey, _ := ecdh.X25519().GenerateKey(rand.Reader)
	rec := certJSON(t, ca, edgeKey.PublicKey(), "a.example.com")

	c := New(edgeKey, nil)
	if err := c.Apply(Change{Kind: KindCert, Key: "a.example.com", Value: rec}); err != nil {
		t.Fatal(err)
	}
	ct := c.Load().Cert("a.example.com")
	if ct == nil || ct.TLS.Leaf.DNSNames[0] != "a.example.com" || ct.Issuer != "test" {
		t.Fatalf("cert: %+v", ct)
	}
	if err := New(otherKey, nil).Apply(Change{Kind: KindCert, Key: "a.example.com", Value: rec}); err == nil {
		t.Fatal("a cert sealed to another key was accepted")
	}
	// A certificate that does not cover its key's hostname is refused.
	if err := c.Apply(Change{Kind: KindCert, Key: "b.example.com", Value: certJSON(t, ca, edgeKey.PublicKey(), "b.example.com")[0:0]}); err == nil {
		t.Fatal("empty cert accepted")
	}
	wrong := strings.Replace(string(certJSON(t, ca, edgeKey.PublicKey(), "c.example.com")), `"hostname":"c.example.com"`, `"hostname":"d.example.com"`, 1)
	if err := c.Apply(Change{Kind: KindCert, Key: "d.example.com", Value: []byte(wrong)}); err == nil {
		t.Fatal("a cert for another name was accepted")
	}
}

func TestDiskSnapshotRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "snapshot.json")
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ca, _ := testcert.NewCA()
	edgeKey, _ := ecdh.X25519().GenerateKey(rand.Reader)

	c := New(edgeKey, NewDiskStore(path, log))
	if _, _, err := c.LoadDisk(); err != ErrNoSnapshot {
		t.Fatalf("LoadDisk on empty dir: %v", err)
	}
	c.Replace(KindSite, map[string][]byte{
		"a.example.com": siteJSON(t, "a.example.com", "http://o.example.net"),
		"b.example.com": siteJSON(t, "b.example.com", "http://o.example.net"),
	})
	c.Apply(Change{Kind: KindCert, Key: "a.example.com", Value: certJSON(t, ca, edgeKey.PublicKey(), "a.example.com")})
	c.Apply(Change{Kind: KindSite, Key: "b.example.com"})

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "PRIVATE KEY") {
		t.Fatal("snapshot holds an unsealed private key")
	}

	restarted := New(edgeKey, NewDiskStore(path, log))
	if _, errs, err := restarted.LoadDisk(); err != nil || len(errs) > 0 {
		t.Fatalf("LoadDisk: %v %v", err, errs)
	}
	snap := restarted.Load()
	if snap.Site("a.example.com") == nil || snap.Site("b.example.com") != nil || snap.Cert("a.example.com") == nil || !restarted.Loaded() {
		t.Fatalf("restored snapshot: sites %v", snap.Hostnames())
	}
}

func TestStaticFile(t *testing.T) {
	ca, _ := testcert.NewCA()
	chain, key, _ := ca.Leaf("s.example.com")
	f := StaticFile{Sites: []json.RawMessage{siteJSON(t, "s.example.com", "http://127.0.0.1:9")},
		Certs: []StaticCert{{Hostname: "s.example.com", ChainPEM: string(chain), KeyPEM: string(key)}}}
	data, _ := json.Marshal(f)
	path := filepath.Join(t.TempDir(), "static.json")
	os.WriteFile(path, data, 0o600)
	c := New(nil, nil)
	if err := c.LoadStatic(path); err != nil {
		t.Fatal(err)
	}
	if c.Load().Site("s.example.com") == nil || c.Load().Cert("s.example.com") == nil {
		t.Fatal("static file not loaded")
	}
	os.WriteFile(path, []byte(`{"sites":[{"v":1,"hostname":"BAD","origins":[{"url":"http://x.example"}]}]}`), 0o600)
	err := New(nil, nil).LoadStatic(path)
	if err == nil || !strings.Contains(err.Error(), "sites[0]") || !strings.Contains(err.Error(), "hostname") {
		t.Fatalf("bad static file: %v", err)
	}
}
