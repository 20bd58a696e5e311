package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Site is one customer hostname served by the edge: where to send its traffic
// and which policies apply. It is the value of the "sites" KV bucket, keyed by
// Hostname.
type Site struct {
	V        int    `json:"v"`
	Hostname string `json:"hostname"`
	// Origins are tried in order: the first is the primary, the rest take
	// over when a connection to the one before cannot be made.
	Origins   []Origin        `json:"origins"`
	HTTPS     HTTPSPolicy     `json:"https,omitzero"`
	Redirects []Redirect      `json:"redirects,omitempty"`
	Cache     CachePolicy     `json:"cache,omitzero"`
	WAF       WAFPolicy       `json:"waf,omitzero"`
	RateLimit RateLimitPolicy `json:"rate_limit,omitzero"`
	// UnderAttack challenges every request with the WAF's JavaScript
	// proof-of-work page (whatever the WAF mode); a solved challenge clears
	// the client for 30 minutes. A switch for an ongoing attack.
	UnderAttack bool `json:"under_attack,omitempty"`
}

// Origin is one upstream of a site.
type Origin struct {
	// URL is scheme://host[:port]; http or https, no path, query or user info.
	URL string `json:"url"`
	// HostHeader is the Host sent to the origin; empty means the site's hostname.
	HostHeader string    `json:"host_header,omitempty"`
	TLS        OriginTLS `json:"tls,omitzero"`
}

// OriginTLS says how an https origin is verified and authenticated.
type OriginTLS struct {
	// ServerName is the name sent in SNI and verified; empty means the URL's host.
	ServerName string `json:"server_name,omitempty"`
	// CAPEM, when set, replaces the system roots for verifying this origin.
	CAPEM string `json:"ca_pem,omitempty"`
	// InsecureSkipVerify turns verification off. Meant for migrations only.
	InsecureSkipVerify bool `json:"insecure_skip_verify,omitempty"`
}

// HTTP modes for plain-HTTP requests.
const (
	HTTPRedirect = "redirect" // redirect to https (the default)
	HTTPAllow    = "allow"    // proxy plain HTTP as it is
)

// HTTPSPolicy is a site's transport security policy.
type HTTPSPolicy struct {
	// HTTP is what plain-HTTP requests get: "redirect" (default) or "allow".
	HTTP string `json:"http,omitempty"`
	// HSTSMaxAge in seconds; 0 sends no Strict-Transport-Security header.
	HSTSMaxAge            int  `json:"hsts_max_age,omitempty"`
	HSTSIncludeSubdomains bool `json:"hsts_include_subdomains,omitempty"`
	HSTSPreload           bool `json:"hsts_preload,omitempty"`
	// MinTLS is "1.2" (default) or "1.3".
	MinTLS string `json:"min_tls,omitempty"`
}

// HTTPMode returns the effective plain-HTTP mode.
func (p HTTPSPolicy) HTTPMode() string {
	if p.HTTP == "" {
		return HTTPRedirect
	}
	return p.HTTP
}

// Redirect answers requests for a path with a redirect instead of proxying.
type Redirect struct {
	// Path is an exact path, or a prefix when it ends in "*".
	Path string `json:"path"`
	// To is an absolute http(s) URL or a path on the same site.
	To string `json:"to"`
	// Status is 301, 302, 307 or 308; 0 means 301.
	Status int `json:"status,omitempty"`
	// KeepSuffix appends what a prefix match left over to To.
	KeepSuffix bool `json:"keep_suffix,omitempty"`
}

// FieldError is a validation failure of one field, named by its JSON path
// (for example "origins[0].url").
type FieldError struct {
	Field string `json:"field"`
	Msg   string `json:"error"`
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// FieldErrors is every validation failure of a value, in field order.
type FieldErrors []*FieldError

func (es FieldErrors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

// AsFieldErrors extracts the field errors from err, if any.
func AsFieldErrors(err error) FieldErrors {
	var fes FieldErrors
	if errors.As(err, &fes) {
		return fes
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return FieldErrors{fe}
	}
	return nil
}

// MaxSiteBytes bounds a Site document; larger ones are rejected before decoding.
const MaxSiteBytes = 256 << 10

// DecodeSite decodes a Site strictly: unknown fields, wrong types, trailing
// data and oversized documents are errors naming the field. It does not
// validate; see ParseSite.
func DecodeSite(data []byte) (Site, error) {
	var s Site
	if err := DecodeStrict(data, MaxSiteBytes, &s); err != nil {
		return Site{}, err
	}
	return s, nil
}

// ParseSite decodes and validates a Site. Edges call it on every value they
// read, the control plane on every value it writes.
func ParseSite(data []byte) (Site, error) {
	s, err := DecodeSite(data)
	if err != nil {
		return Site{}, err
	}
	if err := s.Validate(); err != nil {
		return Site{}, err
	}
	return s, nil
}

// DecodeStrict decodes one JSON document into v, rejecting unknown fields and
// trailing data, and turning decoder errors into a *FieldError.
func DecodeStrict(data []byte, limit int, v any) error {
	if len(data) > limit {
		return &FieldError{Msg: fmt.Sprintf("document is %d bytes, the limit is %d", len(data), limit)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonFieldError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return &FieldError{Msg: "unexpected data after the JSON document"}
	}
	return nil
}

func jsonFieldError(err error) *FieldError {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return &FieldError{Field: typeErr.Field, Msg: fmt.Sprintf("want %s, got JSON %s", typeErr.Type, typeErr.Value)}
	case errors.As(err, &syntaxErr):
		return &FieldError{Msg: fmt.Sprintf("invalid JSON at byte %d: %v", syntaxErr.Offset, syntaxErr)}
	case errors.Is(err, io.EOF):
		return &FieldError{Msg: "empty document"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &FieldError{Msg: "truncated JSON document"}
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return &FieldError{Field: name, Msg: "unknown field"}
	}
	return &FieldError{Msg: strings.TrimPrefix(msg, "json: ")}
}
