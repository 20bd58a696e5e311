package proxy

import (
	"io"
	"net/http"
	"strings"

	"github.com/rampart-edge/rampart/edgeagent/accesslog"
	"github.com/rampart-edge/rampart/edgeagent/challenge"
)

// ActionACMEChallenge is logged for answered (or unknown) HTTP-01 challenges.
const ActionACMEChallenge = "acme_challenge"

// Challenges looks up ACME HTTP-01 key authorizations by token
// (challenge.Store).
type Challenges interface {
	KeyAuth(token string) (string, bool)
}

// serveChallenge answers GET /.well-known/acme-challenge/<token> on plain
// HTTP from the challenge store, ahead of the HTTPS redirect (the site has
// no certificate yet when it is first validated). It reports whether it
// answered.
func (h *Handler) serveChallenge(w http.ResponseWriter, r *http.Request, e *accesslog.Entry) bool {
	if h.cfg.Challenges == nil || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		return false
	}
	token, ok := strings.CutPrefix(r.URL.Path, challenge.PathPrefix)
	if !ok {
		return false
	}
	e.Action = ActionACMEChallenge
	keyAuth, found := h.cfg.Challenges.KeyAuth(token)
	if !found || !challenge.ValidToken(token) {
		e.Status = http.StatusNotFound
		WriteError(w, e, "no such ACME challenge")
		return true
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/plain")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Request-ID", e.ReqID)
	e.Status = http.StatusOK
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		n, _ := io.WriteString(w, keyAuth)
		e.BytesOut = int64(n)
	}
	return true
}
