// Package certs keeps a certificate for every site in the "certs" KV bucket:
// an Issuer signs them (the lab CA now, ACME later) and the Manager
// reconciles the bucket with the "sites" bucket, issuing, renewing and
// deleting as sites come and go.
package certs

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-edge/rampart/controlsvc/api"
)

// Issuer obtains a certificate for one hostname. chainPEM is the leaf
// first, then any intermediates; keyPEM is the leaf's private key.
type Issuer interface {
	Issue(ctx context.Context, hostname string) (chainPEM, keyPEM []byte, err error)
}

// ErrNotFound means the bucket holds no certificate for the hostname.
var ErrNotFound = errors.New("no certificate")

// Status is the public part of a stored certificate.
type Status struct {
	Hostname  string    `json:"hostname"`
	Issuer    string    `json:"issuer"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
}

// ReadStatus reads the certificate status of hostname (already normalised)
// from kv, the api.BucketCerts bucket.
func ReadStatus(ctx context.Context, kv jetstream.KeyValue, hostname string) (Status, error) {
	e, err := kv.Get(ctx, hostname)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Status{}, fmt.Errorf("certificate of %q: %w", hostname, ErrNotFound)
	}
	if err != nil {
		return Status{}, fmt.Errorf("certificate of %q: %w", hostname, err)
	}
	rec, err := api.ParseCertRecord(e.Value())
	if err != nil {
		return Status{}, fmt.Errorf("certificate of %q: stored value: %w", hostname, err)
	}
	return Status{Hostname: rec.Hostname, Issuer: rec.Issuer, NotBefore: rec.NotBefore, NotAfter: rec.NotAfter}, nil
}

// leaf parses the first certificate of a PEM chain.
func leaf(chainPEM []byte) (*x509.Certificate, error) {
	for rest := chainPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, errors.New("no certificate in the chain")
		}
		if b.Type == "CERTIFICATE" {
			return x509.ParseCertificate(b.Bytes)
		}
	}
}
