package api

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits on a site's lists, so one document cannot make every edge allocate without bound.
const (
	MaxOrigins   = 16
	MaxRedirects = 1000
)

// Validate checks every field and returns FieldErrors naming each bad one.
func (s *Site) Validate() error {
	var errs FieldErrors
	add := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if s.V != Version {
		add("v", "schema version %d is not supported (want %d)", s.V, Version)
	}
	if err := ValidateHostname(s.Hostname); err != nil {
		add("hostname", "%v", err)
	}
	switch {
	case len(s.Origins) == 0:
		add("origins", "at least one origin is required")
	case len(s.Origins) > MaxOrigins:
		add("origins", "%d origins, the limit is %d", len(s.Origins), MaxOrigins)
	}
	for i, o := range s.Origins {
		o.validate(fmt.Sprintf("origins[%d]", i), add)
	}
	s.HTTPS.validate(add)
	if len(s.Redirects) > MaxRedirects {
		add("redirects", "%d redirects, the limit is %d", len(s.Redirects), MaxRedirects)
	}
	for i, r := range s.Redirects {
		r.validate(fmt.Sprintf("redirects[%d]", i), add)
	}
	s.Cache.validate(add)
	s.WAF.validate(add)
	s.RateLimit.validate(add)
	if len(errs) > 0 {
		return errs
	}
	return nil
}

type addFunc func(field, format string, args ...any)

func (o Origin) validate(prefix string, add addFunc) {
	u, err := url.Parse(o.URL)
	switch {
	case o.URL == "":
		add(prefix+".url", "required")
		return
	case err != nil:
		add(prefix+".url", "not a URL: %v", err)
		return
	case u.Scheme != "http" && u.Scheme != "https":
		add(prefix+".url", "scheme must be http or https, not %q", u.Scheme)
	case u.User != nil:
		add(prefix+".url", "user info is not allowed")
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.Fragment != "", u.Opaque != "",
		strings.ContainsAny(o.URL, "?#"): // an empty query or fragment ("http://h?") parses to nothing
		add(prefix+".url", "only scheme://host[:port] is allowed (no path, query or fragment)")
	case u.Hostname() == "":
		add(prefix+".url", "host is required")
	default:
		host := u.Hostname()
		if net.ParseIP(host) == nil {
			if err := ValidateHostname(strings.ToLower(host)); err != nil {
				add(prefix+".url", "host: %v", err)
			}
		}
		if p := u.Port(); p != "" {
			if !validPort(p) {
				add(prefix+".url", "port %q is not in 1-65535", p)
			}
		}
	}
	if o.HostHeader != "" {
		if err := validateHostHeader(o.HostHeader); err != nil {
			add(prefix+".host_header", "%v", err)
		}
	}
	if o.TLS != (OriginTLS{}) && u != nil && u.Scheme == "http" {
		add(prefix+".tls", "TLS settings need an https origin")
	}
	if o.TLS.ServerName != "" {
		if err := ValidateHostname(o.TLS.ServerName); err != nil && net.ParseIP(o.TLS.ServerName) == nil {
			add(prefix+".tls.server_name", "%v", err)
		}
	}
	if o.TLS.CAPEM != "" && !validCertPEM(o.TLS.CAPEM) {
		add(prefix+".tls.ca_pem", "no PEM certificate could be parsed")
	}
}

// validateHostHeader checks a Host header value: a hostname, an IPv4 address
// or a bracketed IPv6 address, each optionally followed by :port.
func validateHostHeader(hh string) error {
	var host, port string
	var hasPort bool
	if rest, ok := strings.CutPrefix(hh, "["); ok {
		var closed bool
		host, rest, closed = strings.Cut(rest, "]")
		if !closed || !strings.Contains(host, ":") || net.ParseIP(host) == nil {
			return fmt.Errorf("%q: brackets must hold an IPv6 address", hh)
		}
		if rest != "" {
			if port, hasPort = strings.CutPrefix(rest, ":"); !hasPort {
				return fmt.Errorf("%q: unexpected %q after the address", hh, rest)
			}
		}
	} else {
		if strings.Count(hh, ":") > 1 {
			return fmt.Errorf("%q: an IPv6 address needs brackets", hh)
		}
		host, port, hasPort = strings.Cut(hh, ":")
		if net.ParseIP(host) == nil {
			if err := ValidateHostname(host); err != nil {
				return err
			}
		}
	}
	if hasPort && !validPort(port) {
		return fmt.Errorf("%q: port %q is not in 1-65535", hh, port)
	}
	return nil
}

// validPort reports whether p is a decimal port number in 1-65535.
func validPort(p string) bool {
	if p == "" || len(p) > 5 || strings.Trim(p, "0123456789") != "" {
		return false
	}
	n, _ := strconv.Atoi(p)
	return n >= 1 && n <= 65535
}

func validCertPEM(s string) bool {
	rest := []byte(s)
	found := false
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return found
		}
		if b.Type != "CERTIFICATE" {
			return false
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return false
		}
		found = true
	}
}

func (p HTTPSPolicy) validate(add addFunc) {
	switch p.HTTP {
	case "", HTTPRedirect, HTTPAllow:
	default:
		add("https.http", "must be %q or %q, not %q", HTTPRedirect, HTTPAllow, p.HTTP)
	}
	switch p.MinTLS {
	case "", "1.2", "1.3":
	default:
		add("https.min_tls", "must be \"1.2\" or \"1.3\", not %q", p.MinTLS)
	}
	if p.HSTSMaxAge < 0 || p.HSTSMaxAge > 2*365*24*3600 {
		add("https.hsts_max_age", "must be 0 to 63072000 seconds")
	}
	if (p.HSTSIncludeSubdomains || p.HSTSPreload) && p.HSTSMaxAge == 0 {
		add("https.hsts_max_age", "needed when HSTS options are set")
	}
}

func (r Redirect) validate(prefix string, add addFunc) {
	if !strings.HasPrefix(r.Path, "/") {
		add(prefix+".path", "must start with /")
	} else if strings.Contains(strings.TrimSuffix(r.Path, "*"), "*") {
		add(prefix+".path", "\"*\" is only allowed at the end")
	}
	if r.KeepSuffix && !strings.HasSuffix(r.Path, "*") {
		add(prefix+".keep_suffix", "only applies to a prefix path ending in *")
	}
	switch {
	case r.To == "":
		add(prefix+".to", "required")
	case strings.HasPrefix(r.To, "/") && !strings.HasPrefix(r.To, "//"):
	default:
		u, err := url.Parse(r.To)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add(prefix+".to", "must be a path or an absolute http(s) URL")
		}
	}
	if strings.ContainsAny(r.To, "\r\n") {
		add(prefix+".to", "must not contain line breaks")
	}
	switch r.Status {
	case 0, 301, 302, 307, 308:
	default:
		add(prefix+".status", "must be 301, 302, 307 or 308")
	}
}

// ValidateHostname checks that name is a lower-case DNS name in ASCII (IDNA
// names in their xn-- form), with at least two labels and no trailing dot.
// IP addresses and wildcards are not hostnames here.
func ValidateHostname(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("required")
	case len(name) > 253:
		return fmt.Errorf("longer than 253 characters")
	case strings.HasSuffix(name, "."):
		return fmt.Errorf("%q: no trailing dot", name)
	case net.ParseIP(name) != nil:
		return fmt.Errorf("%q is an IP address, not a hostname", name)
	}
	labels := strings.Split(name, ".")
	if len(labels) < 2 {
		return fmt.Errorf("%q: need at least two labels", name)
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return fmt.Errorf("%q: labels are 1-63 characters", name)
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("%q: a label cannot start or end with -", name)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				if c >= 'A' && c <= 'Z' {
					return fmt.Errorf("%q: must be lower-case", name)
				}
				r, _ := utf8.DecodeRuneInString(l[i:]) // quote the character, not its first byte
				return fmt.Errorf("%q: character %q is not allowed (IDNA names go in their xn-- form)", name, r)
			}
		}
	}
	if tld := labels[len(labels)-1]; strings.Trim(tld, "0123456789") == "" {
		return fmt.Errorf("%q: the last label cannot be all digits", name)
	}
	return nil
}
