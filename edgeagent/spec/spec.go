// Package spec runs declarative conformance checks against a live edge:
// HTTP behaviour (redirects, TLS versions, status, headers, body, caching,
// WAF, rate limits) and DNS answers. Specs are YAML files; Run checks them
// and returns a Report that renders as a human summary or JUnit XML.
package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"
	"gopkg.in/yaml.v3"
)

// File is one spec file: a named list of checks.
type File struct {
	// Name describes the file; the file name when empty.
	Name   string  `yaml:"name,omitempty"`
	Checks []Check `yaml:"checks"`
	// Path is where the file was read from (not part of the YAML).
	Path string `yaml:"-"`
}

// Check is one request (HTTP or DNS) and what its answer must show. Every
// matcher set in Expect is a separate result.
type Check struct {
	Name string `yaml:"name,omitempty"`
	// URL is the HTTP(S) URL to ask; connections go where Options.Resolve
	// sends the URL's host and port.
	URL     string    `yaml:"url,omitempty"`
	Request Request   `yaml:"request,omitempty"`
	DNS     *DNSQuery `yaml:"dns,omitempty"`
	Expect  Expect    `yaml:"expect"`
	line    int
}

// Request customises the HTTP request of a check.
type Request struct {
	Method  string            `yaml:"method,omitempty"`
	Headers map[string]string `yaml:"headers,omitempty"`
	Body    string            `yaml:"body,omitempty"`
}

// DNSQuery is the question a DNS check asks.
type DNSQuery struct {
	Name string `yaml:"name"`
	Type string `yaml:"type"`
	// Nameserver is host[:port] (53 by default) or an alias given in
	// Options.Nameservers (for example "edge" or "authoritative").
	Nameserver string `yaml:"nameserver"`
	// Transport is "udp", "tcp" or "both" (the default): with both, every
	// matcher is checked over each.
	Transport string `yaml:"transport,omitempty"`
	// Recurse sets RD (for a recursive resolver); off by default.
	Recurse bool `yaml:"recurse,omitempty"`
}

// Expect holds the matchers of a check; unset ones are not checked.
type Expect struct {
	// HTTP.
	Status           *int              `yaml:"status,omitempty"`
	Headers          map[string]string `yaml:"headers,omitempty"`
	HeaderMatches    map[string]string `yaml:"header_matches,omitempty"`
	BodyContains     []string          `yaml:"body_contains,omitempty"`
	RedirectsToHTTPS *bool             `yaml:"redirects_to_https,omitempty"`
	TLSSupports      []string          `yaml:"tls_supports,omitempty"`
	TLSRefuses       []string          `yaml:"tls_refuses,omitempty"`
	BrowserCachable  *bool             `yaml:"browser_cachable,omitempty"`
	SharedCachable   *bool             `yaml:"shared_cachable,omitempty"`
	CacheHit         *bool             `yaml:"cache_hit,omitempty"`
	ServesStale      *Stale            `yaml:"serves_stale,omitempty"`
	WAFBlocks        []string          `yaml:"waf_blocks,omitempty"`
	WAFAllowsBenign  *bool             `yaml:"waf_allows_benign,omitempty"`
	// WAFBlockStatus is the status of a blocked request (403 when zero).
	WAFBlockStatus   int  `yaml:"waf_block_status,omitempty"`
	RateLimitedAfter *int `yaml:"rate_limited_after,omitempty"`

	// DNS.
	Rcode string   `yaml:"rcode,omitempty"`
	Rdata []string `yaml:"rdata,omitempty"`
	MX    []MX     `yaml:"mx,omitempty"`
	TTL   *uint32  `yaml:"ttl,omitempty"`
	Count *int     `yaml:"count,omitempty"`
}

// Stale is the serves_stale matcher: after the object's TTL has passed, a
// request is answered from the cache with a stale object while the edge
// revalidates (RFC 5861 stale-while-revalidate).
type Stale struct {
	TTL Duration `yaml:"ttl"`
}

// MX is an expected mail exchanger.
type MX struct {
	Preference uint16 `yaml:"preference"`
	Exchange   string `yaml:"exchange"`
}

// Duration is a time.Duration written as "30s" or a number of seconds.
type Duration time.Duration

// UnmarshalYAML accepts "1m30s" or a plain number of seconds.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var secs float64
	if err := n.Decode(&secs); err == nil {
		*d = Duration(secs * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration like \"30s\"", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as "30s".
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Parse decodes and validates one spec file's YAML; path names it in errors.
func Parse(path string, data []byte) (*File, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty spec", path)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f.Path = path
	checkLines(data, &f)
	if f.Name == "" {
		f.Name = filepath.Base(path)
	}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &f, nil
}

// checkLines records the line of every check, for error messages.
func checkLines(data []byte, f *File) {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil || len(root.Content) == 0 {
		return
	}
	m := root.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "checks" {
			for j, n := range m.Content[i+1].Content {
				if j < len(f.Checks) {
					f.Checks[j].line = n.Line
				}
			}
		}
	}
}

// Load reads spec files: each argument is a file or a directory, whose
// *.yaml and *.yml files are read (recursively, in name order).
func Load(paths ...string) ([]*File, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s: no *.yaml spec files", p)
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	var out []*File
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		f, err := Parse(path, data)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// tlsVersionNames are the TLS versions a spec may name.
var tlsVersionNames = []string{"1.0", "1.1", "1.2", "1.3"}

// Validate checks every check of the file and names the bad one.
func (f *File) Validate() error {
	if len(f.Checks) == 0 {
		return errors.New("no checks")
	}
	var errs []error
	for i := range f.Checks {
		c := &f.Checks[i]
		if err := c.validate(); err != nil {
			where := fmt.Sprintf("checks[%d]", i)
			if c.line > 0 {
				where += fmt.Sprintf(" (line %d)", c.line)
			}
			if c.Name != "" {
				where += fmt.Sprintf(" %q", c.Name)
			}
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
		}
	}
	return errors.Join(errs...)
}

func (c *Check) validate() error {
	e := c.Expect
	http := e.Status != nil || len(e.Headers) > 0 || len(e.HeaderMatches) > 0 || len(e.BodyContains) > 0 ||
		e.RedirectsToHTTPS != nil || len(e.TLSSupports) > 0 || len(e.TLSRefuses) > 0 ||
		e.BrowserCachable != nil || e.SharedCachable != nil || e.CacheHit != nil || e.ServesStale != nil ||
		len(e.WAFBlocks) > 0 || e.WAFAllowsBenign != nil || e.RateLimitedAfter != nil
	dnsM := e.Rcode != "" || len(e.Rdata) > 0 || len(e.MX) > 0 || e.TTL != nil || e.Count != nil
	switch {
	case (c.URL == "") == (c.DNS == nil):
		return errors.New("give exactly one of url and dns")
	case c.URL != "" && dnsM:
		return errors.New("rcode, rdata, mx, ttl and count are DNS matchers; this check has a url")
	case c.DNS != nil && http:
		return errors.New("HTTP matchers on a dns check")
	case !http && !dnsM:
		return errors.New("expect has no matcher")
	}
	if c.DNS != nil {
		return c.validateDNS()
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url %q: want an absolute http(s) URL", c.URL)
	}
	for name, re := range e.HeaderMatches {
		if _, err := regexp.Compile(re); err != nil {
			return fmt.Errorf("header_matches[%s]: %v", name, err)
		}
	}
	for _, v := range slices.Concat(e.TLSSupports, e.TLSRefuses) {
		if !slices.Contains(tlsVersionNames, v) {
			return fmt.Errorf("TLS version %q: want one of %v", v, tlsVersionNames)
		}
	}
	if (len(e.TLSSupports) > 0 || len(e.TLSRefuses) > 0) && u.Scheme != "https" {
		return errors.New("tls_supports/tls_refuses need an https url")
	}
	for _, class := range e.WAFBlocks {
		if _, ok := Payloads[class]; !ok {
			return fmt.Errorf("waf_blocks: unknown payload class %q (have %s)", class, strings.Join(PayloadClasses(), ", "))
		}
	}
	if e.ServesStale != nil && e.ServesStale.TTL <= 0 {
		return errors.New("serves_stale.ttl: a positive duration is required")
	}
	if e.RateLimitedAfter != nil && (*e.RateLimitedAfter < 0 || *e.RateLimitedAfter > 10000) {
		return errors.New("rate_limited_after: 0 to 10000 requests")
	}
	return nil
}

func (c *Check) validateDNS() error {
	q, e := c.DNS, c.Expect
	if _, ok := dns.StringToType[strings.ToUpper(q.Type)]; !ok {
		return fmt.Errorf("dns.type %q is not a record type", q.Type)
	}
	if _, ok := dns.IsDomainName(q.Name); !ok || q.Name == "" {
		return fmt.Errorf("dns.name %q is not a domain name", q.Name)
	}
	if q.Nameserver == "" {
		return errors.New("dns.nameserver is required")
	}
	switch q.Transport {
	case "", "both", "udp", "tcp":
	default:
		return fmt.Errorf("dns.transport %q: want udp, tcp or both", q.Transport)
	}
	if e.Rcode != "" {
		if _, ok := dns.StringToRcode[strings.ToUpper(e.Rcode)]; !ok {
			return fmt.Errorf("rcode %q is not a DNS rcode", e.Rcode)
		}
	}
	if len(e.MX) > 0 && !strings.EqualFold(q.Type, "MX") {
		return errors.New("mx matcher on a non-MX question")
	}
	for _, r := range e.Rdata {
		if _, err := expectedRR(q, r); err != nil {
			return fmt.Errorf("rdata %q: %v", r, err)
		}
	}
	return nil
}

// WriteYAML writes the file as a spec YAML document.
func (f *File) WriteYAML(w io.Writer) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return err
	}
	return enc.Close()
}
