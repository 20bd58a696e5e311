package api

import (
	"testing"
	"time"
)

func TestRateLimitValid(t *testing.T) {
	s := validSite()
	s.RateLimit = RateLimitPolicy{
		Rules: []RateLimitRule{
			{Name: "login", Methods: []string{"POST"}, Path: "/login", Rate: 5, Period: "1m", Burst: 10},
			{Path: "/api/*", Key: RateLimitKeyHeader, KeyName: "X-Api-Key", Rate: 100},
			{Key: RateLimitKeyCookie, KeyName: "session_id", Rate: 50, Period: "1s"},
		},
		ExemptCIDRs: []string{"192.0.2.0/24", "2001:db8::1"},
		ExemptPaths: []string{"/healthz", "/status/*"},
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	r := s.RateLimit.Rules[1]
	if r.RuleName(1) != "rule1" || r.PeriodDuration() != time.Second || r.EffectiveBurst() != 100 {
		t.Fatalf("defaults: %q %v %d", r.RuleName(1), r.PeriodDuration(), r.EffectiveBurst())
	}
	data := []byte(`{"v":1,"hostname":"www.example.com","origins":[{"url":"https://o.example.net"}],
		"rate_limit":{"rules":[{"name":"login","methods":["POST"],"path":"/login","rate":5,"period":"1m"}],"exempt_paths":["/healthz"]}}`)
	if _, err := ParseSite(data); err != nil {
		t.Fatal(err)
	}
}

func TestRateLimitInvalid(t *testing.T) {
	cases := []struct {
		p          RateLimitPolicy
		field, msg string
	}{
		{RateLimitPolicy{Rules: []RateLimitRule{{Rate: 0}}}, "rate_limit.rules[0].rate", "must be 1 to"},
		{RateLimitPolicy{Rules: []RateLimitRule{{Rate: 1, Burst: -1}}}, "rate_limit.rules[0].burst", "must be 0 to"},
		{RateLimitPolicy{Rules: []RateLimitRule{{Rate: 1, Period: "500ms"}}}, "rate_limit.rules[0].period", "from 1s to 24h"},
		{RateLimitPolicy{Rules: []RateLimitRule{{Rate: 1, Period: "soon"}}}, "rate_limit.rules[0].period", "from 1s to 24h"},
		{RateLimitPolicy{Rules: []RateLimitRule{{Rate: 1, Path: "login"}}}, "rate_limit.rules[0].path", "must start with /"},
		{RateLimitPolicy{Rules: []RateLimitRule{{Rate: 1, Path: "/a*/b"}}}, "rate_limit.rules[0].path", "only allowed at the end"},
		{RateLimitPolicy{Rules: []RateLimitRule{{Rate: 1, Methods: []string{"get"}}}}, "rate_limit.rules[0].methods[0]", "upper-case"},
		{RateLimitPolicy{Rules: []RateLimitRule{{Rate: 1, Key: "asn"}}}, "rate_limit.rules[0].key", `not "asn"`},
		{RateLimitPolicy{Rules: []RateLimitRule{{Rate: 1, Key: RateLimitKeyHeader}}}, "rate_limit.rules[0].key_name", "header name is required"},
		{RateLimitPolicy{Rules: []RateLimitRule{{Rate: 1, Key: RateLimitKeyCookie, KeyName: "a b"}}}, "rate_limit.rules[0].key_name", "cookie name is required"},
		{RateLimitPolicy{Rules: []RateLimitRule{{Rate: 1, KeyName: "x"}}}, "rate_limit.rules[0].key_name", "only used with key"},
		{RateLimitPolicy{Rules: []RateLimitRule{{Rate: 1, Name: "bad name"}}}, "rate_limit.rules[0].name", "letters, digits"},
		{RateLimitPolicy{Rules: []RateLimitRule{{Rate: 1, Name: "rule1"}, {Rate: 1}}}, "rate_limit.rules[1].name", "used by an earlier rule"},
		{RateLimitPolicy{Rules: make([]RateLimitRule, MaxRateLimitRules+1)}, "rate_limit.rules", "the limit is"},
		{RateLimitPolicy{ExemptCIDRs: []string{"10.0.0.0/33"}}, "rate_limit.exempt_cidrs[0]", "not an address or CIDR"},
		{RateLimitPolicy{ExemptPaths: []string{"healthz"}}, "rate_limit.exempt_paths[0]", "must start with /"},
	}
	for _, c := range cases {
		s := validSite()
		s.RateLimit = c.p
		err := s.Validate()
		if c.field == "rate_limit.rules" {
			// Every empty rule also fails on its own; only look for the list error.
			found := false
			for _, fe := range AsFieldErrors(err) {
				found = found || fe.Field == c.field
			}
			if !found {
				t.Errorf("%s: not reported in %v", c.field, err)
			}
			continue
		}
		checkFieldErrors(t, c.field, err, c.field, c.msg)
	}
}
