package waf

import (
	"errors"

	"github.com/corazawaf/coraza/v3/experimental/plugins"
	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
)

// A site's custom rules are written by the site's owner and run on every
// edge node. Coraza's SecLang has an operator that runs a program
// (@inspectFile: the path in the rule, the request's value as its
// argument), one that sends DNS queries to a server the rule names
// (@rbl), and an action that sets the edge process's environment
// (setenv). None of them is used by the CRS; Rampart's engines refuse
// them, so a custom rule using one is rejected when the policy is written
// (Check names the rule) and can never be compiled by an edge.
var (
	errInspectFile = errors.New("@inspectFile is not allowed: it runs a program on the edge")
	errRBL         = errors.New("@rbl is not allowed: it sends DNS queries from the edge")
	errSetenv      = errors.New("setenv is not allowed: it changes the edge process's environment")
)

// refuseUnsafe replaces the unsafe operators and action in Coraza's
// registries (process-wide; registerOperators calls it).
func refuseUnsafe() {
	plugins.RegisterOperator("inspectFile", func(plugintypes.OperatorOptions) (plugintypes.Operator, error) {
		return nil, errInspectFile
	})
	plugins.RegisterOperator("rbl", func(plugintypes.OperatorOptions) (plugintypes.Operator, error) {
		return nil, errRBL
	})
	plugins.RegisterAction("setenv", func() plugintypes.Action { return refusedAction{errSetenv} })
}

// refusedAction fails its rule's compilation with err.
type refusedAction struct{ err error }

func (a refusedAction) Init(plugintypes.RuleMetadata, string) error                   { return a.err }
func (refusedAction) Evaluate(plugintypes.RuleMetadata, plugintypes.TransactionState) {}
func (refusedAction) Type() plugintypes.ActionType                                    { return plugintypes.ActionTypeNondisruptive }
