package api

import (
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParseSite(f *testing.F) {
	caPEM, keyPEM := testCertPEM(f, "ca.example.net")
	ca, _ := json.Marshal(caPEM)
	key, _ := json.Marshal(keyPEM)
	for _, doc := range []string{
		minimalDoc,
		`{"v":1,"hostname":"shop.example.com","origins":[{"url":"http://origin.example.net:8080"}],
			"https":{"http":"allow","hsts_max_age":31536000,"hsts_include_subdomains":true,"hsts_preload":true,"min_tls":"1.3"}}`,
		`{"v":1,"hostname":"www.example.com","origins":[{"url":"https://origin.example.net"}],"redirects":[
			{"path":"/old","to":"/new"},{"path":"/blog/*","to":"https://blog.example.com/","status":308,"keep_suffix":true}]}`,
		`{"v":1,"hostname":"api.example.com","origins":[{"url":"https://10.0.0.5:8443","host_header":"api.example.com:443",
			"tls":{"server_name":"origin.internal.example.net","ca_pem":` + string(ca) + `,"insecure_skip_verify":true}}]}`,
		`{"v":1,"hostname":"xn--bcher-kva.example","origins":[{"url":"https://a.example.net/"},
			{"url":"http://[2001:db8::1]:80","host_header":"[2001:db8::1]"}],"cache":{},"waf":{},"rate_limit":{},"redirects":[]}`,
		`{"V":1,"Hostname":"www.example.com","ORIGINS":[{"URL":"https://origin.example.net"}]}`,
		`{"v":1,"hostname":"www.example.com","hostname":"other.example.com","origins":[{"url":"https://o.example.net"}]}`,
		`{"v":1,"hostname":"www.example.com","origins":[{"url":"https://o.example.net","tls":{"ca_pem":` + string(key) + `}}]}`,
		`{"v":1,"hostname":"WWW.example.com.","origins":[{"url":"ftp://user@o.example.net/x?y#z"}],"https":{"http":"deny","min_tls":"1.1","hsts_max_age":-1}}`,
		`{"v":2,"hostname":"192.0.2.1","origins":[],"redirects":[{"path":"x*y","to":"//evil.example","status":200,"keep_suffix":true}]}`,
		`{"v":1,"hostname":"www.example.com","origins":[{"url":"http://o.example.net","host_header":"o.example.net:http","tls":{"server_name":"x"}}]}`,
		`{"v":"1","hostname":5,"origins":{}}`,
		`{"v":1,"hostname":"www.example.com","origins":[{"url":"https://o.example.net","weight":1}]}`,
		`{"v":1,"hostname":"bücher.example","origins":[{"url":"https://o.example.net:65536"}],"redirects":[{"path":"/a","to":"/b\r\n"}]}`,
		minimalDoc + ` {}`,
		`{"v":1,`,
		`null`,
		`[]`,
		``,
	} {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSite(data)
		if err != nil {
			checkParseSiteError(t, data, err)
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("ParseSite returned a site that Validate rejects: %v", err)
		}
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", s, err)
		}
		again, err := ParseSite(out)
		if err != nil {
			t.Fatalf("ParseSite(Marshal(site)) of\n%s\n= %v (input %q)", out, err, data)
		}
		if !sitesEqual(s, again) {
			t.Fatalf("round trip changed the site:\n%+v\n%+v", s, again)
		}
		if out2, _ := json.Marshal(again); string(out2) != string(out) {
			t.Fatalf("Marshal is not stable:\n%s\n%s", out, out2)
		}
	})
}

// checkParseSiteError checks what ParseSite returns on failure: a *FieldError
// from decoding, or FieldErrors from validation matching DecodeSite+Validate.
func checkParseSiteError(t *testing.T, data []byte, err error) {
	t.Helper()
	var fe *FieldError
	var fes FieldErrors
	switch {
	case errors.As(err, &fes):
		if len(fes) == 0 {
			t.Fatal("empty FieldErrors")
		}
		for _, e := range fes {
			if e == nil || e.Msg == "" || e.Field == "" {
				t.Fatalf("validation error without a field or message: %#v", e)
			}
		}
		s, derr := DecodeSite(data)
		if derr != nil {
			t.Fatalf("ParseSite failed validation but DecodeSite failed too: %v", derr)
		}
		if verr := s.Validate(); verr == nil || verr.Error() != err.Error() {
			t.Fatalf("ParseSite = %v, DecodeSite+Validate = %v", err, verr)
		}
	case errors.As(err, &fe):
		if fe.Msg == "" {
			t.Fatalf("FieldError without a message: %#v", fe)
		}
		if _, derr := DecodeSite(data); derr == nil {
			t.Fatalf("ParseSite failed decoding (%v) but DecodeSite succeeded", err)
		}
	default:
		t.Fatalf("error %v is %T, want FieldErrors or *FieldError", err, err)
	}
	if strings.TrimSpace(err.Error()) == "" {
		t.Fatalf("empty error message")
	}
}

// sitesEqual compares two sites, treating a nil and an empty list alike
// (omitempty drops an empty "redirects").
func sitesEqual(a, b Site) bool {
	if len(a.Redirects) == 0 && len(b.Redirects) == 0 {
		a.Redirects, b.Redirects = nil, nil
	}
	return reflect.DeepEqual(a, b)
}

// FuzzSiteFields drives Validate with arbitrary field values, which reach
// the URL and host parsers far more often than mutated JSON does, and checks
// that whatever Validate accepts is what the edge expects and survives the wire.
func FuzzSiteFields(f *testing.F) {
	f.Add("www.example.com", "https://origin.example.net", "", "", "/old", "/new", 0, false)
	f.Add("a.b", "http://[2001:db8::1]:8080/", "[2001:db8::1]:8080", "192.0.2.1", "/p/*", "https://x.example/", 308, true)
	f.Add("xn--bcher-kva.example", "HTTPS://O.EXAMPLE.NET:443", "www.example.com:443", "o.example.net", "/", "http://a.example?q=1", 302, false)
	f.Add("Example.com.", "ftp://u@o.example.net/x?y#z", "::1", "-", "x*y", "//evil.example", 200, true)
	f.Add("www.example.com", "https://o.example.net?", "o.example.net:", "", "/a", "/b\r\n", 301, false)
	// Regressions: accepted before validate.go checked for an empty query and the Host header's port.
	f.Add("www.example.com", "https://o.example.net?", "", "", "/a", "/b", 301, false)
	f.Add("www.example.com", "https://o.example.net#", "", "", "/a", "/b", 301, false)
	f.Add("www.example.com", "https://o.example.net", "o.example.net:http", "", "/a", "/b", 0, false)
	f.Add("www.example.com", "https://o.example.net", "[o.example.net]:80", "", "/a", "/b", 0, false)
	f.Fuzz(func(t *testing.T, hostname, originURL, hostHeader, serverName, path, to string, status int, keepSuffix bool) {
		for _, s := range []string{hostname, originURL, hostHeader, serverName, path, to} {
			if !utf8.ValidString(s) {
				return // JSON cannot carry it; decoding replaces it
			}
		}
		s := Site{
			V:         Version,
			Hostname:  hostname,
			Origins:   []Origin{{URL: originURL, HostHeader: hostHeader, TLS: OriginTLS{ServerName: serverName}}},
			Redirects: []Redirect{{Path: path, To: to, Status: status, KeepSuffix: keepSuffix}},
		}
		if err := s.Validate(); err != nil {
			for _, field := range fieldsOf(t, err) {
				if field == "" {
					t.Fatalf("validation error without a field: %v", err)
				}
			}
			return
		}
		checkAcceptedSite(t, s)
		data, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseSite(data)
		if err != nil {
			t.Fatalf("ParseSite(Marshal(valid site)) of %s: %v", data, err)
		}
		if !sitesEqual(got, s) {
			t.Fatalf("round trip changed the site:\n%+v\n%+v", s, got)
		}
	})
}

// checkAcceptedSite checks what the edge relies on in a site Validate accepted.
func checkAcceptedSite(t *testing.T, s Site) {
	t.Helper()
	if strings.Trim(s.Hostname, "abcdefghijklmnopqrstuvwxyz0123456789.-") != "" {
		t.Fatalf("hostname %q accepted", s.Hostname)
	}
	for _, o := range s.Origins {
		u, err := url.Parse(o.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
			t.Fatalf("origin URL %q accepted (%v)", o.URL, err)
		}
		if strings.Trim(strings.ToLower(u.Host), "abcdefghijklmnopqrstuvwxyz0123456789.-:[]") != "" {
			t.Fatalf("origin URL %q accepted with host %q", o.URL, u.Host)
		}
		if strings.Trim(o.HostHeader, "abcdefghijklmnopqrstuvwxyz0123456789.-:[]") != "" {
			t.Fatalf("host header %q accepted", o.HostHeader)
		}
		if o.HostHeader != "" {
			if u, err := url.Parse("http://" + o.HostHeader); err != nil || u.Host != o.HostHeader || u.Hostname() == "" {
				t.Fatalf("host header %q accepted but is not a URL host (%v)", o.HostHeader, err)
			}
		}
	}
	for _, r := range s.Redirects {
		if strings.ContainsAny(r.To, "\r\n") || strings.HasPrefix(r.To, "//") || !strings.HasPrefix(r.Path, "/") {
			t.Fatalf("redirect %+v accepted", r)
		}
	}
}
