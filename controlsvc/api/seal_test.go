package api

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
)

func newSealKey(t *testing.T) *ecdh.PrivateKey {
	t.Helper()
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealRoundTrip(t *testing.T) {
	priv := newSealKey(t)
	_, keyPEM := testCertPEM(t, "www.example.com")
	for _, plain := range [][]byte{[]byte(keyPEM), {}, {0}, bytes.Repeat([]byte{0xff}, 1<<16)} {
		sealed, err := SealFor(priv.PublicKey(), plain)
		if err != nil {
			t.Fatalf("SealFor: %v", err)
		}
		if !strings.HasPrefix(sealed, "x25519-aes256gcm.v1.") {
			t.Fatalf("sealed value %.40q lacks the format prefix", sealed)
		}
		// Only a plaintext long enough not to turn up in random base64 by
		// chance (one byte, "AA", is in ~1.5% of seals: this test was flaky).
		if len(plain) >= 12 && strings.Contains(sealed, base64.RawStdEncoding.EncodeToString(plain[:min(len(plain), 30)])) {
			t.Fatal("sealed value contains the plaintext")
		}
		got, err := Open(priv, sealed)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("Open = %d bytes, want the %d sealed", len(got), len(plain))
		}
	}
}

func TestSealIsRandomized(t *testing.T) {
	priv := newSealKey(t)
	a, err := SealFor(priv.PublicKey(), []byte("same"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := SealFor(priv.PublicKey(), []byte("same"))
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatal("two seals of the same plaintext are equal; want a fresh ephemeral key and nonce each time")
	}
}

func TestOpenWrongKey(t *testing.T) {
	sealed, err := SealFor(newSealKey(t).PublicKey(), []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	if plain, err := Open(newSealKey(t), sealed); err == nil {
		t.Fatalf("Open with the wrong key = %q, want an error", plain)
	}
}

func TestOpenTampered(t *testing.T) {
	priv := newSealKey(t)
	sealed, err := SealFor(priv.PublicKey(), []byte("-----BEGIN PRIVATE KEY-----"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawStdEncoding.DecodeString(strings.TrimPrefix(sealed, sealPrefix))
	if err != nil {
		t.Fatal(err)
	}
	reseal := func(raw []byte) string { return sealPrefix + base64.RawStdEncoding.EncodeToString(raw) }
	flip := func(i int) string {
		c := bytes.Clone(raw)
		c[i] ^= 0x01
		return reseal(c)
	}
	tests := map[string]string{
		"ephemeral key":   flip(0),
		"nonce":           flip(32),
		"ciphertext":      flip(32 + 12),
		"tag":             flip(len(raw) - 1),
		"truncated tag":   reseal(raw[:len(raw)-1]),
		"extended":        reseal(append(bytes.Clone(raw), 0)),
		"too short":       reseal(raw[:32+12+15]),
		"empty payload":   sealPrefix,
		"not base64":      sealPrefix + "!!!!",
		"padded base64":   sealPrefix + base64.StdEncoding.EncodeToString(raw[:len(raw)-1]),
		"unknown format":  "x25519-aes256gcm.v2." + strings.TrimPrefix(sealed, sealPrefix),
		"no prefix":       strings.TrimPrefix(sealed, sealPrefix),
		"empty":           "",
		"plaintext PEM":   "-----BEGIN PRIVATE KEY-----",
		"prefix mangled":  strings.ToUpper(sealPrefix) + strings.TrimPrefix(sealed, sealPrefix),
		"zero public key": reseal(append(make([]byte, 32), raw[32:]...)),
	}
	for name, s := range tests {
		t.Run(name, func(t *testing.T) {
			if plain, err := Open(priv, s); err == nil {
				t.Fatalf("Open = %q, want an error", plain)
			}
		})
	}
	if _, err := Open(priv, "x25519-aes256gcm.v2.AAAA"); err == nil || !strings.Contains(err.Error(), "unknown format") {
		t.Errorf("Open of an unknown format = %v, want \"unknown format\"", err)
	}
	if plain, err := Open(priv, sealed); err != nil || string(plain) != "-----BEGIN PRIVATE KEY-----" {
		t.Fatalf("Open of the untouched value = %q, %v", plain, err)
	}
}

func TestParseSealKeys(t *testing.T) {
	priv := newSealKey(t)
	privB64 := base64.StdEncoding.EncodeToString(priv.Bytes())
	pubB64 := base64.StdEncoding.EncodeToString(priv.PublicKey().Bytes())

	// Surrounding space and line-wrapped base64 (as secrets stores hand it back) are accepted.
	for _, in := range []string{privB64, privB64 + "\n", "  " + privB64 + "\r\n", privB64[:20] + "\n" + privB64[20:]} {
		got, err := ParseSealKey(in)
		if err != nil {
			t.Fatalf("ParseSealKey(%q): %v", in, err)
		}
		if !got.Equal(priv) {
			t.Fatalf("ParseSealKey(%q) returned a different key", in)
		}
	}
	pub, err := ParseSealPublicKey(pubB64 + "\n")
	if err != nil {
		t.Fatalf("ParseSealPublicKey: %v", err)
	}
	if !pub.Equal(priv.PublicKey()) {
		t.Fatal("ParseSealPublicKey returned a different key")
	}

	// Keys from config work together: seal to the parsed public key, open with the parsed private key.
	parsedPriv, err := ParseSealKey(privB64)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := SealFor(pub, []byte("key"))
	if err != nil {
		t.Fatal(err)
	}
	if plain, err := Open(parsedPriv, sealed); err != nil || string(plain) != "key" {
		t.Fatalf("Open with the parsed key = %q, %v", plain, err)
	}

	bad := map[string]string{
		"empty":           "",
		"not base64":      "not base64!",
		"raw url base64":  base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)),
		"31 bytes":        base64.StdEncoding.EncodeToString(make([]byte, 31)),
		"33 bytes":        base64.StdEncoding.EncodeToString(make([]byte, 33)),
		"hex":             strings.Repeat("ab", 32),
		"P-256 key bytes": base64.StdEncoding.EncodeToString(make([]byte, 65)),
	}
	for name, in := range bad {
		if _, err := ParseSealKey(in); err == nil {
			t.Errorf("ParseSealKey(%s) accepted %q", name, in)
		}
		if _, err := ParseSealPublicKey(in); err == nil {
			t.Errorf("ParseSealPublicKey(%s) accepted %q", name, in)
		}
	}
}
