package api

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Sealing protects certificate private keys at rest in the "certs" bucket:
// the control plane seals each key to the edges' X25519 public key (ECDH with
// a fresh ephemeral key, HKDF-SHA256, AES-256-GCM); only holders of the edge
// private key can open it.

const sealPrefix = "x25519-aes256gcm.v1."
const sealInfo = "rampart cert key seal v1"

// SealFor seals plaintext to the recipient's public key.
func SealFor(recipient *ecdh.PublicKey, plaintext []byte) (string, error) {
	eph, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	aead, err := sealAEAD(eph, recipient, eph.PublicKey().Bytes())
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := append([]byte{}, eph.PublicKey().Bytes()...)
	out = append(out, nonce...)
	out = aead.Seal(out, nonce, plaintext, eph.PublicKey().Bytes())
	return sealPrefix + base64.RawStdEncoding.EncodeToString(out), nil
}

// Open reverses SealFor with the recipient's private key.
func Open(priv *ecdh.PrivateKey, sealed string) ([]byte, error) {
	enc, ok := strings.CutPrefix(sealed, sealPrefix)
	if !ok {
		return nil, errors.New("open sealed key: unknown format")
	}
	raw, err := base64.RawStdEncoding.DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("open sealed key: %w", err)
	}
	if len(raw) < 32+12+16 {
		return nil, errors.New("open sealed key: too short")
	}
	ephPub, err := ecdh.X25519().NewPublicKey(raw[:32])
	if err != nil {
		return nil, fmt.Errorf("open sealed key: %w", err)
	}
	aead, err := sealAEAD(priv, ephPub, raw[:32])
	if err != nil {
		return nil, err
	}
	nonce := raw[32 : 32+aead.NonceSize()]
	plain, err := aead.Open(nil, nonce, raw[32+aead.NonceSize():], raw[:32])
	if err != nil {
		return nil, errors.New("open sealed key: wrong key or corrupted")
	}
	return plain, nil
}

func sealAEAD(priv *ecdh.PrivateKey, pub *ecdh.PublicKey, salt []byte) (cipher.AEAD, error) {
	shared, err := priv.ECDH(pub)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	key, err := hkdf.Key(sha256.New, shared, salt, sealInfo, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// ParseSealKey decodes a base64 X25519 private key (as stored in config and
// Pulumi secrets).
func ParseSealKey(b64 string) (*ecdh.PrivateKey, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return nil, fmt.Errorf("seal key: %w", err)
	}
	return ecdh.X25519().NewPrivateKey(raw)
}

// ParseSealPublicKey decodes a base64 X25519 public key.
func ParseSealPublicKey(b64 string) (*ecdh.PublicKey, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return nil, fmt.Errorf("seal public key: %w", err)
	}
	return ecdh.X25519().NewPublicKey(raw)
}
