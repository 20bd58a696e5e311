// Package waf is Rampart's web application firewall engine: Coraza with the
// OWASP Core Rule Set, compiled from a site's api.WAFPolicy. It is a leaf
// module so that both the control plane (which compiles policies on write to
// reject bad SecLang) and the edge (which runs them) can use it.
//
// An Engine is immutable and safe for concurrent use; a Cache shares one
// Engine between every site with the same effective policy.
package waf

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
	"github.com/corazawaf/coraza/v3"
	"github.com/corazawaf/coraza/v3/experimental"
	"github.com/corazawaf/coraza/v3/types"

	"github.com/rampart-edge/rampart/controlsvc/api"
)

// Options are the parts of an engine that are not policy.
type Options struct {
	// MatchLog, when set, receives every logged rule match as a
	// ModSecurity-style error-log line (what go-ftw reads). It is a debugging
	// aid: the lines hold matched data as it was, secrets included.
	MatchLog io.Writer
	// NoPrescreen turns off the vendored Coraza's prescreen and record
	// reuse (third_party/coraza/RAMPART.md), leaving upstream's evaluation:
	// for the differential test and for ruling the prescreen out.
	NoPrescreen bool
	// recordQuiet keeps the quiet rules' match records (tests compare
	// them with upstream's evaluation).
	recordQuiet bool
}

// Engine is a compiled policy.
type Engine struct {
	policy api.WAFPolicy // effective
	waf    coraza.WAF
	allow  []netip.Prefix
	deny   []netip.Prefix
	// logPhase: Close runs the logging phase, whose only output is the
	// match log (the audit log is off, and verdicts come from phases 1-4).
	logPhase bool
}

// Policy returns the effective policy the engine was compiled from.
func (e *Engine) Policy() api.WAFPolicy { return e.policy }

// Compile builds the engine for p, which must be valid (api.Site.Validate).
// Compiling CRS takes a few hundred milliseconds; share engines with a Cache.
func Compile(p api.WAFPolicy, opts Options) (*Engine, error) {
	p = p.Effective()
	e := &Engine{policy: p}
	var err error
	if e.allow, err = parsePrefixes(p.AllowIPs); err != nil {
		return nil, fmt.Errorf("waf.allow_ips: %w", err)
	}
	if e.deny, err = parsePrefixes(p.DenyIPs); err != nil {
		return nil, fmt.Errorf("waf.deny_ips: %w", err)
	}
	if !p.Enabled() {
		return e, nil
	}
	registerOperators()
	// Match records are reused by the next transaction: Tx reads them only
	// before Close (result) and the match log callback formats its line at
	// once. Quiet rules' matches (no msg, logdata or log, nothing but pass)
	// are not recorded: result skips them as bookkeeping.
	cfg := coraza.NewWAFConfig().WithRootFS(coreruleset.FS).WithDirectives(directives(p)).
		WithPrescreen(!opts.NoPrescreen).WithRecordReuse(!opts.NoPrescreen).
		WithQuietMatchesUnrecorded(!opts.NoPrescreen && !opts.recordQuiet)
	if opts.MatchLog != nil {
		e.logPhase = true
		var mu sync.Mutex
		w := opts.MatchLog
		cfg = cfg.WithErrorCallback(func(mr types.MatchedRule) {
			line := mr.ErrorLog() + "\n"
			mu.Lock()
			io.WriteString(w, line)
			mu.Unlock()
		})
	}
	e.waf, err = coraza.NewWAF(cfg)
	if err != nil {
		return nil, fmt.Errorf("compile waf policy: %w", err)
	}
	return e, nil
}

// Close releases what the engine cached (compiled patterns are shared
// between engines and freed with the last one). Transactions in flight keep
// working.
func (e *Engine) Close() error {
	if c, ok := e.waf.(experimental.WAFCloser); ok {
		return c.Close()
	}
	return nil
}

func parsePrefixes(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		p, err := api.ParseIPPrefix(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// ruleID finds the id:NNN actions of SecLang text.
var ruleID = regexp.MustCompile(`(?i)\bid\s*:\s*'?(\d+)`)

// Check compiles p as the edge will and returns api.FieldErrors naming the
// field at fault: a custom rule the SecLang parser rejects is reported as
// waf.custom_rules[i] with the parser's message. The control plane calls it
// on every write.
func Check(p api.WAFPolicy) error {
	registerOperators()
	var errs api.FieldErrors
	for i, r := range p.CustomRules {
		field := fmt.Sprintf("waf.custom_rules[%d]", i)
		for _, m := range ruleID.FindAllStringSubmatch(r, -1) {
			if id, _ := strconv.Atoi(m[1]); id >= idSettings && id <= maxGeneratedID {
				errs = append(errs, &api.FieldError{Field: field, Msg: fmt.Sprintf("rule id %d is in the range Rampart reserves (%d-%d)", id, idSettings, maxGeneratedID)})
			}
		}
		// Each rule alone first, so a parse error names its rule.
		logging := 0
		observe := func(m types.RuleMetadata) {
			if m.Phase() == types.PhaseLogging && logging == 0 {
				logging = m.ID()
			}
		}
		cfg := experimental.WAFConfigWithRuleObserver(coraza.NewWAFConfig().WithRootFS(coreruleset.FS), observe)
		if _, err := coraza.NewWAF(cfg.WithDirectives(r)); err != nil {
			errs = append(errs, &api.FieldError{Field: field, Msg: parserMessage(err)})
		} else if logging != 0 {
			// Tx.Close does not run phase 5: it could not change a
			// verdict, and its matches would reach no log.
			errs = append(errs, &api.FieldError{Field: field, Msg: fmt.Sprintf("rule %d runs in the logging phase (5), which the edge does not evaluate: use phases 1-4, whose matches are logged with the request", logging)})
		}
	}
	if len(errs) > 0 {
		return errs
	}
	if !p.Effective().Enabled() && len(p.CustomRules) == 0 && len(p.Exclusions) == 0 {
		return nil
	}
	// Then the whole policy: ids clashing with the CRS, exclusions naming
	// rules that do not exist in a way the parser rejects.
	q := p
	if !q.Enabled() {
		q.Mode = api.WAFDetect // compile what would run if it were switched on
	}
	if _, err := Compile(q, Options{}); err != nil {
		field := "waf"
		msg := parserMessage(err)
		for i, r := range p.CustomRules {
			for _, m := range ruleID.FindAllStringSubmatch(r, -1) {
				if strings.Contains(msg, "id "+m[1]) || strings.Contains(msg, "id:"+m[1]) || strings.Contains(msg, `"`+m[1]+`"`) {
					field = fmt.Sprintf("waf.custom_rules[%d]", i)
				}
			}
		}
		return api.FieldErrors{{Field: field, Msg: msg}}
	}
	return nil
}

// parserMessage trims Coraza's wrapping down to what the parser said.
func parserMessage(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			break
		}
		err = u
	}
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "compile waf policy: ")
	return msg
}
