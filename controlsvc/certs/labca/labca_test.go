package labca_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/certs/labca"
)

func TestPersistsAcrossRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	first, err := labca.New(labca.Config{Dir: dir})
	if err != nil {
		t.Fatalf("first start: %v", err)
	}
	fi, err := os.Stat(filepath.Join(dir, labca.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %o, want 600", fi.Mode().Perm())
	}
	onDisk, err := os.ReadFile(first.CertPath())
	if err != nil || !bytes.Equal(onDisk, first.CertPEM()) {
		t.Fatalf("CertPath does not hold CertPEM: %v", err)
	}

	second, err := labca.New(labca.Config{Dir: dir})
	if err != nil {
		t.Fatalf("second start: %v", err)
	}
	if !bytes.Equal(first.CertPEM(), second.CertPEM()) {
		t.Fatal("a restart made a new CA")
	}
	// A leaf from the restarted CA verifies against the first one's root.
	chain, _, err := second.Issue(context.Background(), "www.example.com")
	if err != nil {
		t.Fatal(err)
	}
	verify(t, first.CertPEM(), chain, "www.example.com", time.Now())
}

func TestIssueLeaf(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	ca, err := labca.New(labca.Config{Dir: t.TempDir(), Validity: 72 * time.Hour, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	chain, key, err := ca.Issue(context.Background(), "xn--bcher-kva.example")
	if err != nil {
		t.Fatal(err)
	}
	leaf := verify(t, ca.CertPEM(), chain, "xn--bcher-kva.example", now)
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "xn--bcher-kva.example" {
		t.Errorf("DNS SANs %v", leaf.DNSNames)
	}
	if pub, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("leaf key is %T, want ECDSA P-256", leaf.PublicKey)
	}
	if !leaf.NotAfter.Equal(now.Add(72 * time.Hour)) {
		t.Errorf("NotAfter %v, want %v", leaf.NotAfter, now.Add(72*time.Hour))
	}
	if leaf.Issuer.CommonName != labca.Name {
		t.Errorf("issuer %q", leaf.Issuer.CommonName)
	}
	if _, err := tls.X509KeyPair(chain, key); err != nil {
		t.Errorf("chain and key are not a pair: %v", err)
	}
	if _, err := x509.ParseCertificate(leaf.Raw); err != nil {
		t.Fatal(err)
	}
	// Another CA must not verify it.
	other, err := labca.New(labca.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(other.CertPEM())
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now}); err == nil {
		t.Error("leaf verifies against an unrelated CA")
	}
}

func TestRefusesHalfACA(t *testing.T) {
	dir := t.TempDir()
	if _, err := labca.New(labca.Config{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, labca.KeyFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := labca.New(labca.Config{Dir: dir}); err == nil {
		t.Fatal("started with a CA certificate and no key")
	}
}

func verify(t *testing.T, rootPEM, chainPEM []byte, host string, at time.Time) *x509.Certificate {
	t.Helper()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootPEM) {
		t.Fatal("root PEM does not parse")
	}
	b, _ := pem.Decode(chainPEM)
	if b == nil {
		t.Fatal("chain PEM does not parse")
	}
	leaf, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host, CurrentTime: at}); err != nil {
		t.Fatalf("leaf does not verify: %v", err)
	}
	return leaf
}
