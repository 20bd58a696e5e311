package api

import (
	"strings"
	"testing"
)

func TestWAFPolicyValidate(t *testing.T) {
	base := func(p WAFPolicy) *Site {
		return &Site{V: Version, Hostname: "shop.example.com", Origins: []Origin{{URL: "https://o.example.net"}}, WAF: p}
	}
	valid := []WAFPolicy{
		{},
		{Mode: WAFDetect},
		{Mode: WAFBlock, Paranoia: 4, InboundThreshold: 10, OutboundThreshold: 8, Action: WAFActionTarpit, TarpitMS: 30000},
		{Mode: WAFBlock, Action: WAFActionChallenge, AllowIPs: []string{"192.0.2.1", "2001:db8::/32"}, DenyIPs: []string{"198.51.100.0/24"}},
		{Mode: WAFBlock, RequestBodyLimit: MaxWAFRequestBodyLimit, BodyOverLimit: WAFBodyPartial, InspectResponse: true},
		{Mode: WAFBlock, Exclusions: []WAFExclusion{{RuleIDs: []int{942100}, PathPrefix: "/api/", Methods: []string{"POST"}, Args: []string{"json.query", "items[]"}}, {Tags: []string{"attack-sqli", "paranoia-level/2"}}}},
		{Mode: WAFBlock, CustomRules: []string{`SecRule ARGS "@rx x" "id:1,deny"`}},
	}
	for i, p := range valid {
		if err := base(p).Validate(); err != nil {
			t.Errorf("valid[%d]: %v", i, err)
		}
	}
	invalid := []struct {
		p            WAFPolicy
		field, error string
	}{
		{WAFPolicy{Mode: "on"}, "waf.mode", `not "on"`},
		{WAFPolicy{Paranoia: 5}, "waf.paranoia", "1 to 4"},
		{WAFPolicy{InboundThreshold: -1}, "waf.inbound_threshold", "1 to"},
		{WAFPolicy{OutboundThreshold: MaxWAFThreshold + 1}, "waf.outbound_threshold", "1 to"},
		{WAFPolicy{Action: "drop"}, "waf.action", `not "drop"`},
		{WAFPolicy{TarpitMS: MaxWAFTarpitMS + 1}, "waf.tarpit_ms", "1 to"},
		{WAFPolicy{RequestBodyLimit: MaxWAFRequestBodyLimit + 1}, "waf.request_body_limit", "bytes"},
		{WAFPolicy{BodyOverLimit: "truncate"}, "waf.body_over_limit", `not "truncate"`},
		{WAFPolicy{AllowIPs: []string{"192.0.2.1/24"}}, "waf.allow_ips[0]", "host bits set"},
		{WAFPolicy{DenyIPs: []string{"10.0.0.1", "nope"}}, "waf.deny_ips[1]", "not an IP address"},
		{WAFPolicy{DenyIPs: []string{"fe80::1%eth0"}}, "waf.deny_ips[0]", "not an IP address"},
		{WAFPolicy{CustomRules: []string{"  "}}, "waf.custom_rules[0]", "empty"},
		{WAFPolicy{CustomRules: []string{"ok", "Include /etc/passwd"}}, "waf.custom_rules[1]", "Include"},
		{WAFPolicy{CustomRules: []string{"SecRuleEngine Off"}}, "waf.custom_rules[0]", "SecRuleEngine is not allowed in a custom rule: the policy sets it (waf.mode)"},
		{WAFPolicy{CustomRules: []string{"SecGsbLookupDb /var/lib/gsb.dat"}}, "waf.custom_rules[0]", "SecGsbLookupDb is not allowed in a custom rule: it reads, writes or runs files"},
		{WAFPolicy{CustomRules: []string{"SecRuleScript /tmp/x.lua \"block\""}}, "waf.custom_rules[0]", "not allowed"},
		{WAFPolicy{CustomRules: []string{"SecAction \"id:1,phase:1,pass\"\n  secRequestBodyLimit 1073741824"}}, "waf.custom_rules[0]", "secRequestBodyLimit is not allowed"},
		{WAFPolicy{CustomRules: []string{"SecResponseBodyAccess On"}}, "waf.custom_rules[0]", "(waf.inspect_response)"},
		{WAFPolicy{CustomRules: []string{strings.Repeat("x", MaxWAFCustomRuleBytes+1)}}, "waf.custom_rules[0]", "limit"},
		{WAFPolicy{Exclusions: []WAFExclusion{{PathPrefix: "/x"}}}, "waf.exclusions[0]", "rule_ids or tags"},
		{WAFPolicy{Exclusions: []WAFExclusion{{RuleIDs: []int{0}}}}, "waf.exclusions[0].rule_ids[0]", "rule id"},
		{WAFPolicy{Exclusions: []WAFExclusion{{Tags: []string{"a',ctl:ruleEngine=Off"}}}}, "waf.exclusions[0].tags[0]", "not a tag"},
		{WAFPolicy{Exclusions: []WAFExclusion{{RuleIDs: []int{1}, PathPrefix: "api"}}}, "waf.exclusions[0].path_prefix", "start with /"},
		{WAFPolicy{Exclusions: []WAFExclusion{{RuleIDs: []int{1}, PathPrefix: `/a" "id:1`}}}, "waf.exclusions[0].path_prefix", "plain path"},
		{WAFPolicy{Exclusions: []WAFExclusion{{RuleIDs: []int{1}, Methods: []string{"get"}}}}, "waf.exclusions[0].methods[0]", "upper-case"},
		{WAFPolicy{Exclusions: []WAFExclusion{{RuleIDs: []int{1}, Args: []string{"a,ctl:x"}}}}, "waf.exclusions[0].args[0]", "argument name"},
	}
	for _, tc := range invalid {
		fes := AsFieldErrors(base(tc.p).Validate())
		if len(fes) != 1 || fes[0].Field != tc.field || !strings.Contains(fes[0].Msg, tc.error) {
			t.Errorf("%+v: got %v, want %s: …%s…", tc.p, fes, tc.field, tc.error)
		}
	}
}

func TestWAFPolicyEffective(t *testing.T) {
	e := WAFPolicy{Mode: WAFBlock}.Effective()
	if e.Paranoia != 1 || e.InboundThreshold != 5 || e.OutboundThreshold != 4 || e.Action != WAFActionBlock ||
		e.RequestBodyLimit != DefaultWAFRequestBodyLimit || e.BodyOverLimit != WAFBodyDeny || e.TarpitMS != DefaultWAFTarpitMS {
		t.Fatalf("effective %+v", e)
	}
	if (WAFPolicy{}).Enabled() || !(WAFPolicy{Mode: WAFDetect}).Enabled() {
		t.Fatal("Enabled")
	}
}
