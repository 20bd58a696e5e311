package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// benchHost is the hostname every target serves; requests carry it as Host and SNI.
const benchHost = "bench.test"

// testCert is the ECDSA P-256 certificate every TLS target presents, signed
// by a throwaway CA, in the forms the different servers read.
type testCert struct {
	ChainPEM []byte // the leaf
	KeyPEM   []byte // PKCS #8
	Roots    *x509.CertPool
	CertFile string // ChainPEM on disk
	KeyFile  string // KeyPEM on disk
	PEMFile  string // chain then key, for HAProxy
}

// newTestCert makes a CA and a leaf for benchHost and *.benchHost and writes
// them under dir.
func newTestCert(dir string) (*testCert, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("test cert: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "rampart bench CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("test cert: CA: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("test cert: CA: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("test cert: %w", err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: benchHost},
		DNSNames:     []string{benchHost, "*." + benchHost},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("test cert: leaf: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("test cert: key: %w", err)
	}
	c := &testCert{
		ChainPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		KeyPEM:   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		Roots:    x509.NewCertPool(),
		CertFile: filepath.Join(dir, "bench.crt"),
		KeyFile:  filepath.Join(dir, "bench.key"),
		PEMFile:  filepath.Join(dir, "bench.pem"),
	}
	c.Roots.AddCert(ca)
	if _, err := tls.X509KeyPair(c.ChainPEM, c.KeyPEM); err != nil {
		return nil, fmt.Errorf("test cert: %w", err)
	}
	files := map[string][]byte{
		c.CertFile: c.ChainPEM,
		c.KeyFile:  c.KeyPEM,
		c.PEMFile:  append(append([]byte{}, c.ChainPEM...), c.KeyPEM...),
	}
	for path, data := range files {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, fmt.Errorf("test cert: %w", err)
		}
	}
	return c, nil
}
