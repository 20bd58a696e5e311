package api

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// WAF modes.
const (
	WAFOff    = "off"    // no inspection (the default)
	WAFDetect = "detect" // inspect and log what would happen; never interfere
	WAFBlock  = "block"  // inspect and apply Action to requests over the threshold
)

// WAF actions for requests the policy rejects.
const (
	WAFActionBlock     = "block"     // 403 page with the request id (the default)
	WAFActionChallenge = "challenge" // JavaScript proof-of-work; a solved one earns a signed, expiring cookie
	WAFActionTarpit    = "tarpit"    // hold the request for TarpitMS, then 403
)

// What happens to a request body larger than RequestBodyLimit.
const (
	WAFBodyDeny    = "deny"    // 413, the body is not forwarded (the default)
	WAFBodyPartial = "partial" // inspect the first RequestBodyLimit bytes, forward the whole body
)

// WAF limits and defaults.
const (
	DefaultWAFParanoia          = 1
	DefaultWAFInboundThreshold  = 5
	DefaultWAFOutboundThreshold = 4
	DefaultWAFRequestBodyLimit  = 128 << 10
	MaxWAFRequestBodyLimit      = 16 << 20
	DefaultWAFTarpitMS          = 2000
	MaxWAFTarpitMS              = 30000
	MaxWAFExclusions            = 200
	MaxWAFCustomRules           = 200
	MaxWAFCustomRuleBytes       = 8 << 10
	MaxWAFIPEntries             = 1000
	MaxWAFThreshold             = 10000
)

// WAFPolicy is the site's web application firewall policy: Coraza with the
// OWASP Core Rule Set in anomaly-scoring mode, plus the site's own tuning.
// Fields left empty take the documented defaults; the edge compiles one
// engine per distinct policy and shares it between sites.
type WAFPolicy struct {
	// Mode is "off" (default), "detect" (log only) or "block".
	Mode string `json:"mode,omitempty"`
	// Paranoia is the CRS paranoia level, 1-4; 0 means 1.
	Paranoia int `json:"paranoia,omitempty"`
	// InboundThreshold is the request anomaly score that triggers Action; 0 means 5.
	InboundThreshold int `json:"inbound_threshold,omitempty"`
	// OutboundThreshold is the response anomaly score that stops a response
	// (with InspectResponse); 0 means 4.
	OutboundThreshold int `json:"outbound_threshold,omitempty"`
	// Action is what a rejected request gets: "block" (default), "challenge" or "tarpit".
	Action string `json:"action,omitempty"`
	// TarpitMS is how long a tarpitted request is held before its 403; 0 means 2000.
	TarpitMS int `json:"tarpit_ms,omitempty"`
	// Exclusions switch CRS rules off, everywhere or for a path, method or argument.
	Exclusions []WAFExclusion `json:"exclusions,omitempty"`
	// CustomRules are SecLang directives (SecRule, SecAction, ...), run
	// after the CRS setup and before the CRS rules. The edge compiles them on
	// write; a rule the parser rejects is a validation error.
	CustomRules []string `json:"custom_rules,omitempty"`
	// AllowIPs skip inspection; DenyIPs are rejected before it (both in
	// detect and block mode). Addresses or CIDR prefixes.
	AllowIPs []string `json:"allow_ips,omitempty"`
	DenyIPs  []string `json:"deny_ips,omitempty"`
	// RequestBodyLimit is how many body bytes are inspected; 0 means 128 KiB.
	RequestBodyLimit int64 `json:"request_body_limit,omitempty"`
	// BodyOverLimit is what a larger body gets: "deny" (413, default) or
	// "partial" (the first RequestBodyLimit bytes are inspected, all is forwarded).
	BodyOverLimit string `json:"body_over_limit,omitempty"`
	// InspectResponse runs the CRS response rules on text responses (up to
	// 512 KiB are buffered); a response over OutboundThreshold becomes a 502.
	InspectResponse bool `json:"inspect_response,omitempty"`
}

// WAFExclusion removes CRS rules, by id or tag, for the requests it matches
// (the ctl:ruleRemoveById / ctl:ruleRemoveTargetById pattern). With no
// PathPrefix and no Methods it applies to every request.
type WAFExclusion struct {
	RuleIDs []int    `json:"rule_ids,omitempty"`
	Tags    []string `json:"tags,omitempty"`
	// PathPrefix limits the exclusion to paths starting with it.
	PathPrefix string `json:"path_prefix,omitempty"`
	// Methods limits the exclusion to these methods (upper case).
	Methods []string `json:"methods,omitempty"`
	// Args, when set, removes the rules only for these argument names
	// (query, form or JSON), leaving the rest of the request inspected.
	Args []string `json:"args,omitempty"`
}

// Effective returns p with the defaults filled in: the form the edge
// compiles and the key under which engines are shared.
func (p WAFPolicy) Effective() WAFPolicy {
	if p.Mode == "" {
		p.Mode = WAFOff
	}
	if p.Paranoia == 0 {
		p.Paranoia = DefaultWAFParanoia
	}
	if p.InboundThreshold == 0 {
		p.InboundThreshold = DefaultWAFInboundThreshold
	}
	if p.OutboundThreshold == 0 {
		p.OutboundThreshold = DefaultWAFOutboundThreshold
	}
	if p.Action == "" {
		p.Action = WAFActionBlock
	}
	if p.TarpitMS == 0 {
		p.TarpitMS = DefaultWAFTarpitMS
	}
	if p.RequestBodyLimit == 0 {
		p.RequestBodyLimit = DefaultWAFRequestBodyLimit
	}
	if p.BodyOverLimit == "" {
		p.BodyOverLimit = WAFBodyDeny
	}
	return p
}

// Enabled reports whether requests are inspected at all.
func (p WAFPolicy) Enabled() bool { return p.Mode != "" && p.Mode != WAFOff }

// wafTag is what a CRS tag looks like: letters, digits and -_/.: (no quotes,
// commas or spaces, which would break out of the generated ctl action).
var wafTag = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_./:-]{0,127}$`)

// wafArg is an argument name as the exclusion writes it into SecLang.
var wafArg = regexp.MustCompile(`^[A-Za-z0-9_.\-\[\]]{1,128}$`)

var wafMethod = regexp.MustCompile(`^[A-Z]{1,20}$`)

// validate checks what can be checked without the rule engine. SecLang in
// CustomRules is checked by the edge's WAF compiler (waf.Check), which the
// control plane runs on write.
func (p WAFPolicy) validate(add addFunc) {
	switch p.Mode {
	case "", WAFOff, WAFDetect, WAFBlock:
	default:
		add("waf.mode", "must be %q, %q or %q, not %q", WAFOff, WAFDetect, WAFBlock, p.Mode)
	}
	if p.Paranoia < 0 || p.Paranoia > 4 {
		add("waf.paranoia", "must be 1 to 4 (0 means 1)")
	}
	if p.InboundThreshold < 0 || p.InboundThreshold > MaxWAFThreshold {
		add("waf.inbound_threshold", "must be 1 to %d (0 means %d)", MaxWAFThreshold, DefaultWAFInboundThreshold)
	}
	if p.OutboundThreshold < 0 || p.OutboundThreshold > MaxWAFThreshold {
		add("waf.outbound_threshold", "must be 1 to %d (0 means %d)", MaxWAFThreshold, DefaultWAFOutboundThreshold)
	}
	switch p.Action {
	case "", WAFActionBlock, WAFActionChallenge, WAFActionTarpit:
	default:
		add("waf.action", "must be %q, %q or %q, not %q", WAFActionBlock, WAFActionChallenge, WAFActionTarpit, p.Action)
	}
	if p.TarpitMS < 0 || p.TarpitMS > MaxWAFTarpitMS {
		add("waf.tarpit_ms", "must be 1 to %d (0 means %d)", MaxWAFTarpitMS, DefaultWAFTarpitMS)
	}
	if p.RequestBodyLimit < 0 || p.RequestBodyLimit > MaxWAFRequestBodyLimit {
		add("waf.request_body_limit", "must be 1 to %d bytes (0 means %d)", MaxWAFRequestBodyLimit, DefaultWAFRequestBodyLimit)
	}
	switch p.BodyOverLimit {
	case "", WAFBodyDeny, WAFBodyPartial:
	default:
		add("waf.body_over_limit", "must be %q or %q, not %q", WAFBodyDeny, WAFBodyPartial, p.BodyOverLimit)
	}
	if len(p.Exclusions) > MaxWAFExclusions {
		add("waf.exclusions", "%d exclusions, the limit is %d", len(p.Exclusions), MaxWAFExclusions)
	}
	for i, x := range p.Exclusions {
		x.validate(fmt.Sprintf("waf.exclusions[%d]", i), add)
	}
	if len(p.CustomRules) > MaxWAFCustomRules {
		add("waf.custom_rules", "%d rules, the limit is %d", len(p.CustomRules), MaxWAFCustomRules)
	}
	for i, r := range p.CustomRules {
		field := fmt.Sprintf("waf.custom_rules[%d]", i)
		switch {
		case strings.TrimSpace(r) == "":
			add(field, "empty rule")
		case len(r) > MaxWAFCustomRuleBytes:
			add(field, "%d bytes, the limit is %d", len(r), MaxWAFCustomRuleBytes)
		default:
			if d := fileDirective(r); d != "" {
				add(field, "%s is not allowed in a custom rule: it reads, writes or runs files on the edge", d)
			} else if d, use := policyDirective(r); d != "" {
				add(field, "%s is not allowed in a custom rule: the policy sets it (%s)", d, use)
			}
		}
	}
	validateIPList("waf.allow_ips", p.AllowIPs, add)
	validateIPList("waf.deny_ips", p.DenyIPs, add)
}

// fileDirective returns the first directive of a custom rule that reads,
// writes or runs files on the edge (Include, directives that name files or
// scripts, keeping uploads); "" when there is none.
func fileDirective(r string) string {
	for line := range strings.SplitSeq(r, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch strings.ToLower(f[0]) {
		case "include", "includeoptional", "secauditlog", "secauditlog2", "secdebuglog", "secdatadir",
			"secuploaddir", "sectmpdir", "secauditlogstoragedir", "secremoterules",
			"secgsblookupdb", "secunicodemap", "secrulescript", "secuploadkeepfiles":
			return f[0]
		}
	}
	return ""
}

// policyDirectives are the engine settings the policy itself renders
// (waf.directives): a custom rule setting one would silently override the
// policy, so that, say, a site shown in block mode would not block. The
// value is the policy field to use instead.
var policyDirectives = map[string]string{
	"secruleengine":                 "waf.mode",
	"secrequestbodyaccess":          "waf.request_body_limit",
	"secrequestbodylimit":           "waf.request_body_limit",
	"secrequestbodyinmemorylimit":   "waf.request_body_limit",
	"secrequestbodynofileslimit":    "waf.request_body_limit",
	"secrequestbodylimitaction":     "waf.body_over_limit",
	"secresponsebodyaccess":         "waf.inspect_response",
	"secresponsebodylimit":          "waf.inspect_response",
	"secresponsebodylimitaction":    "waf.inspect_response",
	"secresponsebodymimetype":       "waf.inspect_response",
	"secresponsebodymimetypesclear": "waf.inspect_response",
}

// policyDirective returns the first engine setting of the policy's that a
// custom rule sets, and the policy field that sets it; "" when none.
func policyDirective(r string) (string, string) {
	for line := range strings.SplitSeq(r, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if use, ok := policyDirectives[strings.ToLower(f[0])]; ok {
			return f[0], use
		}
	}
	return "", ""
}

func (x WAFExclusion) validate(prefix string, add addFunc) {
	if len(x.RuleIDs) == 0 && len(x.Tags) == 0 {
		add(prefix, "needs rule_ids or tags")
	}
	for i, id := range x.RuleIDs {
		if id < 1 || id > 9999999 {
			add(fmt.Sprintf("%s.rule_ids[%d]", prefix, i), "must be a rule id, 1 to 9999999")
		}
	}
	for i, t := range x.Tags {
		if !wafTag.MatchString(t) {
			add(fmt.Sprintf("%s.tags[%d]", prefix, i), "%q is not a tag (letters, digits and _./:-)", t)
		}
	}
	if x.PathPrefix != "" {
		if !strings.HasPrefix(x.PathPrefix, "/") {
			add(prefix+".path_prefix", "must start with /")
		} else if strings.ContainsAny(x.PathPrefix, "\"'\\ \t\r\n") || len(x.PathPrefix) > 512 {
			add(prefix+".path_prefix", "must be a plain path of at most 512 bytes (no quotes, spaces or backslashes)")
		}
	}
	for i, m := range x.Methods {
		if !wafMethod.MatchString(m) {
			add(fmt.Sprintf("%s.methods[%d]", prefix, i), "%q is not an upper-case method", m)
		}
	}
	for i, a := range x.Args {
		if !wafArg.MatchString(a) {
			add(fmt.Sprintf("%s.args[%d]", prefix, i), "%q is not an argument name (letters, digits and _.-[])", a)
		}
	}
}

func validateIPList(field string, list []string, add addFunc) {
	if len(list) > MaxWAFIPEntries {
		add(field, "%d entries, the limit is %d", len(list), MaxWAFIPEntries)
		return
	}
	for i, s := range list {
		if _, err := ParseIPPrefix(s); err != nil {
			add(fmt.Sprintf("%s[%d]", field, i), "%v", err)
		}
	}
}

// ParseIPPrefix parses an address ("192.0.2.1", "2001:db8::1") as a
// single-address prefix, or a CIDR prefix ("192.0.2.0/24"), which must not
// have host bits set.
func ParseIPPrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR prefix", s)
		}
		if p.Masked() != p {
			return netip.Prefix{}, fmt.Errorf("%q has host bits set (did you mean %s?)", s, p.Masked())
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR prefix", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}
