package certs

import (
	"crypto/x509"
	"math/big"
	"testing"
	"time"
)

func TestRenewJitterIsBoundedAndStable(t *testing.T) {
	const lifetime = 90 * 24 * time.Hour
	seen := map[time.Duration]bool{}
	for i := range 50 {
		c := &x509.Certificate{SerialNumber: new(big.Int).Lsh(big.NewInt(int64(i+1)), 100)}
		j := renewJitter(c, lifetime)
		if j < 0 || j >= lifetime/30 {
			t.Fatalf("jitter %v outside [0, %v)", j, lifetime/30)
		}
		if renewJitter(c, lifetime) != j {
			t.Fatal("jitter differs between two checks of one certificate")
		}
		seen[j] = true
	}
	if len(seen) < 40 {
		t.Fatalf("only %d distinct jitters for 50 certificates", len(seen))
	}
	if renewJitter(&x509.Certificate{}, lifetime) != 0 {
		t.Fatal("a certificate without a serial got jitter")
	}
}
