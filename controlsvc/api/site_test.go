package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// minimalDoc is the smallest valid Site document.
const minimalDoc = `{"v":1,"hostname":"www.example.com","origins":[{"url":"https://origin.example.net"}]}`

// validSite returns the Site that minimalDoc decodes to; tests mutate a copy.
func validSite() Site {
	return Site{V: Version, Hostname: "www.example.com", Origins: []Origin{{URL: "https://origin.example.net"}}}
}

// origins returns n valid, distinct origins.
func origins(n int) []Origin {
	os := make([]Origin, n)
	for i := range os {
		os[i] = Origin{URL: fmt.Sprintf("https://o%d.example.net", i)}
	}
	return os
}

// redirects returns n valid, distinct redirects.
func redirects(n int) []Redirect {
	rs := make([]Redirect, n)
	for i := range rs {
		rs[i] = Redirect{Path: fmt.Sprintf("/r%d", i), To: "/"}
	}
	return rs
}

func TestParseSiteDocuments(t *testing.T) {
	caPEM, _ := testCertPEM(t, "ca.example.net")
	caJSON, _ := json.Marshal(caPEM)
	tests := []struct {
		name string
		doc  string
		want Site
	}{
		{
			name: "minimal",
			doc:  minimalDoc,
			want: validSite(),
		},
		{
			name: "trailing whitespace",
			doc:  minimalDoc + "\n\t ",
			want: validSite(),
		},
		{
			name: "full https policy",
			doc: `{"v":1,"hostname":"shop.example.com","origins":[{"url":"http://origin.example.net:8080"}],
				"https":{"http":"allow","hsts_max_age":31536000,"hsts_include_subdomains":true,"hsts_preload":true,"min_tls":"1.3"}}`,
			want: Site{V: 1, Hostname: "shop.example.com", Origins: []Origin{{URL: "http://origin.example.net:8080"}},
				HTTPS: HTTPSPolicy{HTTP: HTTPAllow, HSTSMaxAge: 31536000, HSTSIncludeSubdomains: true, HSTSPreload: true, MinTLS: "1.3"}},
		},
		{
			name: "redirects",
			doc: `{"v":1,"hostname":"www.example.com","origins":[{"url":"https://origin.example.net"}],"redirects":[
				{"path":"/old","to":"/new"},
				{"path":"/blog/*","to":"https://blog.example.com/","status":308,"keep_suffix":true},
				{"path":"/promo","to":"http://promo.example.org/landing?src=www","status":302}]}`,
			want: Site{V: 1, Hostname: "www.example.com", Origins: []Origin{{URL: "https://origin.example.net"}}, Redirects: []Redirect{
				{Path: "/old", To: "/new"},
				{Path: "/blog/*", To: "https://blog.example.com/", Status: 308, KeepSuffix: true},
				{Path: "/promo", To: "http://promo.example.org/landing?src=www", Status: 302},
			}},
		},
		{
			name: "https origin with tls settings",
			doc: `{"v":1,"hostname":"api.example.com","origins":[{"url":"https://10.0.0.5:8443","host_header":"api.example.com",
				"tls":{"server_name":"origin.internal.example.net","ca_pem":` + string(caJSON) + `}}]}`,
			want: Site{V: 1, Hostname: "api.example.com", Origins: []Origin{{URL: "https://10.0.0.5:8443", HostHeader: "api.example.com",
				TLS: OriginTLS{ServerName: "origin.internal.example.net", CAPEM: caPEM}}}},
		},
		{
			name: "several origins",
			doc: `{"v":1,"hostname":"xn--bcher-kva.example","origins":[
				{"url":"https://primary.example.net/"},
				{"url":"http://[2001:db8::1]:8080","host_header":"[2001:db8::1]:8080"},
				{"url":"https://backup.example.net","tls":{"insecure_skip_verify":true}}],
				"cache":{},"waf":{},"rate_limit":{}}`,
			want: Site{V: 1, Hostname: "xn--bcher-kva.example", Origins: []Origin{
				{URL: "https://primary.example.net/"},
				{URL: "http://[2001:db8::1]:8080", HostHeader: "[2001:db8::1]:8080"},
				{URL: "https://backup.example.net", TLS: OriginTLS{InsecureSkipVerify: true}},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSite([]byte(tt.doc))
			if err != nil {
				t.Fatalf("ParseSite: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseSite =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestSiteValidateValid(t *testing.T) {
	caPEM, _ := testCertPEM(t, "ca.example.net")
	long := strings.Repeat("a", 63)
	tests := []struct {
		name   string
		mutate func(s *Site)
	}{
		{"minimal", func(s *Site) {}},
		{"hostname with digits and dashes", func(s *Site) { s.Hostname = "a-1.b2.example.com" }},
		{"hostname in xn-- form", func(s *Site) { s.Hostname = "xn--bcher-kva.example" }},
		{"hostname label of 63", func(s *Site) { s.Hostname = long + ".example.com" }},
		{"hostname of 253", func(s *Site) { s.Hostname = long + "." + long + "." + long + "." + strings.Repeat("b", 61) }},
		{"numeric labels before the TLD", func(s *Site) { s.Hostname = "1.2.3.example" }},
		{"full https policy", func(s *Site) {
			s.HTTPS = HTTPSPolicy{HTTP: HTTPRedirect, HSTSMaxAge: 63072000, HSTSIncludeSubdomains: true, HSTSPreload: true, MinTLS: "1.2"}
		}},
		{"http allowed with tls 1.3", func(s *Site) { s.HTTPS = HTTPSPolicy{HTTP: HTTPAllow, MinTLS: "1.3"} }},
		{"redirects", func(s *Site) {
			s.Redirects = []Redirect{
				{Path: "/", To: "https://www.example.org"},
				{Path: "/old", To: "/new", Status: 301},
				{Path: "/tmp", To: "/elsewhere?x=1", Status: 302},
				{Path: "/docs/*", To: "https://docs.example.com/", Status: 307, KeepSuffix: true},
				{Path: "/*", To: "http://legacy.example.com/x", Status: 308},
			}
		}},
		{"as many redirects as allowed", func(s *Site) { s.Redirects = redirects(MaxRedirects) }},
		{"https origin with tls settings", func(s *Site) {
			s.Origins = []Origin{{URL: "https://origin.example.net:8443", HostHeader: "www.example.com",
				TLS: OriginTLS{ServerName: "origin.internal.example.net", CAPEM: caPEM}}}
		}},
		{"tls server name is an IP", func(s *Site) {
			s.Origins = []Origin{{URL: "https://origin.example.net", TLS: OriginTLS{ServerName: "192.0.2.7"}}}
		}},
		{"ca bundle of two certificates", func(s *Site) {
			other, _ := testCertPEM(t, "other.example.net")
			s.Origins = []Origin{{URL: "https://origin.example.net", TLS: OriginTLS{CAPEM: caPEM + other}}}
		}},
		{"several origins", func(s *Site) {
			s.Origins = []Origin{
				{URL: "https://primary.example.net/"},
				{URL: "http://192.0.2.10:8080", HostHeader: "192.0.2.10:8080"},
				{URL: "http://[2001:db8::1]", HostHeader: "[2001:db8::1]"},
				{URL: "https://[2001:db8::2]:443", HostHeader: "[2001:db8::2]:443"},
				{URL: "HTTPS://Backup.Example.NET:65535", HostHeader: "www.example.com:8443"},
				{URL: "https://backup2.example.net", TLS: OriginTLS{InsecureSkipVerify: true}},
			}
		}},
		{"as many origins as allowed", func(s *Site) { s.Origins = origins(MaxOrigins) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSite()
			tt.mutate(&s)
			if err := s.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			data, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseSite(data)
			if err != nil {
				t.Fatalf("ParseSite(%s): %v", data, err)
			}
			if !reflect.DeepEqual(got, s) {
				t.Fatalf("ParseSite(Marshal(s)) =\n%+v\nwant\n%+v", got, s)
			}
		})
	}
}

func TestSiteValidateInvalid(t *testing.T) {
	caPEM, keyPEM := testCertPEM(t, "ca.example.net")
	long := strings.Repeat("a", 63)
	withOrigin := func(o Origin) func(s *Site) { return func(s *Site) { s.Origins = []Origin{o} } }
	withURL := func(url string) func(s *Site) { return withOrigin(Origin{URL: url}) }
	withHostHeader := func(h string) func(s *Site) {
		return withOrigin(Origin{URL: "https://origin.example.net", HostHeader: h})
	}
	withRedirect := func(r Redirect) func(s *Site) { return func(s *Site) { s.Redirects = []Redirect{r} } }
	tests := []struct {
		name   string
		mutate func(s *Site)
		field  string // every FieldError must name this field
		msg    string // and one message must contain this
	}{
		{"v missing", func(s *Site) { s.V = 0 }, "v", "schema version 0 is not supported"},
		{"v from the future", func(s *Site) { s.V = Version + 1 }, "v", "is not supported"},

		{"hostname empty", func(s *Site) { s.Hostname = "" }, "hostname", "required"},
		{"hostname upper-case", func(s *Site) { s.Hostname = "WWW.example.com" }, "hostname", "must be lower-case"},
		{"hostname trailing dot", func(s *Site) { s.Hostname = "www.example.com." }, "hostname", "no trailing dot"},
		{"hostname IPv4", func(s *Site) { s.Hostname = "192.0.2.1" }, "hostname", "is an IP address"},
		{"hostname IPv6", func(s *Site) { s.Hostname = "2001:db8::1" }, "hostname", "is an IP address"},
		{"hostname single label", func(s *Site) { s.Hostname = "localhost" }, "hostname", "at least two labels"},
		{"hostname underscore", func(s *Site) { s.Hostname = "my_site.example.com" }, "hostname", "is not allowed"},
		{"hostname wildcard", func(s *Site) { s.Hostname = "*.example.com" }, "hostname", "is not allowed"},
		{"hostname space", func(s *Site) { s.Hostname = "www .example.com" }, "hostname", "is not allowed"},
		{"hostname unicode", func(s *Site) { s.Hostname = "bücher.example" }, "hostname", "xn-- form"},
		{"hostname leading dash", func(s *Site) { s.Hostname = "-www.example.com" }, "hostname", "cannot start or end with -"},
		{"hostname trailing dash", func(s *Site) { s.Hostname = "www-.example.com" }, "hostname", "cannot start or end with -"},
		{"hostname empty label", func(s *Site) { s.Hostname = "www..example.com" }, "hostname", "labels are 1-63 characters"},
		{"hostname label too long", func(s *Site) { s.Hostname = long + "a.example.com" }, "hostname", "labels are 1-63 characters"},
		{"hostname too long", func(s *Site) { s.Hostname = long + "." + long + "." + long + "." + strings.Repeat("b", 62) }, "hostname", "longer than 253"},
		{"hostname numeric TLD", func(s *Site) { s.Hostname = "example.123" }, "hostname", "cannot be all digits"},
		{"hostname dotted numbers", func(s *Site) { s.Hostname = "1.2.3.4.5" }, "hostname", "cannot be all digits"},

		{"origins none", func(s *Site) { s.Origins = nil }, "origins", "at least one origin"},
		{"origins empty", func(s *Site) { s.Origins = []Origin{} }, "origins", "at least one origin"},
		{"origins too many", func(s *Site) { s.Origins = origins(MaxOrigins + 1) }, "origins", "the limit is 16"},
		{"origin url empty", withURL(""), "origins[0].url", "required"},
		{"origin url not a URL", withURL("http://exa mple.com"), "origins[0].url", "not a URL"},
		{"origin url no scheme", withURL("origin.example.net"), "origins[0].url", "scheme must be http or https"},
		{"origin url ftp", withURL("ftp://origin.example.net"), "origins[0].url", "scheme must be http or https"},
		{"origin url opaque", withURL("http:origin.example.net"), "origins[0].url", "only scheme://host[:port]"},
		{"origin url user info", withURL("https://user:secret@origin.example.net"), "origins[0].url", "user info"},
		{"origin url path", withURL("https://origin.example.net/app"), "origins[0].url", "only scheme://host[:port]"},
		{"origin url escaped slash", withURL("https://origin.example.net/%2F"), "origins[0].url", "only scheme://host[:port]"},
		{"origin url query", withURL("https://origin.example.net?a=1"), "origins[0].url", "only scheme://host[:port]"},
		{"origin url empty query", withURL("https://origin.example.net?"), "origins[0].url", "only scheme://host[:port]"},
		{"origin url fragment", withURL("https://origin.example.net#top"), "origins[0].url", "only scheme://host[:port]"},
		{"origin url empty fragment", withURL("https://origin.example.net#"), "origins[0].url", "only scheme://host[:port]"},
		{"origin url missing host", withURL("https://"), "origins[0].url", "host is required"},
		{"origin url port only", withURL("https://:443"), "origins[0].url", "host is required"},
		{"origin url single-label host", withURL("http://origin:8080"), "origins[0].url", "at least two labels"},
		{"origin url bad host", withURL("https://my_origin.example.net"), "origins[0].url", "is not allowed"},
		{"origin url port 0", withURL("https://origin.example.net:0"), "origins[0].url", `port "0"`},
		{"origin url port too big", withURL("https://origin.example.net:65536"), "origins[0].url", `port "65536"`},
		{"origin url port huge", withURL("https://origin.example.net:99999999999999999999"), "origins[0].url", "is not in 1-65535"},
		{"second origin bad", func(s *Site) {
			s.Origins = []Origin{{URL: "https://origin.example.net"}, {URL: "gopher://origin.example.net"}}
		}, "origins[1].url", "scheme"},
		{"tls on http origin", withOrigin(Origin{URL: "http://origin.example.net", TLS: OriginTLS{ServerName: "origin.example.net"}}),
			"origins[0].tls", "need an https origin"},
		{"insecure tls on http origin", withOrigin(Origin{URL: "http://origin.example.net", TLS: OriginTLS{InsecureSkipVerify: true}}),
			"origins[0].tls", "need an https origin"},
		{"tls server name", withOrigin(Origin{URL: "https://origin.example.net", TLS: OriginTLS{ServerName: "Origin.example.net"}}),
			"origins[0].tls.server_name", "lower-case"},
		{"ca_pem garbage", withOrigin(Origin{URL: "https://origin.example.net", TLS: OriginTLS{CAPEM: "not a certificate"}}),
			"origins[0].tls.ca_pem", "no PEM certificate"},
		{"ca_pem private key", withOrigin(Origin{URL: "https://origin.example.net", TLS: OriginTLS{CAPEM: keyPEM}}),
			"origins[0].tls.ca_pem", "no PEM certificate"},
		{"ca_pem certificate then key", withOrigin(Origin{URL: "https://origin.example.net", TLS: OriginTLS{CAPEM: caPEM + keyPEM}}),
			"origins[0].tls.ca_pem", "no PEM certificate"},
		{"ca_pem bad DER", withOrigin(Origin{URL: "https://origin.example.net",
			TLS: OriginTLS{CAPEM: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}}),
			"origins[0].tls.ca_pem", "no PEM certificate"},
		{"host_header upper-case", withHostHeader("WWW.example.com"), "origins[0].host_header", "lower-case"},
		{"host_header single label", withHostHeader("www"), "origins[0].host_header", "two labels"},
		{"host_header path", withHostHeader("www.example.com/x"), "origins[0].host_header", "is not allowed"},
		{"host_header port not a number", withHostHeader("www.example.com:http"), "origins[0].host_header", "is not in 1-65535"},
		{"host_header empty port", withHostHeader("www.example.com:"), "origins[0].host_header", "is not in 1-65535"},
		{"host_header port 0", withHostHeader("www.example.com:0"), "origins[0].host_header", "is not in 1-65535"},
		{"host_header port signed", withHostHeader("192.0.2.1:+80"), "origins[0].host_header", "is not in 1-65535"},
		{"host_header port too big", withHostHeader("www.example.com:65536"), "origins[0].host_header", "is not in 1-65535"},
		{"host_header two ports", withHostHeader("www.example.com:80:81"), "origins[0].host_header", "needs brackets"},
		{"host_header bare IPv6", withHostHeader("2001:db8::1"), "origins[0].host_header", "needs brackets"},
		{"host_header bracketed name", withHostHeader("[www.example.com]:80"), "origins[0].host_header", "IPv6 address"},
		{"host_header bracketed IPv4", withHostHeader("[192.0.2.1]"), "origins[0].host_header", "IPv6 address"},
		{"host_header unclosed bracket", withHostHeader("[2001:db8::1"), "origins[0].host_header", "IPv6 address"},
		{"host_header junk after bracket", withHostHeader("[2001:db8::1]x"), "origins[0].host_header", "unexpected"},
		{"host_header line break", withHostHeader("www.example.com\r\nX-Evil: 1"), "origins[0].host_header", "is not allowed"},

		{"https.http", func(s *Site) { s.HTTPS.HTTP = "deny" }, "https.http", `not "deny"`},
		{"https.http upper-case", func(s *Site) { s.HTTPS.HTTP = "Allow" }, "https.http", `must be "redirect" or "allow"`},
		{"https.min_tls 1.1", func(s *Site) { s.HTTPS.MinTLS = "1.1" }, "https.min_tls", `not "1.1"`},
		{"https.min_tls spelled out", func(s *Site) { s.HTTPS.MinTLS = "TLS1.3" }, "https.min_tls", `must be "1.2" or "1.3"`},
		{"hsts negative", func(s *Site) { s.HTTPS.HSTSMaxAge = -1 }, "https.hsts_max_age", "0 to 63072000"},
		{"hsts too long", func(s *Site) { s.HTTPS.HSTSMaxAge = 63072001 }, "https.hsts_max_age", "0 to 63072000"},
		{"hsts preload without max age", func(s *Site) { s.HTTPS.HSTSPreload = true }, "https.hsts_max_age", "needed when HSTS options are set"},
		{"hsts subdomains without max age", func(s *Site) { s.HTTPS.HSTSIncludeSubdomains = true }, "https.hsts_max_age", "needed"},

		{"redirects too many", func(s *Site) { s.Redirects = redirects(MaxRedirects + 1) }, "redirects", "the limit is 1000"},
		{"redirect path empty", withRedirect(Redirect{Path: "", To: "/"}), "redirects[0].path", "must start with /"},
		{"redirect path relative", withRedirect(Redirect{Path: "old", To: "/"}), "redirects[0].path", "must start with /"},
		{"redirect path inner star", withRedirect(Redirect{Path: "/a*/b", To: "/"}), "redirects[0].path", "only allowed at the end"},
		{"redirect path double star", withRedirect(Redirect{Path: "/a**", To: "/"}), "redirects[0].path", "only allowed at the end"},
		{"redirect to empty", withRedirect(Redirect{Path: "/a"}), "redirects[0].to", "required"},
		{"redirect to protocol-relative", withRedirect(Redirect{Path: "/a", To: "//evil.example.org/"}), "redirects[0].to", "path or an absolute http(s) URL"},
		{"redirect to relative", withRedirect(Redirect{Path: "/a", To: "new"}), "redirects[0].to", "path or an absolute http(s) URL"},
		{"redirect to ftp", withRedirect(Redirect{Path: "/a", To: "ftp://files.example.org/"}), "redirects[0].to", "path or an absolute http(s) URL"},
		{"redirect to javascript", withRedirect(Redirect{Path: "/a", To: "javascript:alert(1)"}), "redirects[0].to", "path or an absolute http(s) URL"},
		{"redirect to no host", withRedirect(Redirect{Path: "/a", To: "https:///x"}), "redirects[0].to", "path or an absolute http(s) URL"},
		{"redirect to header injection", withRedirect(Redirect{Path: "/a", To: "/b\r\nSet-Cookie: a=1"}), "redirects[0].to", "line breaks"},
		{"redirect to URL with line break", withRedirect(Redirect{Path: "/a", To: "https://example.org/\n"}), "redirects[0].to", "line breaks"},
		{"redirect status 200", withRedirect(Redirect{Path: "/a", To: "/b", Status: 200}), "redirects[0].status", "301, 302, 307 or 308"},
		{"redirect status 303", withRedirect(Redirect{Path: "/a", To: "/b", Status: 303}), "redirects[0].status", "301, 302, 307 or 308"},
		{"redirect status negative", withRedirect(Redirect{Path: "/a", To: "/b", Status: -301}), "redirects[0].status", "301, 302, 307 or 308"},
		{"redirect keep_suffix on exact path", withRedirect(Redirect{Path: "/a", To: "/b", KeepSuffix: true}), "redirects[0].keep_suffix", "prefix path"},
		{"second redirect bad", func(s *Site) {
			s.Redirects = []Redirect{{Path: "/a", To: "/b"}, {Path: "b", To: "/c"}}
		}, "redirects[1].path", "must start with /"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSite()
			tt.mutate(&s)
			checkFieldErrors(t, "Validate", s.Validate(), tt.field, tt.msg)

			data, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseSite(data)
			checkFieldErrors(t, "ParseSite", err, tt.field, tt.msg)
			if !reflect.DeepEqual(got, Site{}) {
				t.Errorf("ParseSite returned %+v with its error, want the zero Site", got)
			}
		})
	}
}

// checkFieldErrors fails unless err is FieldErrors that all name field, one
// of them with a message containing msg.
func checkFieldErrors(t *testing.T, what string, err error, field, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %s: %s", what, field, msg)
	}
	var fes FieldErrors
	if !errors.As(err, &fes) {
		t.Fatalf("%s: error %v is %T, want FieldErrors", what, err, err)
	}
	found := false
	for _, fe := range fes {
		if fe.Field != field {
			t.Errorf("%s: error names field %q (%v), want only %q", what, fe.Field, fe, field)
		}
		found = found || strings.Contains(fe.Msg, msg)
	}
	if !found {
		t.Errorf("%s: %v: no message contains %q", what, err, msg)
	}
}

func TestSiteValidateReportsEveryFieldInOrder(t *testing.T) {
	s := Site{
		V:         2,
		Hostname:  "Example.com",
		Origins:   []Origin{{URL: "https://origin.example.net"}, {URL: "ftp://x", HostHeader: "a:b", TLS: OriginTLS{ServerName: "-"}}},
		HTTPS:     HTTPSPolicy{HTTP: "no", MinTLS: "1.0", HSTSPreload: true},
		Redirects: []Redirect{{Path: "x", To: "", Status: 1, KeepSuffix: true}},
	}
	want := []string{
		"v", "hostname",
		"origins[1].url", "origins[1].host_header", "origins[1].tls.server_name",
		"https.http", "https.min_tls", "https.hsts_max_age",
		"redirects[0].path", "redirects[0].keep_suffix", "redirects[0].to", "redirects[0].status",
	}
	err := s.Validate()
	if got := fieldsOf(t, err); !slices.Equal(got, want) {
		t.Fatalf("fields = %q\nwant     %q", got, want)
	}
	if fes := AsFieldErrors(err); err.Error() != fes[0].Error()+"; "+FieldErrors(fes[1:]).Error() {
		t.Errorf("FieldErrors.Error() = %q, want the errors joined with \"; \"", err.Error())
	}
}

func TestParseSiteDecodeErrors(t *testing.T) {
	// doc builds a document from minimalDoc with extra top-level members.
	doc := func(extra string) string { return strings.TrimSuffix(minimalDoc, "}") + "," + extra + "}" }
	// origin builds a document whose only origin is the given object.
	origin := func(obj string) string {
		return `{"v":1,"hostname":"www.example.com","origins":[` + obj + `]}`
	}
	tests := []struct {
		name  string
		doc   string
		field string // "" for errors about the document as a whole
		msg   string
	}{
		{"unknown top-level field", doc(`"colour":"red"`), "colour", "unknown field"},
		{"unknown field, case differs from a known one", doc(`"hostName2":"x"`), "hostName2", "unknown field"},
		{"unknown origin field", origin(`{"url":"https://origin.example.net","weight":2}`), "weight", "unknown field"},
		{"unknown tls field", origin(`{"url":"https://origin.example.net","tls":{"pin":"abc"}}`), "pin", "unknown field"},
		{"unknown https field", doc(`"https":{"hsts":true}`), "hsts", "unknown field"},
		{"unknown redirect field", doc(`"redirects":[{"path":"/a","to":"/b","code":301}]`), "code", "unknown field"},
		{"unknown cache field", doc(`"cache":{"ttl":60}`), "ttl", "unknown field"},
		{"unknown waf field", doc(`"waf":{"level":4}`), "level", "unknown field"},
		{"unknown rate_limit field", doc(`"rate_limit":{"rps":10}`), "rps", "unknown field"},

		{"v is a string", `{"v":"1","hostname":"www.example.com","origins":[{"url":"https://origin.example.net"}]}`, "v", "want int, got JSON string"},
		{"v is a fraction", `{"v":1.5,"hostname":"www.example.com","origins":[{"url":"https://origin.example.net"}]}`, "v", "want int, got JSON number"},
		{"v overflows", `{"v":1e400,"hostname":"www.example.com","origins":[{"url":"https://origin.example.net"}]}`, "v", "want int"},
		{"hostname is a number", `{"v":1,"hostname":5,"origins":[{"url":"https://origin.example.net"}]}`, "hostname", "want string, got JSON number"},
		{"origins is an object", `{"v":1,"hostname":"www.example.com","origins":{"url":"https://origin.example.net"}}`, "origins", "got JSON object"},
		{"origin is a string", origin(`"https://origin.example.net"`), "origins", "got JSON string"},
		{"origin url is a number", origin(`{"url":443}`), "origins.url", "want string, got JSON number"},
		{"host_header is a bool", origin(`{"url":"https://origin.example.net","host_header":true}`), "origins.host_header", "want string, got JSON bool"},
		{"tls is a string", origin(`{"url":"https://origin.example.net","tls":"on"}`), "origins.tls", "got JSON string"},
		{"insecure_skip_verify is a string", origin(`{"url":"https://origin.example.net","tls":{"insecure_skip_verify":"true"}}`), "origins.tls.insecure_skip_verify", "want bool, got JSON string"},
		{"https is an array", doc(`"https":[]`), "https", "got JSON array"},
		{"hsts_max_age is a string", doc(`"https":{"hsts_max_age":"31536000"}`), "https.hsts_max_age", "want int, got JSON string"},
		{"hsts_preload is a number", doc(`"https":{"hsts_preload":1}`), "https.hsts_preload", "want bool, got JSON number"},
		{"redirects is an object", doc(`"redirects":{}`), "redirects", "got JSON object"},
		{"redirect status is a string", doc(`"redirects":[{"path":"/a","to":"/b","status":"301"}]`), "redirects.status", "want int, got JSON string"},
		{"redirect keep_suffix is a string", doc(`"redirects":[{"path":"/a*","to":"/b","keep_suffix":"yes"}]`), "redirects.keep_suffix", "want bool, got JSON string"},
		{"document is an array", `[]`, "", "got JSON array"},
		{"document is a string", `"www.example.com"`, "", "got JSON string"},
		{"document is a number", `1`, "", "got JSON number"},

		{"trailing document", minimalDoc + ` {}`, "", "unexpected data after the JSON document"},
		{"trailing word", minimalDoc + `x`, "", "unexpected data after the JSON document"},
		{"trailing brace", minimalDoc + `}`, "", "unexpected data after the JSON document"},
		{"trailing bracket", minimalDoc + `]`, "", "unexpected data after the JSON document"},
		{"empty document", ``, "", "empty document"},
		{"whitespace document", " \n\t ", "", "empty document"},
		{"truncated document", `{"v":1,`, "", "truncated JSON document"},
		{"truncated string", `{"v":1,"hostname":"www.exa`, "", "truncated JSON document"},
		{"trailing comma", `{"v":1,}`, "", "invalid JSON"},
		{"unquoted key", `{v:1}`, "", "invalid JSON"},
		{"leading zero", `{"v":01}`, "", "invalid JSON"},
		{"oversized document", minimalDoc + strings.Repeat(" ", MaxSiteBytes-len(minimalDoc)+1), "", "the limit is 262144"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSite([]byte(tt.doc))
			if err == nil {
				t.Fatalf("ParseSite: no error, want %q: %s", tt.field, tt.msg)
			}
			if !reflect.DeepEqual(s, Site{}) {
				t.Errorf("ParseSite returned %+v with its error, want the zero Site", s)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is %T, want *FieldError", err, err)
			}
			if fe.Field != tt.field {
				t.Errorf("Field = %q, want %q (%v)", fe.Field, tt.field, err)
			}
			if !strings.Contains(fe.Msg, tt.msg) {
				t.Errorf("Msg = %q, want it to contain %q", fe.Msg, tt.msg)
			}
			if _, err := DecodeSite([]byte(tt.doc)); err == nil {
				t.Errorf("DecodeSite accepted what ParseSite rejected while decoding")
			}
		})
	}
}

func TestParseSiteSizeLimit(t *testing.T) {
	atLimit := minimalDoc + strings.Repeat(" ", MaxSiteBytes-len(minimalDoc))
	if _, err := ParseSite([]byte(atLimit)); err != nil {
		t.Fatalf("document of exactly MaxSiteBytes: %v", err)
	}
	if _, err := ParseSite([]byte(atLimit + " ")); err == nil {
		t.Fatal("document of MaxSiteBytes+1 accepted")
	}
}

func TestParseSiteValidatesNull(t *testing.T) {
	_, err := ParseSite([]byte(`null`))
	if got, want := fieldsOf(t, err), []string{"v", "hostname", "origins"}; !slices.Equal(got, want) {
		t.Fatalf("fields = %q, want %q", got, want)
	}
}

func TestDecodeSiteDoesNotValidate(t *testing.T) {
	s, err := DecodeSite([]byte(`{"v":7,"hostname":"NOT VALID","origins":[]}`))
	if err != nil {
		t.Fatalf("DecodeSite: %v", err)
	}
	if s.V != 7 || s.Hostname != "NOT VALID" {
		t.Fatalf("DecodeSite = %+v", s)
	}
	if err := s.Validate(); err == nil {
		t.Fatal("Validate accepted an invalid site")
	}
}

func TestDecodeStrictLimit(t *testing.T) {
	var v struct {
		A int `json:"a"`
	}
	if err := DecodeStrict([]byte(`{"a":1}`), 7, &v); err != nil || v.A != 1 {
		t.Fatalf("DecodeStrict at the limit: %v, %+v", err, v)
	}
	err := DecodeStrict([]byte(`{"a":1}`), 6, &v)
	if fe, ok := err.(*FieldError); !ok || !strings.Contains(fe.Msg, "document is 7 bytes, the limit is 6") {
		t.Fatalf("DecodeStrict over the limit: %v", err)
	}
}

func TestHTTPMode(t *testing.T) {
	for in, want := range map[string]string{"": HTTPRedirect, HTTPRedirect: HTTPRedirect, HTTPAllow: HTTPAllow} {
		if got := (HTTPSPolicy{HTTP: in}).HTTPMode(); got != want {
			t.Errorf("HTTPMode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFieldError(t *testing.T) {
	if got := (&FieldError{Field: "origins[0].url", Msg: "required"}).Error(); got != "origins[0].url: required" {
		t.Errorf("Error() = %q", got)
	}
	if got := (&FieldError{Msg: "empty document"}).Error(); got != "empty document" {
		t.Errorf("Error() without a field = %q", got)
	}
	fes := FieldErrors{{Field: "v", Msg: "bad"}, {Field: "hostname", Msg: "required"}}
	if got := fes.Error(); got != "v: bad; hostname: required" {
		t.Errorf("FieldErrors.Error() = %q", got)
	}
}

func TestAsFieldErrors(t *testing.T) {
	fe := &FieldError{Field: "v", Msg: "bad"}
	fes := FieldErrors{fe, {Field: "hostname", Msg: "required"}}
	tests := []struct {
		name string
		err  error
		want FieldErrors
	}{
		{"nil", nil, nil},
		{"other error", errors.New("boom"), nil},
		{"FieldErrors", fes, fes},
		{"wrapped FieldErrors", fmt.Errorf("load site %q: %w", "www.example.com", fes), fes},
		{"FieldError", fe, FieldErrors{fe}},
		{"wrapped FieldError", fmt.Errorf("decode: %w", fe), FieldErrors{fe}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AsFieldErrors(tt.err); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("AsFieldErrors = %v, want %v", got, tt.want)
			}
		})
	}
}

// fieldsOf returns the Field of every FieldError in err, in order, failing
// the test if err carries none.
func fieldsOf(tb testing.TB, err error) []string {
	tb.Helper()
	fes := AsFieldErrors(err)
	if len(fes) == 0 {
		tb.Fatalf("error %v (%T) carries no FieldError", err, err)
	}
	fields := make([]string, len(fes))
	for i, fe := range fes {
		if fe == nil || fe.Msg == "" {
			tb.Fatalf("error %v: FieldError %d is nil or has no message", err, i)
		}
		fields[i] = fe.Field
	}
	return fields
}
