package wafgate

import (
	"context"
	"net/http"
	"net/netip"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/accesslog"
	"github.com/rampart-edge/rampart/edgeagent/catalog"
	"github.com/rampart-edge/rampart/edgeagent/proxy"
	"github.com/rampart-edge/rampart/waf"
)

// Request implements proxy.WAF: it inspects r and either lets it through
// (proceed) or answers the client itself.
func (g *Gate) Request(w http.ResponseWriter, r *http.Request, site *catalog.Site, e *accesslog.Entry) (proxy.ResponseCheck, bool) {
	if site.UnderAttack {
		if !g.cleared(w, r, e) {
			e.Action, e.WAFAction, e.Status = proxy.ActionWAF, ActChallenge, http.StatusForbidden
			g.challenge(w, r, e)
			return nil, false
		}
		if !site.WAF.Enabled() {
			e.WAFAction = ActCleared
		}
	}
	if !site.WAF.Enabled() {
		return nil, true
	}
	eng, err := g.engine(e.Site, site)
	if err != nil {
		// Fail closed: a site that asked for a WAF is not served without one.
		e.WAFAction, e.Action, e.Status = ActUnready, proxy.ActionWAF, http.StatusServiceUnavailable
		proxy.WriteError(w, e, "the site's firewall is not available; try again later")
		return nil, false
	}
	client, _ := netip.ParseAddr(e.ClientIP)
	select {
	case g.inspect <- struct{}{}:
	case <-r.Context().Done():
		e.Action, e.Status, e.Err = proxy.ActionWAF, 499, "client went away waiting for inspection"
		return nil, false
	}
	tx, res := eng.InspectRequestID(r, client, e.ReqID)
	<-g.inspect
	record(e, res)
	pol := eng.Policy()
	switch {
	case res.Reason == waf.ReasonIPAllow:
		e.WAFAction = ActAllowlist
	case !res.Reject:
		e.WAFAction = ActPass
	case !res.Enforce && res.Reason != waf.ReasonIPDeny:
		e.WAFAction = ActLog
	case res.Reason == waf.ReasonBodyLimit:
		e.WAFAction, e.Action, e.Status = ActTooLarge, proxy.ActionWAF, http.StatusRequestEntityTooLarge
		proxy.WriteError(w, e, "the request body is larger than this site accepts")
		tx.Close()
		return nil, false
	case res.Reason == waf.ReasonIPDeny:
		g.reject(w, r, e, api.WAFActionBlock, pol, res)
		return nil, false
	default:
		if pol.Action == api.WAFActionChallenge && g.cleared(w, r, e) {
			e.WAFAction = ActCleared
			break
		}
		g.reject(w, r, e, pol.Action, pol, res)
		tx.Close()
		return nil, false
	}
	if tx == nil {
		return nil, true
	}
	if !tx.InspectsResponse() {
		tx.Close()
		return nil, true
	}
	return &responseCheck{tx: tx, slots: g.inspect}, true
}

// record copies what the log needs from a result.
func record(e *accesslog.Entry, res waf.Result) {
	e.RuleIDs = res.RuleIDs
	e.AnomalyScore = res.Score
	e.WAFMatched = res.Matched
}

// reject carries out action for a rejected request. A rule that asked for
// a status other than 403 (a malformed body gets 400) is answered with it.
func (g *Gate) reject(w http.ResponseWriter, r *http.Request, e *accesslog.Entry, action string, pol api.WAFPolicy, res waf.Result) {
	e.Action = proxy.ActionWAF
	switch action {
	case api.WAFActionChallenge:
		e.WAFAction, e.Status = ActChallenge, http.StatusForbidden
		g.challenge(w, r, e)
	case api.WAFActionTarpit:
		e.WAFAction = ActTarpit
		g.tarpit(r.Context(), time.Duration(pol.TarpitMS)*time.Millisecond)
		e.Status = http.StatusForbidden
		if r.Context().Err() != nil {
			e.Status, e.Err = 499, "client went away while tarpitted"
			return
		}
		proxy.WriteError(w, e, "this request was blocked by the site's firewall")
	default:
		e.WAFAction, e.Status = ActBlock, http.StatusForbidden
		if res.Status == http.StatusBadRequest {
			e.Status = res.Status
		}
		proxy.WriteError(w, e, "this request was blocked by the site's firewall")
	}
}

// tarpit holds the request for d, or less when the client leaves. At most
// MaxTarpits requests are held at once; the rest are answered at once, so a
// flood cannot turn the tarpit into a way to pin the edge's memory.
func (g *Gate) tarpit(ctx context.Context, d time.Duration) {
	select {
	case g.tarpits <- struct{}{}:
	default:
		return
	}
	defer func() { <-g.tarpits }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// responseCheck runs the response phases of a request's transaction.
type responseCheck struct {
	tx    *waf.Tx
	slots chan struct{}
}

// Response implements proxy.ResponseCheck.
func (c *responseCheck) Response(resp *http.Response, e *accesslog.Entry) bool {
	c.slots <- struct{}{}
	res := c.tx.InspectResponse(resp)
	<-c.slots
	if !res.Reject {
		return true
	}
	e.RuleIDs = res.RuleIDs // the request's matches and the response's
	if res.Matched != "" {
		e.WAFMatched = res.Matched
	}
	if !res.Enforce {
		e.WAFAction = ActLog
		return true
	}
	e.WAFAction = ActBlock
	return false
}

// Done implements proxy.ResponseCheck.
func (c *responseCheck) Done() { c.tx.Close() }
