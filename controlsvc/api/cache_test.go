package api

import (
	"testing"
	"time"
)

func TestCachePolicyValid(t *testing.T) {
	data := []byte(`{"v":1,"hostname":"www.example.com","origins":[{"url":"https://o.example.net"}],
		"cache":{"rules":[{"path":"/static/*","action":"aggressive","ttl":"1h","stale_while_revalidate":"30s"},
		{"path":"/api/*","action":"bypass"},{"path":"/","ttl":"1m","stale_if_error":"1h"}],
		"key_params":["page","q"],"ignore_params":["ref","mc_*"],"session_cookies":["sessionid","wp_logged_in_*"]}}`)
	s, err := ParseSite(data)
	if err != nil {
		t.Fatal(err)
	}
	ttl, swr, sie := s.Cache.Rules[0].Durations()
	if ttl != time.Hour || swr != 30*time.Second || sie != 0 || s.Cache.Rules[0].EffectiveAction() != CacheAggressive {
		t.Fatalf("rule 0: %v %v %v", ttl, swr, sie)
	}
	if s.Cache.Rules[2].EffectiveAction() != CacheStandard {
		t.Fatal("default action")
	}
}

func TestCachePolicyInvalid(t *testing.T) {
	cases := []struct {
		p          CachePolicy
		field, msg string
	}{
		{CachePolicy{Rules: []CacheRule{{Path: "static"}}}, "cache.rules[0].path", "must start with /"},
		{CachePolicy{Rules: []CacheRule{{Path: "/", Action: "forever"}}}, "cache.rules[0].action", `not "forever"`},
		{CachePolicy{Rules: []CacheRule{{Path: "/", Action: CacheAggressive}}}, "cache.rules[0].ttl", "required with action"},
		{CachePolicy{Rules: []CacheRule{{Path: "/", TTL: "-1s"}}}, "cache.rules[0].ttl", "positive duration"},
		{CachePolicy{Rules: []CacheRule{{Path: "/", StaleIfError: "soon"}}}, "cache.rules[0].stale_if_error", "positive duration"},
		{CachePolicy{Rules: []CacheRule{{Path: "/", Action: CacheBypass, TTL: "1m"}}}, "cache.rules[0].ttl", "not used with"},
		{CachePolicy{KeyParams: []string{"a&b"}}, "cache.key_params[0]", "not a query parameter"},
		{CachePolicy{IgnoreParams: []string{"*"}}, "cache.ignore_params[0]", "1-128 characters"},
		{CachePolicy{SessionCookies: []string{"a*b"}}, "cache.session_cookies[0]", "only allowed at the end"},
		{CachePolicy{SessionCookies: []string{"a;b"}}, "cache.session_cookies[0]", "not a cookie name"},
	}
	for _, c := range cases {
		s := validSite()
		s.Cache = c.p
		checkFieldErrors(t, c.field, s.Validate(), c.field, c.msg)
	}
}

func TestPurgeRequestValidate(t *testing.T) {
	if err := (PurgeRequest{URLs: []string{"/a?b=1", "https://www.example.com/x"}, Prefixes: []string{"/static/"}, Tags: []string{"p-1"}}).Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (PurgeRequest{All: true}).Validate(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		p          PurgeRequest
		field, msg string
	}{
		{PurgeRequest{}, "", "at least one of"},
		{PurgeRequest{URLs: []string{"a.html"}}, "urls[0]", "must be a path"},
		{PurgeRequest{Prefixes: []string{"static"}}, "prefixes[0]", "must be a path"},
		{PurgeRequest{Tags: []string{"a b"}}, "tags[0]", "without spaces"},
	}
	for _, c := range cases {
		checkFieldErrors(t, c.field, c.p.Validate(), c.field, c.msg)
	}
}
