package natsconf

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// header opens every rendered file.
const header = "# nats-server configuration rendered by rampart cloudinit/natsconf; do not edit.\n"

// Render validates c and writes it in nats.conf syntax. Every string value is
// double-quoted and escaped, so no value is read as a variable ("$2a$..."
// bcrypt hashes stay literal), a number or a keyword.
func (c Config) Render() ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("nats config: %w", err)
	}
	w := &writer{}
	w.raw(header)
	w.str("server_name", c.ServerName)
	w.str("listen", c.Listen.String())
	if c.HTTP != nil {
		w.str("http", c.HTTP.String())
	}
	if c.TLS != nil {
		w.tls(c.TLS)
	}
	if c.SystemAccount != "" {
		w.str("system_account", c.SystemAccount)
	}
	if j := c.JetStream; j != nil {
		w.blank()
		w.open("jetstream")
		w.str("store_dir", j.StoreDir)
		w.int("max_memory_store", j.MaxMemoryStore)
		w.int("max_file_store", j.MaxFileStore)
		w.close()
	}
	if cl := c.Cluster; cl != nil {
		w.blank()
		w.open("cluster")
		w.str("name", cl.Name)
		w.str("listen", cl.Listen.String())
		w.auth(cl.Authorization)
		if cl.TLS != nil {
			w.tls(cl.TLS)
		}
		w.strs("routes", cl.Routes)
		w.close()
	}
	if g := c.Gateway; g != nil {
		w.blank()
		w.open("gateway")
		w.str("name", g.Name)
		w.str("listen", g.Listen.String())
		w.auth(g.Authorization)
		if g.TLS != nil {
			w.tls(g.TLS)
		}
		w.openList("gateways")
		for _, rg := range g.Gateways {
			w.line("{ name: " + quote(rg.Name) + ", urls: " + quoteList(rg.URLs) + " }")
		}
		w.closeList()
		w.close()
	}
	if len(c.Accounts) > 0 {
		w.blank()
		w.open("accounts")
		for i, a := range c.Accounts {
			if i > 0 {
				w.blank()
			}
			w.account(a)
		}
		w.close()
	}
	return w.buf.Bytes(), nil
}

// writer emits indented nats.conf lines.
type writer struct {
	buf    bytes.Buffer
	indent int
}

func (w *writer) raw(s string) { w.buf.WriteString(s) }

func (w *writer) line(s string) {
	w.buf.WriteString(strings.Repeat("  ", w.indent))
	w.buf.WriteString(s)
	w.buf.WriteByte('\n')
}

func (w *writer) blank() { w.buf.WriteByte('\n') }

func (w *writer) open(key string) {
	w.line(key + " {")
	w.indent++
}

func (w *writer) close() {
	w.indent--
	w.line("}")
}

func (w *writer) openList(key string) {
	w.line(key + ": [")
	w.indent++
}

func (w *writer) closeList() {
	w.indent--
	w.line("]")
}

func (w *writer) str(key, v string) { w.line(key + ": " + quote(v)) }

func (w *writer) bool(key string, v bool) { w.line(key + ": " + strconv.FormatBool(v)) }

// int writes key unless v is zero (the server's default).
func (w *writer) int(key string, v int64) {
	if v != 0 {
		w.line(key + ": " + strconv.FormatInt(v, 10))
	}
}

// strs writes a list, one item per line, unless it is empty.
func (w *writer) strs(key string, vs []string) {
	if len(vs) == 0 {
		return
	}
	w.openList(key)
	for _, v := range vs {
		w.line(quote(v))
	}
	w.closeList()
}

func (w *writer) auth(a *Authorization) {
	if a == nil {
		return
	}
	w.open("authorization")
	w.str("user", a.User)
	w.str("password", a.Password)
	w.close()
}

func (w *writer) tls(t *TLS) {
	w.open("tls")
	w.str("cert_file", t.CertFile)
	w.str("key_file", t.KeyFile)
	if t.CAFile != "" {
		w.str("ca_file", t.CAFile)
	}
	if t.Verify {
		w.bool("verify", true)
	}
	w.close()
}

func (w *writer) account(a Account) {
	w.open(quote(a.Name))
	if a.JetStream {
		w.line("jetstream: enabled")
	}
	if len(a.Users) > 0 {
		w.openList("users")
		for _, u := range a.Users {
			w.user(u)
		}
		w.closeList()
	}
	if len(a.Exports) > 0 {
		w.openList("exports")
		for _, e := range a.Exports {
			s := "{ " + e.Kind.String() + ": " + quote(e.Subject)
			if e.ResponseType != "" {
				s += ", response_type: " + string(e.ResponseType)
			}
			if len(e.Accounts) > 0 {
				s += ", accounts: " + quoteList(e.Accounts)
			}
			w.line(s + " }")
		}
		w.closeList()
	}
	if len(a.Imports) > 0 {
		w.openList("imports")
		for _, im := range a.Imports {
			s := "{ " + im.Kind.String() + ": { account: " + quote(im.Account) + ", subject: " + quote(im.Subject) + " }"
			if im.To != "" {
				s += ", to: " + quote(im.To)
			}
			w.line(s + " }")
		}
		w.closeList()
	}
	w.close()
}

func (w *writer) user(u User) {
	if u.Permissions == nil {
		w.line("{ user: " + quote(u.User) + ", password: " + quote(u.Password) + " }")
		return
	}
	w.line("{")
	w.indent++
	w.str("user", u.User)
	w.str("password", u.Password)
	p := u.Permissions
	w.open("permissions")
	w.subjects("publish", p.Publish)
	w.subjects("subscribe", p.Subscribe)
	if r := p.AllowResponses; r != nil {
		if r.MaxMsgs == 0 && r.Expires == 0 {
			w.bool("allow_responses", true)
		} else {
			w.open("allow_responses")
			w.int("max", int64(r.MaxMsgs))
			if r.Expires != 0 {
				w.str("expires", r.Expires.String())
			}
			w.close()
		}
	}
	w.close()
	w.indent--
	w.line("}")
}

func (w *writer) subjects(key string, sp SubjectPermission) {
	if len(sp.Allow) == 0 && len(sp.Deny) == 0 {
		return
	}
	w.open(key)
	w.strs("allow", sp.Allow)
	w.strs("deny", sp.Deny)
	w.close()
}

func quoteList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = quote(v)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// quote renders s as a nats.conf double-quoted string. The lexer understands
// only \t, \n, \r, \", \\ and \xXX escapes, so every other control character
// (and any byte that is not valid UTF-8) is written as \xXX.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f || (r == utf8.RuneError && size == 1):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
	return b.String()
}
