package natsconf

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(c *Config)
		want   string // substring of the error; "" means valid
	}{
		{"full config", func(c *Config) {}, ""},
		{"minimal config", func(c *Config) { *c = Config{ServerName: "n", Listen: HostPort{Port: 4222}} }, ""},
		{"no server name", func(c *Config) { c.ServerName = "" }, "server_name: required"},
		{"server name with space", func(c *Config) { c.ServerName = "a b" }, "server_name:"},
		{"listen port 0", func(c *Config) { c.Listen.Port = 0 }, "listen: port 0"},
		{"listen port too big", func(c *Config) { c.Listen.Port = 70000 }, "listen: port 70000"},
		{"listen host with slash", func(c *Config) { c.Listen.Host = "a/b" }, "listen: host"},
		{"http port", func(c *Config) { c.HTTP.Port = -1 }, "http: port -1"},
		{"client tls without key", func(c *Config) { c.TLS.KeyFile = "" }, "tls.key_file: required"},
		{"cluster tls verify without ca", func(c *Config) { c.Cluster.TLS.CAFile = "" }, "cluster.tls.ca_file: required when verify"},
		{"gateway tls without cert", func(c *Config) { c.Gateway.TLS.CertFile = "" }, "gateway.tls.cert_file: required"},
		{"cluster name", func(c *Config) { c.Cluster.Name = "" }, "cluster.name: required"},
		{"cluster listen", func(c *Config) { c.Cluster.Listen.Port = 0 }, "cluster.listen: port 0"},
		{"route scheme", func(c *Config) { c.Cluster.Routes = []string{"http://h:1"} }, "cluster.routes[0]: URL \"http://h:1\": scheme"},
		{"route without port", func(c *Config) { c.Cluster.Routes = []string{"nats-route://u:secret@h"} }, "cluster.routes[0]: URL \"nats-route://u:xxxxx@h\": want host:port"},
		{"route with path", func(c *Config) { c.Cluster.Routes = []string{"nats-route://h:1/x"} }, "want no path"},
		{"route password not in error", func(c *Config) { c.Cluster.Routes = []string{"ftp://u:hunter2@h:1"} }, "u:xxxxx@h:1"},
		{"cluster auth user", func(c *Config) { c.Cluster.Authorization.User = "" }, "cluster.authorization.user: required"},
		{"gateway auth password", func(c *Config) { c.Gateway.Authorization.Password = "" }, "gateway.authorization.password: required"},
		{"gateway name differs from cluster", func(c *Config) { c.Gateway.Name = "nyc3" }, "gateway.name: \"nyc3\" must equal cluster.name \"ams3\""},
		{"gateway listen", func(c *Config) { c.Gateway.Listen.Port = 0 }, "gateway.listen: port 0"},
		{"remote gateway name", func(c *Config) { c.Gateway.Gateways[1].Name = "" }, "gateway.gateways[1].name: required"},
		{"duplicate remote gateway", func(c *Config) { c.Gateway.Gateways[1].Name = "ams3" }, "gateway.gateways[1].name: duplicate gateway \"ams3\""},
		{"remote gateway without urls", func(c *Config) { c.Gateway.Gateways[1].URLs = nil }, "gateway.gateways[1].urls: at least one URL"},
		{"remote gateway route scheme", func(c *Config) { c.Gateway.Gateways[0].URLs[1] = "nats-route://h:1" }, "gateway.gateways[0].urls[1]: URL"},
		{"store dir", func(c *Config) { c.JetStream.StoreDir = "" }, "jetstream.store_dir: required"},
		{"negative file store", func(c *Config) { c.JetStream.MaxFileStore = -1 }, "jetstream.max_file_store: -1 is negative"},
		{"account jetstream without server jetstream", func(c *Config) { c.JetStream = nil }, "accounts[0].jetstream: needs the server's jetstream block"},
		{"account name", func(c *Config) { c.Accounts[1].Name = `B"` }, "accounts[1].name:"},
		{"duplicate account", func(c *Config) { c.Accounts[1].Name = "A" }, "accounts[1].name: duplicate account \"A\""},
		{"user name", func(c *Config) { c.Accounts[0].Users[0].User = "" }, "accounts[0].users[0].user: required"},
		{"user in two accounts", func(c *Config) { c.Accounts[2].Users[0].User = "a" }, "accounts[2].users[0].user: user \"a\" is already defined in account \"A\""},
		{"user password", func(c *Config) { c.Accounts[2].Users[0].Password = "" }, "accounts[2].users[0].password: required"},
		{"invalid utf-8", func(c *Config) { c.Accounts[2].Users[0].Password = "\xff" }, "accounts[2].users[0].password: \"\\xff\" is not valid UTF-8"},
		{"publish subject", func(c *Config) { c.Accounts[1].Users[0].Permissions.Publish.Allow = []string{"a..b"} }, "accounts[1].users[0].permissions.publish.allow[0]: subject \"a..b\" has an empty token"},
		{"subscribe subject", func(c *Config) { c.Accounts[1].Users[0].Permissions.Subscribe.Deny = []string{"a.>.b"} }, "permissions.subscribe.deny[0]: subject \"a.>.b\": '>' must be the whole last token"},
		{"subject with space", func(c *Config) { c.Accounts[1].Users[0].Permissions.Subscribe.Allow = []string{"a b"} }, "white space"},
		{"export kind", func(c *Config) { c.Accounts[0].Exports[0].Kind = 0 }, "accounts[0].exports[0]: unknown kind"},
		{"export subject", func(c *Config) { c.Accounts[0].Exports[0].Subject = "" }, "accounts[0].exports[0].service: required"},
		{"response type on stream", func(c *Config) { c.Accounts[0].Exports[1].ResponseType = ResponseStream }, "accounts[0].exports[1].response_type: only a service"},
		{"unknown response type", func(c *Config) { c.Accounts[0].Exports[0].ResponseType = "many" }, "accounts[0].exports[0].response_type: unknown response type \"many\""},
		{"export to unknown account", func(c *Config) { c.Accounts[0].Exports[1].Accounts = []string{"C"} }, "accounts[0].exports[1].accounts[0]: unknown account \"C\""},
		{"import from unknown account", func(c *Config) { c.Accounts[0].Imports[0].Account = "C" }, "accounts[0].imports[0].stream.account: unknown account \"C\""},
		{"import from itself", func(c *Config) { c.Accounts[0].Imports[0].Account = "A" }, "accounts[0].imports[0].stream.account: account \"A\" imports from itself"},
		{"import not exported", func(c *Config) { c.Accounts[0].Imports[0].Subject = "b.other" }, "accounts[0].imports[0].stream.subject: account \"B\" exports no stream covering \"b.other\" to \"A\""},
		{"import wrong kind", func(c *Config) { c.Accounts[1].Imports[0].Kind = KindStream }, "accounts[1].imports[0].stream.subject: account \"A\" exports no stream covering \"$JS.API.>\""},
		{"import of restricted export", func(c *Config) { c.Accounts[0].Exports[1].Accounts = []string{"SYS"} }, "accounts[1].imports[1].stream.subject: account \"A\" exports no stream covering \"private.b.>\" to \"B\""},
		{"import to", func(c *Config) { c.Accounts[1].Imports[0].To = "x." }, "accounts[1].imports[0].to: subject \"x.\" has an empty token"},
		{"system account", func(c *Config) { c.SystemAccount = "$SYS" }, "system_account: unknown account \"$SYS\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fullConfig()
			tt.modify(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.want)
			}
			if _, rerr := c.Render(); rerr == nil {
				t.Error("Render() accepted an invalid config")
			}
		})
	}
}

func TestSubjectWithin(t *testing.T) {
	tests := []struct {
		sub, pattern string
		want         bool
	}{
		{"a.b", "a.b", true},
		{"a.b", "a.*", true},
		{"a.b.c", "a.>", true},
		{"a.>", "a.>", true},
		{"a.*", "a.>", true},
		{"a", "a.>", false},
		{"a.>", "a.*", false},
		{"a.*", "a.b", false},
		{"a.b", "a.b.c", false},
		{"a.b.c", "a.b", false},
		{"$JS.API.>", "$JS.API.>", true},
		{"edge.purge", "edge.purge", true},
		{">", "a.>", false},
	}
	for _, tt := range tests {
		if got := subjectWithin(tt.sub, tt.pattern); got != tt.want {
			t.Errorf("subjectWithin(%q, %q) = %v, want %v", tt.sub, tt.pattern, got, tt.want)
		}
	}
}
