package api

import (
	"strings"
	"testing"
)

func TestValidateHostname(t *testing.T) {
	l63 := strings.Repeat("a", 63)
	valid := []string{
		"example.com",
		"www.example.com",
		"a.b",
		"a-b.c-d.example",
		"a--b.example",
		"123.example.com",
		"xn--bcher-kva.example",
		"example.xn--p1ai",
		"example.c0m",
		l63 + ".example",
		l63 + "." + l63 + "." + l63 + "." + strings.Repeat("b", 61), // 253
	}
	for _, name := range valid {
		if err := ValidateHostname(name); err != nil {
			t.Errorf("ValidateHostname(%q) = %v, want nil", name, err)
		}
	}
	invalid := []struct {
		name, msg string
	}{
		{"", "required"},
		{l63 + "." + l63 + "." + l63 + "." + strings.Repeat("b", 62), "longer than 253"},
		{"example.com.", "no trailing dot"},
		{".", "no trailing dot"},
		{"192.0.2.1", "is an IP address"},
		{"::1", "is an IP address"},
		{"::ffff:192.0.2.1", "is an IP address"},
		{"com", "at least two labels"},
		{".example.com", "labels are 1-63 characters"},
		{"www..example.com", "labels are 1-63 characters"},
		{l63 + "a.example", "labels are 1-63 characters"},
		{"-a.example", "cannot start or end with -"},
		{"a-.example", "cannot start or end with -"},
		{"example.-", "cannot start or end with -"},
		{"Example.com", "must be lower-case"},
		{"example.COM", "must be lower-case"},
		{"ex_ample.com", "is not allowed"},
		{"*.example.com", "is not allowed"},
		{"exa mple.com", "is not allowed"},
		{"example.com:443", "is not allowed"},
		{"example.com/", "is not allowed"},
		{"example\x00.com", "is not allowed"},
		{"bücher.example", `character 'ü' is not allowed`},
		{"例え.テスト", "xn-- form"},
		{"example.123", "cannot be all digits"},
		{"1.2.3.4.5", "cannot be all digits"},
		{"256.1.1.1", "cannot be all digits"},
	}
	for _, tt := range invalid {
		err := ValidateHostname(tt.name)
		if err == nil {
			t.Errorf("ValidateHostname(%q) = nil, want an error containing %q", tt.name, tt.msg)
			continue
		}
		if !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("ValidateHostname(%q) = %q, want it to contain %q", tt.name, err, tt.msg)
		}
	}
}

func TestValidateHostHeader(t *testing.T) {
	valid := []string{
		"www.example.com",
		"www.example.com:1",
		"www.example.com:8080",
		"www.example.com:65535",
		"192.0.2.1",
		"192.0.2.1:80",
		"[2001:db8::1]",
		"[2001:db8::1]:443",
		"[::ffff:192.0.2.1]:80",
	}
	for _, h := range valid {
		if err := validateHostHeader(h); err != nil {
			t.Errorf("validateHostHeader(%q) = %v, want nil", h, err)
		}
	}
	invalid := []string{
		"",
		":80",
		"www",
		"WWW.example.com",
		"www.example.com:",
		"www.example.com:0",
		"www.example.com:65536",
		"www.example.com:080808",
		"www.example.com:-1",
		"www.example.com:+1",
		"www.example.com:8o",
		"www.example.com:80:80",
		"2001:db8::1",
		"[2001:db8::1",
		"[2001:db8::1]:",
		"[2001:db8::1]80",
		"[2001:db8::1]:0",
		"[192.0.2.1]",
		"[www.example.com]",
		"[]",
		"[fe80::1%eth0]",
		"www.example.com/",
		"www.example.com\r\n",
	}
	for _, h := range invalid {
		if err := validateHostHeader(h); err == nil {
			t.Errorf("validateHostHeader(%q) = nil, want an error", h)
		}
	}
}
