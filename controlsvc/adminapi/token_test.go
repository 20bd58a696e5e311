package adminapi_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rampart-edge/rampart/controlsvc/adminapi"
)

func TestTokenPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "admin-token")
	first, err := adminapi.LoadOrCreateToken(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 43 { // 32 bytes in unpadded base64url
		t.Errorf("token %q has %d characters, want 43", first, len(first))
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %o, want 600", fi.Mode().Perm())
	}
	second, err := adminapi.LoadOrCreateToken(path)
	if err != nil || second != first {
		t.Fatalf("second load = %q, %v; want %q", second, err, first)
	}

	other, err := adminapi.LoadOrCreateToken(filepath.Join(t.TempDir(), "admin-token"))
	if err != nil || other == first {
		t.Fatalf("another data dir got %q, %v", other, err)
	}
}

func TestTokenFileChecks(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open")
	if err := os.WriteFile(open, []byte("a-long-enough-token-here\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := adminapi.LoadOrCreateToken(open); err == nil {
		t.Error("accepted a token file others can read")
	}
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte("abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := adminapi.LoadOrCreateToken(short); err == nil {
		t.Error("accepted a short token")
	}
}
