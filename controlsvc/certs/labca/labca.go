// Package labca is a certificate authority for the lab: an ECDSA P-256 root
// kept in a directory, created on first use and reused afterwards, that
// signs leaf certificates for site hostnames. Clients trust it by its PEM
// (curl --cacert). Production uses ACME behind the same certs.Issuer.
package labca

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/internal/atomicfile"
)

// File names inside Config.Dir.
const (
	CertFile = "ca.pem"
	KeyFile  = "ca-key.pem"
)

// Name is the CA's subject common name, which certificates show as issuer.
const Name = "Rampart Lab CA"

// DefaultValidity is how long a leaf is valid unless configured otherwise.
const DefaultValidity = 30 * 24 * time.Hour

// caValidity is the root's lifetime; a lab CA outliving any lab is fine.
const caValidity = 10 * 365 * 24 * time.Hour

// backdate is how far NotBefore is set in the past, to absorb clock skew.
const backdate = time.Hour

// Config says where the CA lives and what it issues.
type Config struct {
	// Dir holds CertFile and KeyFile; created with mode 0700 if missing.
	Dir string
	// Validity of issued leaves; DefaultValidity when zero.
	Validity time.Duration
	// Now is the clock; time.Now when nil. Tests move it.
	Now func() time.Time
}

// CA issues leaf certificates for hostnames.
type CA struct {
	cert     *x509.Certificate
	certPEM  []byte
	key      *ecdsa.PrivateKey
	validity time.Duration
	now      func() time.Time
	certPath string
}

// New loads the CA from cfg.Dir, creating and persisting it on first use.
func New(cfg Config) (*CA, error) {
	if cfg.Dir == "" {
		return nil, errors.New("lab CA: dir is required")
	}
	if cfg.Validity < 0 {
		return nil, fmt.Errorf("lab CA: validity %v is negative", cfg.Validity)
	}
	ca := &CA{
		validity: cfg.Validity,
		now:      cfg.Now,
		certPath: filepath.Join(cfg.Dir, CertFile),
	}
	if ca.validity == 0 {
		ca.validity = DefaultValidity
	}
	if ca.now == nil {
		ca.now = time.Now
	}
	keyPath := filepath.Join(cfg.Dir, KeyFile)
	certPEM, certErr := os.ReadFile(ca.certPath)
	keyPEM, keyErr := os.ReadFile(keyPath)
	switch {
	case certErr == nil && keyErr == nil:
		if err := ca.load(certPEM, keyPEM); err != nil {
			return nil, fmt.Errorf("lab CA in %s: %w", cfg.Dir, err)
		}
		return ca, nil
	case errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist):
		if err := ca.create(cfg.Dir, keyPath); err != nil {
			return nil, fmt.Errorf("lab CA in %s: %w", cfg.Dir, err)
		}
		return ca, nil
	case certErr != nil && !errors.Is(certErr, fs.ErrNotExist):
		return nil, fmt.Errorf("lab CA: %w", certErr)
	case keyErr != nil && !errors.Is(keyErr, fs.ErrNotExist):
		return nil, fmt.Errorf("lab CA: %w", keyErr)
	default:
		// One file without the other: refuse rather than replace a CA
		// that clients may already trust.
		return nil, fmt.Errorf("lab CA in %s: found only one of %s and %s", cfg.Dir, CertFile, KeyFile)
	}
}

func (ca *CA) load(certPEM, keyPEM []byte) error {
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return fmt.Errorf("%s: no PEM certificate", CertFile)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return fmt.Errorf("%s: %w", CertFile, err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return fmt.Errorf("%s: no PEM key", KeyFile)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return fmt.Errorf("%s: %w", KeyFile, err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return fmt.Errorf("%s does not match %s", KeyFile, CertFile)
	}
	ca.cert, ca.certPEM, ca.key = cert, certPEM, key
	return nil
}

func (ca *CA) create(dir, keyPath string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := randSerial()
	if err != nil {
		return err
	}
	now := ca.now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: Name, Organization: []string{"Rampart lab"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	// The key goes first: a certificate on disk without its key would make
	// the next start refuse to run.
	if err := atomicfile.Write(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	if err := atomicfile.Write(ca.certPath, certPEM, 0o644); err != nil {
		return err
	}
	ca.cert, ca.certPEM, ca.key = cert, certPEM, key
	return nil
}

// Issue signs a fresh P-256 leaf for hostname. The chain is the leaf alone:
// the root is what clients trust and is not sent.
func (ca *CA) Issue(ctx context.Context, hostname string) (chainPEM, keyPEM []byte, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("issue %q: %w", hostname, err)
	}
	serial, err := randSerial()
	if err != nil {
		return nil, nil, fmt.Errorf("issue %q: %w", hostname, err)
	}
	now := ca.now()
	notAfter := now.Add(ca.validity)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: hostname},
		DNSNames:     []string{hostname},
		NotBefore:    now.Add(-backdate),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("issue %q: %w", hostname, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("issue %q: %w", hostname, err)
	}
	chainPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return chainPEM, keyPEM, nil
}

// CertPEM is the CA certificate in PEM, for clients to trust.
func (ca *CA) CertPEM() []byte { return bytes.Clone(ca.certPEM) }

// CertPath is the file holding CertPEM, for curl --cacert.
func (ca *CA) CertPath() string { return ca.certPath }

// Certificate is the parsed CA certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

func randSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
}
