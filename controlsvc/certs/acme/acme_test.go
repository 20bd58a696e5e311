package acme

import (
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

func TestConfigValidate(t *testing.T) {
	var kv jetstream.KeyValue = struct{ jetstream.KeyValue }{} // never called by Validate
	ok := Config{DirectoryURL: "https://127.0.0.1:14000/dir", Challenges: kv, State: kv}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no directory", func(c *Config) { c.DirectoryURL = "" }, "directory_url: required"},
		{"plain http", func(c *Config) { c.DirectoryURL = "http://ca.example/dir" }, "want https"},
		{"no challenges bucket", func(c *Config) { c.Challenges = nil }, "challenges bucket"},
		{"no state bucket", func(c *Config) { c.State = nil }, "state bucket"},
		{"roots not PEM", func(c *Config) { c.CARootsPEM = []byte("nope") }, "ca_roots"},
	} {
		c := ok
		tc.edit(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestAccountKeyIsPerCA(t *testing.T) {
	a := &Issuer{cfg: Config{DirectoryURL: "https://acme-v02.api.letsencrypt.org/directory"}}
	b := &Issuer{cfg: Config{DirectoryURL: "https://acme-staging-v02.api.letsencrypt.org/directory"}}
	if a.accountKey() == b.accountKey() {
		t.Fatal("production and staging share an account key")
	}
	for _, k := range []string{a.accountKey(), b.accountKey()} {
		if strings.ContainsAny(k, "/:*> ") {
			t.Fatalf("account key %q is not a valid KV key", k)
		}
	}
}
