package natsconf

import (
	"bytes"
	"github.com/rampart-edge/rampart/cloudinit/internal/golden"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/conf"
	"github.com/nats-io/nats-server/v2/server"
)

// fullConfig uses every field the renderer knows.
func fullConfig() Config {
	tls := func(name string) *TLS {
		return &TLS{CertFile: "/etc/nats/" + name + ".crt", KeyFile: "/etc/nats/" + name + ".key", CAFile: "/etc/nats/ca.crt", Verify: true}
	}
	return Config{
		ServerName: "ams3-1",
		Listen:     HostPort{Host: "10.8.0.2", Port: 4222},
		HTTP:       &HostPort{Host: "127.0.0.1", Port: 8222},
		TLS:        &TLS{CertFile: "/etc/nats/client.crt", KeyFile: "/etc/nats/client.key"},
		Cluster: &Cluster{
			Name:          "ams3",
			Listen:        HostPort{Host: "10.8.0.2", Port: 6222},
			Routes:        []string{RouteURL("10.8.0.3", 6222, "route", "p@ss/word")},
			Authorization: &Authorization{User: "route", Password: "p@ss/word"},
			TLS:           tls("route"),
		},
		Gateway: &Gateway{
			Name:          "ams3",
			Listen:        HostPort{Host: "10.8.0.2", Port: 7222},
			Authorization: &Authorization{User: "gw", Password: "gw-secret"},
			TLS:           tls("gateway"),
			Gateways: []RemoteGateway{
				{Name: "ams3", URLs: []string{GatewayURL("10.8.0.2", 7222, "gw", "gw-secret"), GatewayURL("10.8.0.3", 7222, "gw", "gw-secret")}},
				{Name: "nyc3", URLs: []string{GatewayURL("fd00::1", 7222, "gw", "gw-secret")}},
			},
		},
		JetStream: &JetStream{StoreDir: "/var/lib/nats/ams3-1", MaxMemoryStore: 1 << 30, MaxFileStore: 10 << 30},
		Accounts: []Account{
			{
				Name:      "A",
				JetStream: true,
				Users:     []User{{User: "a", Password: "$2a$04$abcdefghijklmnopqrstuu5Kx9o7E3lRZbW7dY0f0nQ2C2z2YQ1xS"}},
				Exports: []Export{
					ServiceExport("$JS.API.>", ResponseStream),
					{Kind: KindStream, Subject: "private.>", Accounts: []string{"B"}},
				},
				Imports: []Import{StreamImport("B", "b.events.>")},
			},
			{
				Name: "B",
				Users: []User{{
					User:     "b",
					Password: `quote " backslash \ tab 	 newline` + "\n",
					Permissions: &Permissions{
						Publish:        SubjectPermission{Allow: []string{"b.>"}, Deny: []string{"b.secret"}},
						Subscribe:      SubjectPermission{Allow: []string{"_INBOX.>"}},
						AllowResponses: &ResponsePermission{MaxMsgs: 5, Expires: time.Minute},
					},
				}},
				Exports: []Export{StreamExport("b.events.>")},
				Imports: []Import{ServiceImport("A", "$JS.API.>", "$JS.a.API.>"), StreamImport("A", "private.b.>")},
			},
			{Name: "SYS", Users: []User{{User: "sys", Password: "sys"}}},
		},
		SystemAccount: "SYS",
	}
}

func TestRenderFullGolden(t *testing.T) {
	c := fullConfig()
	got, err := c.Render()
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "full.golden", got)

	again, err := c.Render()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, again) {
		t.Error("two renders of the same config differ")
	}
}

// TestRenderParsesBack checks that nats-server reads back what was meant:
// quoting, numbers, lists and the account layout.
func TestRenderParsesBack(t *testing.T) {
	c := fullConfig()
	out, err := c.Render()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	// TLS files do not exist, so use the raw parser for the whole file and
	// the server's option parser for a copy without TLS.
	m, err := conf.ParseFile(path)
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, out)
	}
	if got := m["server_name"]; got != "ams3-1" {
		t.Errorf("server_name = %v", got)
	}
	js := m["jetstream"].(map[string]any)
	if got := js["max_file_store"]; got != int64(10<<30) {
		t.Errorf("jetstream.max_file_store = %v (%T)", got, got)
	}

	c.TLS, c.Cluster.TLS, c.Gateway.TLS = nil, nil, nil
	out, err = c.Render()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("ProcessConfigFile: %v\n%s", err, out)
	}
	if opts.Cluster.Password != "p@ss/word" || opts.Gateway.Password != "gw-secret" {
		t.Errorf("cluster/gateway password = %q/%q", opts.Cluster.Password, opts.Gateway.Password)
	}
	if len(opts.Routes) != 1 || opts.Routes[0].User.String() != "route:p%40ss%2Fword" {
		t.Errorf("routes = %v", opts.Routes)
	}
	if len(opts.Gateway.Gateways) != 2 || opts.Gateway.Gateways[1].URLs[0].Host != "[fd00::1]:7222" {
		t.Errorf("gateways = %+v", opts.Gateway.Gateways)
	}
	users := map[string]*server.User{}
	for _, u := range opts.Users {
		users[u.Username] = u
	}
	if got := users["a"].Password; got != "$2a$04$abcdefghijklmnopqrstuu5Kx9o7E3lRZbW7dY0f0nQ2C2z2YQ1xS" {
		t.Errorf("bcrypt hash read back as %q", got)
	}
	b := users["b"]
	if want := `quote " backslash \ tab 	 newline` + "\n"; b.Password != want {
		t.Errorf("escaped password read back as %q, want %q", b.Password, want)
	}
	if b.Account.Name != "B" {
		t.Errorf("user b in account %q", b.Account.Name)
	}
	p := b.Permissions
	if p.Publish.Allow[0] != "b.>" || p.Publish.Deny[0] != "b.secret" || p.Subscribe.Allow[0] != "_INBOX.>" {
		t.Errorf("permissions = %+v %+v", p.Publish, p.Subscribe)
	}
	if p.Response == nil || p.Response.MaxMsgs != 5 || p.Response.Expires != time.Minute {
		t.Errorf("allow_responses = %+v", p.Response)
	}
	if opts.SystemAccount != "SYS" {
		t.Errorf("system_account = %q", opts.SystemAccount)
	}
}

func TestQuote(t *testing.T) {
	for _, s := range []string{
		"plain",
		"$2a$10$abc",
		`with "quotes" and \backslashes\`,
		"tab\tnewline\ncr\r",
		"bell\a nul\x00 del\x7f",
		"unicode: Zürich 東京",
		"#not a comment // nor this",
		"}]{[,;=:",
	} {
		text := "v: " + quote(s) + "\n"
		m, err := conf.Parse(text)
		if err != nil {
			t.Errorf("quote(%q) = %s: %v", s, text, err)
			continue
		}
		if m["v"] != s {
			t.Errorf("quote(%q) = %s, read back as %q", s, text, m["v"])
		}
	}
}

func TestQuoteEscapesControlBytes(t *testing.T) {
	if got, want := quote("a\x01b"), `"a\x01b"`; got != want {
		t.Errorf("quote = %s, want %s", got, want)
	}
	if regexp.MustCompile(`[\x00-\x1f]`).MatchString(quote("\x00\x1f\n")) {
		t.Error("control characters left unescaped")
	}
}
