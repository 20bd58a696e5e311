package waf

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/rampart-edge/rampart/controlsvc/api"
)

// Rule ids Rampart generates. They sit outside the CRS range (900000-999999)
// and the range ModSecurity leaves to local rules (1-99999).
const (
	idSettings      = 4200000 // paranoia, thresholds
	idExclusionBase = 4200100 // one per scoped exclusion
	maxGeneratedID  = 4299999
)

// ResponseBodyLimit is how much of a text response is buffered for
// inspection; the rest passes uninspected.
const ResponseBodyLimit = 512 << 10

// engineDirectives is the fixed part of every engine: the settings of
// Coraza's coraza.conf-recommended that matter here, without its audit log and
// data directory (the edge logs decisions itself and keeps no per-client
// state on disk).
const engineDirectives = `
SecRequestBodyAccess On
SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\+|/)|text/)xml" \
     "id:'200000',phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"
SecRule REQUEST_HEADERS:Content-Type "^application/json" \
     "id:'200001',phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRule REQUEST_HEADERS:Content-Type "^application/[a-z0-9.-]+[+]json" \
     "id:'200006',phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRequestBodyJsonDepthLimit 1024
SecRequestBodyLimitAction ProcessPartial
SecRule REQBODY_ERROR "!@eq 0" \
    "id:'200002', phase:2,t:none,log,deny,status:400,msg:'Failed to parse request body.',logdata:'%{reqbody_error_msg}',severity:2"
SecRule MULTIPART_STRICT_ERROR "!@eq 0" \
    "id:'200003',phase:2,t:none,log,deny,status:400, \
    msg:'Multipart request body failed strict validation.'"
SecResponseBodyMimeType text/plain text/html text/xml
SecResponseBodyLimit 524288
SecResponseBodyLimitAction ProcessPartial
SecAuditEngine Off
SecDefaultAction "phase:1,log,auditlog,pass"
SecDefaultAction "phase:2,log,auditlog,pass"
SecDefaultAction "phase:3,log,auditlog,pass"
SecDefaultAction "phase:4,log,auditlog,pass"
SecDefaultAction "phase:5,log,auditlog,pass"
SecAction "id:900990,phase:1,pass,t:none,nolog,tag:'OWASP_CRS',ver:'OWASP_CRS/4.25.0',setvar:tx.crs_setup_version=4250"
`

// The CRS's defaults allow only GET, HEAD, POST and OPTIONS and a short list
// of body types; an edge in front of APIs allows the REST verbs and the JSON
// variants APIs use (JSON Patch, Merge Patch, JSON:API, problem details,
// GraphQL). Bodies of these types are still parsed and inspected as JSON.
const (
	allowedMethods      = "GET HEAD POST OPTIONS PUT PATCH DELETE"
	allowedContentTypes = "|application/x-www-form-urlencoded| |multipart/form-data| |multipart/related| |text/xml| |application/xml| |application/soap+xml| |application/json| |application/cloudevents+json| |application/cloudevents-batch+json| |application/merge-patch+json| |application/json-patch+json| |application/vnd.api+json| |application/problem+json| |application/graphql| |application/graphql-response+json| |text/plain|"
)

// directives renders an effective policy as SecLang: engine settings, the
// policy's CRS settings and scoped exclusions, its custom rules, the CRS,
// then the unscoped exclusions (SecRuleRemove* acts on rules already loaded).
func directives(p api.WAFPolicy) string {
	var b strings.Builder
	engine := "On"
	if p.Mode == api.WAFDetect {
		engine = "DetectionOnly"
	}
	fmt.Fprintf(&b, "SecRuleEngine %s\n", engine)
	b.WriteString(engineDirectives)
	fmt.Fprintf(&b, "SecRequestBodyLimit %d\nSecRequestBodyInMemoryLimit %d\n", p.RequestBodyLimit, p.RequestBodyLimit)
	if p.InspectResponse {
		b.WriteString("SecResponseBodyAccess On\n")
	} else {
		b.WriteString("SecResponseBodyAccess Off\n")
	}
	fmt.Fprintf(&b, `SecAction "id:%d,phase:1,pass,t:none,nolog,setvar:tx.blocking_paranoia_level=%d,setvar:tx.detection_paranoia_level=%d,setvar:tx.inbound_anomaly_score_threshold=%d,setvar:tx.outbound_anomaly_score_threshold=%d,setvar:'tx.allowed_methods=%s',setvar:'tx.allowed_request_content_type=%s'"`+"\n",
		idSettings, p.Paranoia, p.Paranoia, p.InboundThreshold, p.OutboundThreshold, allowedMethods, allowedContentTypes)

	var after strings.Builder
	for i, x := range p.Exclusions {
		writeExclusion(&b, &after, idExclusionBase+i, x)
	}
	for _, r := range p.CustomRules {
		b.WriteString(r)
		b.WriteString("\n")
	}
	b.WriteString("Include @owasp_crs/*.conf\n")
	b.WriteString(after.String())
	return b.String()
}

// writeExclusion writes one exclusion: a ctl rule in phase 1 when it is
// scoped to a path or method, SecRuleRemove*/SecRuleUpdateTarget* after
// the CRS when it applies everywhere.
func writeExclusion(before, after *strings.Builder, id int, x api.WAFExclusion) {
	scoped := x.PathPrefix != "" || len(x.Methods) > 0
	if !scoped {
		for _, rid := range x.RuleIDs {
			if len(x.Args) == 0 {
				fmt.Fprintf(after, "SecRuleRemoveById %d\n", rid)
				continue
			}
			for _, a := range x.Args {
				fmt.Fprintf(after, "SecRuleUpdateTargetById %d \"!ARGS:%s\"\n", rid, a)
			}
		}
		for _, t := range x.Tags {
			if len(x.Args) == 0 {
				fmt.Fprintf(after, "SecRuleRemoveByTag %q\n", t)
				continue
			}
			for _, a := range x.Args {
				fmt.Fprintf(after, "SecRuleUpdateTargetByTag %q \"!ARGS:%s\"\n", t, a)
			}
		}
		return
	}
	var ctls []string
	for _, rid := range x.RuleIDs {
		if len(x.Args) == 0 {
			ctls = append(ctls, "ctl:ruleRemoveById="+strconv.Itoa(rid))
			continue
		}
		for _, a := range x.Args {
			ctls = append(ctls, fmt.Sprintf("ctl:ruleRemoveTargetById=%d;ARGS:%s", rid, a))
		}
	}
	for _, t := range x.Tags {
		if len(x.Args) == 0 {
			ctls = append(ctls, "ctl:ruleRemoveByTag="+t)
			continue
		}
		for _, a := range x.Args {
			ctls = append(ctls, fmt.Sprintf("ctl:ruleRemoveTargetByTag=%s;ARGS:%s", t, a))
		}
	}
	actions := fmt.Sprintf("id:%d,phase:1,pass,nolog,t:none,%s", id, strings.Join(ctls, ","))
	switch {
	case x.PathPrefix != "" && len(x.Methods) > 0:
		fmt.Fprintf(before, "SecRule REQUEST_FILENAME \"@beginsWith %s\" \"id:%d,phase:1,pass,nolog,t:none,chain\"\n", x.PathPrefix, id)
		fmt.Fprintf(before, "  SecRule REQUEST_METHOD \"@rx ^(?:%s)$\" \"t:none,%s\"\n", strings.Join(x.Methods, "|"), strings.Join(ctls, ","))
	case x.PathPrefix != "":
		fmt.Fprintf(before, "SecRule REQUEST_FILENAME \"@beginsWith %s\" \"%s\"\n", x.PathPrefix, actions)
	default:
		fmt.Fprintf(before, "SecRule REQUEST_METHOD \"@rx ^(?:%s)$\" \"%s\"\n", strings.Join(x.Methods, "|"), actions)
	}
}
