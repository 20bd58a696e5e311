package natsconf

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// TestRampartPrecomputedHashes shows that with Spec.Hash two renders of the
// same spec are byte-identical, which a deployment tool needs to see no diff
// on a re-run, and that a missing hash names its credential.
func TestRampartPrecomputedHashes(t *testing.T) {
	spec := testSpec()
	hashes := map[string]string{}
	for field, pw := range map[string]string{
		"control_password":    spec.Credentials.ControlPassword,
		"sys_password":        spec.Credentials.SysPassword,
		"edge_passwords.nyc3": spec.Credentials.EdgePasswords["nyc3"],
		"edge_passwords.ams3": spec.Credentials.EdgePasswords["ams3"],
	} {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		hashes[field] = string(h)
	}
	spec.Hash = HashesFrom(hashes)
	render := func() []byte {
		t.Helper()
		configs, err := Rampart(spec)
		if err != nil {
			t.Fatal(err)
		}
		out, err := configs["nyc3-1"].Render()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	first, second := render(), render()
	if !bytes.Equal(first, second) {
		t.Fatal("two renders with precomputed hashes differ")
	}
	for field, h := range hashes {
		if !bytes.Contains(first, []byte(`"`+h+`"`)) {
			t.Errorf("hash of %s not rendered", field)
		}
	}

	delete(hashes, "edge_passwords.ams3")
	_, err := Rampart(spec)
	if err == nil || !strings.Contains(err.Error(), "credentials.edge_passwords.ams3: no precomputed hash") {
		t.Fatalf("Rampart() with a hash missing = %v, want the field named", err)
	}
	hashes["edge_passwords.ams3"] = "plain"
	if _, err := Rampart(spec); err == nil || !strings.Contains(err.Error(), "edge_passwords.ams3: precomputed hash is not bcrypt") {
		t.Fatalf("Rampart() with a plain hash = %v", err)
	}
}
