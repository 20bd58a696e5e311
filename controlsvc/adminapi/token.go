package adminapi

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/rampart-edge/rampart/controlsvc/internal/atomicfile"
)

// MinTokenLength is the shortest admin token accepted.
const MinTokenLength = 16

// LoadOrCreateToken returns the admin token kept in path, creating the file
// with a fresh random token (32 bytes, base64url) and mode 0600 the first
// time. A file that others can read is refused rather than trusted.
func LoadOrCreateToken(path string) (string, error) {
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return createToken(path)
	case err != nil:
		return "", fmt.Errorf("admin token: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("admin token %s: mode %04o lets others read it; want 0600", path, perm)
	}
	tok := strings.TrimSpace(string(data))
	if len(tok) < MinTokenLength {
		return "", fmt.Errorf("admin token %s: shorter than %d characters", path, MinTokenLength)
	}
	return tok, nil
}

func createToken(path string) (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	tok := base64.RawURLEncoding.EncodeToString(raw)
	if err := atomicfile.Write(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	return tok, nil
}
