package natsconf

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// accountNameRE keeps account names safe as quoted map keys (which the
// nats.conf lexer does not unescape).
var accountNameRE = regexp.MustCompile(`^\$?[A-Za-z0-9_-]{1,64}$`)

// Validate checks c and returns an error naming the first bad field by its
// nats.conf path.
func (c Config) Validate() error {
	if err := checkName(c.ServerName); err != nil {
		return fieldErr("server_name", err)
	}
	if err := c.Listen.validate(); err != nil {
		return fieldErr("listen", err)
	}
	if c.HTTP != nil {
		if err := c.HTTP.validate(); err != nil {
			return fieldErr("http", err)
		}
	}
	if c.TLS != nil {
		if err := c.TLS.validate("tls"); err != nil {
			return err
		}
	}
	if c.Cluster != nil {
		if err := c.Cluster.validate(); err != nil {
			return err
		}
	}
	if c.Gateway != nil {
		if err := c.Gateway.validate(); err != nil {
			return err
		}
		if c.Cluster != nil && c.Gateway.Name != c.Cluster.Name {
			return fieldErr("gateway.name", fmt.Errorf("%q must equal cluster.name %q", c.Gateway.Name, c.Cluster.Name))
		}
	}
	if c.JetStream != nil {
		if err := c.JetStream.validate(); err != nil {
			return err
		}
	}
	return c.validateAccounts()
}

func (c Config) validateAccounts() error {
	byName := make(map[string]*Account, len(c.Accounts))
	users := make(map[string]string)
	for i := range c.Accounts {
		a := &c.Accounts[i]
		path := fmt.Sprintf("accounts[%d]", i)
		if !accountNameRE.MatchString(a.Name) {
			return fieldErr(path+".name", fmt.Errorf("%q: want 1-64 letters, digits, '_' or '-', optionally after '$'", a.Name))
		}
		if _, dup := byName[a.Name]; dup {
			return fieldErr(path+".name", fmt.Errorf("duplicate account %q", a.Name))
		}
		byName[a.Name] = a
		if a.JetStream && c.JetStream == nil {
			return fieldErr(path+".jetstream", errors.New("needs the server's jetstream block"))
		}
		for j, u := range a.Users {
			upath := fmt.Sprintf("%s.users[%d]", path, j)
			if err := checkString(u.User); err != nil {
				return fieldErr(upath+".user", err)
			}
			if other, dup := users[u.User]; dup {
				return fieldErr(upath+".user", fmt.Errorf("user %q is already defined in account %q", u.User, other))
			}
			users[u.User] = a.Name
			if err := checkString(u.Password); err != nil {
				return fieldErr(upath+".password", err)
			}
			if u.Permissions != nil {
				if err := u.Permissions.validate(upath + ".permissions"); err != nil {
					return err
				}
			}
		}
		for j, e := range a.Exports {
			if err := e.validate(fmt.Sprintf("%s.exports[%d]", path, j)); err != nil {
				return err
			}
		}
	}
	// Imports and export restrictions refer to other accounts, so check them
	// once every account is known.
	for i, a := range c.Accounts {
		for j, e := range a.Exports {
			for k, name := range e.Accounts {
				if _, ok := byName[name]; !ok {
					return fieldErr(fmt.Sprintf("accounts[%d].exports[%d].accounts[%d]", i, j, k), fmt.Errorf("unknown account %q", name))
				}
			}
		}
		for j, im := range a.Imports {
			if err := im.validate(fmt.Sprintf("accounts[%d].imports[%d]", i, j), a.Name, byName); err != nil {
				return err
			}
		}
	}
	if c.SystemAccount != "" {
		if _, ok := byName[c.SystemAccount]; !ok {
			return fieldErr("system_account", fmt.Errorf("unknown account %q", c.SystemAccount))
		}
	}
	return nil
}

func (h HostPort) validate() error {
	if strings.ContainsFunc(h.Host, unicode.IsSpace) || strings.ContainsAny(h.Host, "/[]") {
		return fmt.Errorf("host %q is not a host name or IP address", h.Host)
	}
	if h.Port < 1 || h.Port > 65535 {
		return fmt.Errorf("port %d is not in 1-65535", h.Port)
	}
	return nil
}

func (t *TLS) validate(path string) error {
	if t.CertFile == "" {
		return fieldErr(path+".cert_file", errors.New("required"))
	}
	if t.KeyFile == "" {
		return fieldErr(path+".key_file", errors.New("required"))
	}
	files := []struct{ field, value string }{{"cert_file", t.CertFile}, {"key_file", t.KeyFile}, {"ca_file", t.CAFile}}
	for _, f := range files {
		if f.value != "" {
			if err := checkString(f.value); err != nil {
				return fieldErr(path+"."+f.field, err)
			}
		}
	}
	if t.Verify && t.CAFile == "" {
		return fieldErr(path+".ca_file", errors.New("required when verify is set"))
	}
	return nil
}

func (a *Authorization) validate(path string) error {
	if err := checkString(a.User); err != nil {
		return fieldErr(path+".user", err)
	}
	if err := checkString(a.Password); err != nil {
		return fieldErr(path+".password", err)
	}
	return nil
}

func (cl *Cluster) validate() error {
	if err := checkName(cl.Name); err != nil {
		return fieldErr("cluster.name", err)
	}
	if err := cl.Listen.validate(); err != nil {
		return fieldErr("cluster.listen", err)
	}
	for i, r := range cl.Routes {
		if err := checkURL(r, "nats-route", "nats", "tls"); err != nil {
			return fieldErr(fmt.Sprintf("cluster.routes[%d]", i), err)
		}
	}
	if cl.Authorization != nil {
		if err := cl.Authorization.validate("cluster.authorization"); err != nil {
			return err
		}
	}
	if cl.TLS != nil {
		return cl.TLS.validate("cluster.tls")
	}
	return nil
}

func (g *Gateway) validate() error {
	if err := checkName(g.Name); err != nil {
		return fieldErr("gateway.name", err)
	}
	if err := g.Listen.validate(); err != nil {
		return fieldErr("gateway.listen", err)
	}
	if g.Authorization != nil {
		if err := g.Authorization.validate("gateway.authorization"); err != nil {
			return err
		}
	}
	if g.TLS != nil {
		if err := g.TLS.validate("gateway.tls"); err != nil {
			return err
		}
	}
	seen := make(map[string]bool, len(g.Gateways))
	for i, rg := range g.Gateways {
		path := fmt.Sprintf("gateway.gateways[%d]", i)
		if err := checkName(rg.Name); err != nil {
			return fieldErr(path+".name", err)
		}
		if seen[rg.Name] {
			return fieldErr(path+".name", fmt.Errorf("duplicate gateway %q", rg.Name))
		}
		seen[rg.Name] = true
		if len(rg.URLs) == 0 {
			return fieldErr(path+".urls", errors.New("at least one URL is required"))
		}
		for j, u := range rg.URLs {
			if err := checkURL(u, "nats", "tls"); err != nil {
				return fieldErr(fmt.Sprintf("%s.urls[%d]", path, j), err)
			}
		}
	}
	return nil
}

func (j *JetStream) validate() error {
	if err := checkString(j.StoreDir); err != nil {
		return fieldErr("jetstream.store_dir", err)
	}
	if j.MaxMemoryStore < 0 {
		return fieldErr("jetstream.max_memory_store", fmt.Errorf("%d is negative", j.MaxMemoryStore))
	}
	if j.MaxFileStore < 0 {
		return fieldErr("jetstream.max_file_store", fmt.Errorf("%d is negative", j.MaxFileStore))
	}
	return nil
}

func (p *Permissions) validate(path string) error {
	lists := []struct {
		field    string
		subjects []string
	}{
		{"publish.allow", p.Publish.Allow},
		{"publish.deny", p.Publish.Deny},
		{"subscribe.allow", p.Subscribe.Allow},
		{"subscribe.deny", p.Subscribe.Deny},
	}
	for _, l := range lists {
		for i, s := range l.subjects {
			if err := checkSubject(s); err != nil {
				return fieldErr(fmt.Sprintf("%s.%s[%d]", path, l.field, i), err)
			}
		}
	}
	return nil
}

func (e Export) validate(path string) error {
	if e.Kind != KindStream && e.Kind != KindService {
		return fieldErr(path, fmt.Errorf("unknown kind %v", e.Kind))
	}
	if err := checkSubject(e.Subject); err != nil {
		return fieldErr(path+"."+e.Kind.String(), err)
	}
	switch e.ResponseType {
	case "":
	case ResponseSingleton, ResponseStream, ResponseChunked:
		if e.Kind != KindService {
			return fieldErr(path+".response_type", errors.New("only a service has a response type"))
		}
	default:
		return fieldErr(path+".response_type", fmt.Errorf("unknown response type %q", e.ResponseType))
	}
	return nil
}

func (im Import) validate(path, self string, accounts map[string]*Account) error {
	if im.Kind != KindStream && im.Kind != KindService {
		return fieldErr(path, fmt.Errorf("unknown kind %v", im.Kind))
	}
	kpath := path + "." + im.Kind.String()
	if im.Account == self {
		return fieldErr(kpath+".account", fmt.Errorf("account %q imports from itself", self))
	}
	from, ok := accounts[im.Account]
	if !ok {
		return fieldErr(kpath+".account", fmt.Errorf("unknown account %q", im.Account))
	}
	if err := checkSubject(im.Subject); err != nil {
		return fieldErr(kpath+".subject", err)
	}
	if im.To != "" {
		if err := checkSubject(im.To); err != nil {
			return fieldErr(path+".to", err)
		}
	}
	for _, e := range from.Exports {
		if e.Kind == im.Kind && subjectWithin(im.Subject, e.Subject) && (len(e.Accounts) == 0 || slices.Contains(e.Accounts, self)) {
			return nil
		}
	}
	return fieldErr(kpath+".subject", fmt.Errorf("account %q exports no %s covering %q to %q", im.Account, im.Kind, im.Subject, self))
}

// checkName checks a server, cluster or gateway name: nats-server rejects spaces.
func checkName(s string) error {
	if err := checkString(s); err != nil {
		return err
	}
	if strings.ContainsFunc(s, unicode.IsSpace) {
		return fmt.Errorf("%q contains white space", s)
	}
	return nil
}

// checkString rejects empty values and invalid UTF-8; anything else can be quoted.
func checkString(s string) error {
	if s == "" {
		return errors.New("required")
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%q is not valid UTF-8", s)
	}
	return nil
}

// checkURL checks a route or gateway URL: one of schemes, a host and a port,
// nothing else.
func checkURL(s string, schemes ...string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("invalid URL: %w", err)
	}
	if !slices.Contains(schemes, u.Scheme) {
		return fmt.Errorf("URL %q: scheme must be one of %s", redact(u), strings.Join(schemes, ", "))
	}
	if u.Hostname() == "" || u.Port() == "" {
		return fmt.Errorf("URL %q: want host:port", redact(u))
	}
	if p, err := strconv.Atoi(u.Port()); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("URL %q: port is not in 1-65535", redact(u))
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("URL %q: want no path, query or fragment", redact(u))
	}
	return nil
}

// redact keeps passwords out of error messages.
func redact(u *url.URL) string { return u.Redacted() }

// checkSubject checks a NATS subject, wildcards allowed: dot-separated
// non-empty tokens, no white space, ">" only as the last token.
func checkSubject(s string) error {
	if err := checkString(s); err != nil {
		return err
	}
	if strings.ContainsFunc(s, unicode.IsSpace) {
		return fmt.Errorf("subject %q contains white space", s)
	}
	tokens := strings.Split(s, ".")
	for i, t := range tokens {
		if t == "" {
			return fmt.Errorf("subject %q has an empty token", s)
		}
		if strings.Contains(t, ">") && (t != ">" || i != len(tokens)-1) {
			return fmt.Errorf("subject %q: '>' must be the whole last token", s)
		}
	}
	return nil
}

// subjectWithin reports whether every subject matching sub also matches
// pattern (wildcards in both).
func subjectWithin(sub, pattern string) bool {
	st, pt := strings.Split(sub, "."), strings.Split(pattern, ".")
	for i, p := range pt {
		if p == ">" {
			return len(st) > i
		}
		if i >= len(st) || st[i] == ">" {
			return false
		}
		if p != "*" && (st[i] == "*" || st[i] != p) {
			return false
		}
	}
	return len(st) == len(pt)
}

func fieldErr(path string, err error) error { return fmt.Errorf("%s: %w", path, err) }
