// Package adminapi serves the JSON admin API under /api/v1/: sites and their
// certificate status, behind a bearer token, plus an unauthenticated
// /healthz.
package adminapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-edge/rampart/controlsvc/accounts"
	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/controlsvc/blocklist"
	"github.com/rampart-edge/rampart/controlsvc/certs"
	"github.com/rampart-edge/rampart/controlsvc/certs/onboard"
	"github.com/rampart-edge/rampart/controlsvc/edgeevents"
	"github.com/rampart-edge/rampart/controlsvc/fleet"
	"github.com/rampart-edge/rampart/controlsvc/sites"
)

// Config wires the handler to its stores.
type Config struct {
	// Sites is the site store.
	Sites *sites.Store
	// Certs is the api.BucketCerts bucket, read for certificate status.
	Certs jetstream.KeyValue
	// State, when set, is the control-only bucket holding each site's
	// issuance status (certs.ReadIssuance), shown with the certificate.
	State jetstream.KeyValue
	// Renew, when set, forces a new certificate for a hostname
	// (POST /sites/{host}/cert/renew).
	Renew func(ctx context.Context, host string) error
	// Token is the bearer token every /api/v1/ request must present.
	Token string
	// Health, when set, is asked by /healthz; an error answers 503.
	Health func(context.Context) error
	// Logger receives server-side failures; slog.Default when nil.
	Logger *slog.Logger
	// Session, when set, authenticates a request without an Authorization
	// header (the dashboard's session cookie and CSRF header): nil to
	// accept, ErrCSRF to answer 403, any other error 401.
	Session func(*http.Request) error
	// Fleet, when set, serves GET /edges and GET /sites/{host}/cache from
	// the edges' heartbeats; EdgeMaxAge (DefaultEdgeMaxAge when zero) is
	// when a silent node counts as stale.
	Fleet      *fleet.Tracker
	EdgeMaxAge time.Duration
	// Events, when set, serves GET /events?site= (recent edge events).
	Events *edgeevents.Recorder
	// DNSCheck, when set, serves GET /sites/{host}/dns: the record to
	// create and whether it is seen.
	DNSCheck *onboard.Checker
	// Accounts, when set, serves /users (dashboard users).
	Accounts *accounts.Store
	// Blocklist, when set, serves GET and PUT /blocklist.
	Blocklist *blocklist.Store
	// Purge, when set, serves POST /sites/{host}/purge (see
	// controlsvc/purge).
	Purge func(ctx context.Context, host string, req api.PurgeRequest) (api.PurgeResult, error)
}

// ErrCSRF is a session request whose CSRF token is missing or wrong.
var ErrCSRF = errors.New("missing or wrong CSRF token")

type handler struct {
	sites     *sites.Store
	certs     jetstream.KeyValue
	state     jetstream.KeyValue
	renew     func(context.Context, string) error
	tokenHash [sha256.Size]byte
	health    func(context.Context) error
	log       *slog.Logger
	mux       *http.ServeMux

	session    func(*http.Request) error
	fleet      *fleet.Tracker
	edgeMaxAge time.Duration
	events     *edgeevents.Recorder
	dnsCheck   *onboard.Checker
	accounts   *accounts.Store
	blocklist  *blocklist.Store
	purge      func(context.Context, string, api.PurgeRequest) (api.PurgeResult, error)
}

// New returns the admin API handler.
func New(cfg Config) (http.Handler, error) {
	switch {
	case cfg.Sites == nil:
		return nil, errors.New("admin api: sites store is required")
	case cfg.Certs == nil:
		return nil, errors.New("admin api: certs bucket is required")
	case len(cfg.Token) < MinTokenLength:
		return nil, fmt.Errorf("admin api: token must be at least %d characters", MinTokenLength)
	}
	h := &handler{
		sites:     cfg.Sites,
		certs:     cfg.Certs,
		state:     cfg.State,
		renew:     cfg.Renew,
		tokenHash: sha256.Sum256([]byte(cfg.Token)),
		health:    cfg.Health,
		log:       cfg.Logger,

		session:    cfg.Session,
		fleet:      cfg.Fleet,
		edgeMaxAge: cfg.EdgeMaxAge,
		events:     cfg.Events,
		dnsCheck:   cfg.DNSCheck,
		accounts:   cfg.Accounts,
		blocklist:  cfg.Blocklist,
		purge:      cfg.Purge,
	}
	if h.edgeMaxAge <= 0 {
		h.edgeMaxAge = DefaultEdgeMaxAge
	}
	if h.log == nil {
		h.log = slog.Default()
	}

	v1 := http.NewServeMux()
	v1.HandleFunc("GET /api/v1/sites", h.listSites)
	v1.HandleFunc("POST /api/v1/sites", h.createSite)
	v1.HandleFunc("/api/v1/sites", methodNotAllowed("GET, POST"))
	v1.HandleFunc("GET /api/v1/sites/{host}", h.getSite)
	v1.HandleFunc("PUT /api/v1/sites/{host}", h.updateSite)
	v1.HandleFunc("DELETE /api/v1/sites/{host}", h.deleteSite)
	v1.HandleFunc("/api/v1/sites/{host}", methodNotAllowed("GET, PUT, DELETE"))
	v1.HandleFunc("GET /api/v1/sites/{host}/cert", h.getCert)
	v1.HandleFunc("/api/v1/sites/{host}/cert", methodNotAllowed("GET"))
	if h.renew != nil {
		v1.HandleFunc("POST /api/v1/sites/{host}/cert/renew", h.renewCert)
		v1.HandleFunc("/api/v1/sites/{host}/cert/renew", methodNotAllowed("POST"))
	}
	h.routeDashboard(v1)
	h.routeBlocklist(v1)
	h.routePurge(v1)
	v1.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, errorBody{Error: "no such endpoint"})
	})

	h.mux = http.NewServeMux()
	h.mux.HandleFunc("GET /healthz", h.healthz)
	// Everything else needs the token, so an unauthenticated caller
	// cannot even learn which endpoints exist.
	h.mux.Handle("/", h.authenticate(v1))
	return h, nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	h.mux.ServeHTTP(w, r)
}

func (h *handler) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.session != nil && r.Header.Get("Authorization") == "" {
			h.sessionAuth(next, w, r)
			return
		}
		scheme, tok, found := strings.Cut(r.Header.Get("Authorization"), " ")
		if !found || !strings.EqualFold(scheme, "Bearer") {
			w.Header().Set("WWW-Authenticate", `Bearer realm="rampart"`)
			writeError(w, http.StatusUnauthorized, errorBody{Error: "a bearer token is required"})
			return
		}
		// Hashing first makes the comparison constant-time in the
		// token's length too.
		got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		if subtle.ConstantTimeCompare(got[:], h.tokenHash[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="rampart", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, errorBody{Error: "invalid bearer token"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (h *handler) healthz(w http.ResponseWriter, r *http.Request) {
	if h.health != nil {
		if err := h.health(r.Context()); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

type siteList struct {
	Sites []api.Site `json:"sites"`
}

func (h *handler) listSites(w http.ResponseWriter, r *http.Request) {
	list, err := h.sites.List(r.Context())
	if err != nil {
		h.fail(w, r, "list", "", err)
		return
	}
	if list == nil {
		list = []api.Site{}
	}
	writeJSON(w, http.StatusOK, siteList{Sites: list})
}

func (h *handler) createSite(w http.ResponseWriter, r *http.Request) {
	site, ok := readSite(w, r)
	if !ok {
		return
	}
	e, err := h.sites.Create(r.Context(), site)
	if err != nil {
		h.fail(w, r, "create", site.Hostname, err)
		return
	}
	w.Header().Set("Location", "/api/v1/sites/"+url.PathEscape(e.Site.Hostname))
	writeEntry(w, http.StatusCreated, e)
}

func (h *handler) getSite(w http.ResponseWriter, r *http.Request) {
	host, ok := pathHost(w, r)
	if !ok {
		return
	}
	e, err := h.sites.Get(r.Context(), host)
	if err != nil {
		h.fail(w, r, "get", host, err)
		return
	}
	writeEntry(w, http.StatusOK, e)
}

// updateSite replaces a site. The body's hostname must name the site in the
// path (an empty one means it). An If-Match header with the ETag of a
// previous read makes the write conditional on the site being unchanged.
func (h *handler) updateSite(w http.ResponseWriter, r *http.Request) {
	host, ok := pathHost(w, r)
	if !ok {
		return
	}
	ifRev, ok := ifMatch(w, r)
	if !ok {
		return
	}
	site, ok := readSite(w, r)
	if !ok {
		return
	}
	if site.Hostname == "" {
		site.Hostname = host
	}
	if bodyHost, err := sites.NormalizeHostname(site.Hostname); err != nil || bodyHost != host {
		writeError(w, http.StatusBadRequest, fieldBody(api.FieldErrors{{
			Field: "hostname",
			Msg:   fmt.Sprintf("%q does not match the site %q in the path", site.Hostname, host),
		}}))
		return
	}
	e, err := h.sites.Update(r.Context(), site, ifRev)
	if errors.Is(err, sites.ErrConflict) && ifRev != 0 {
		writeError(w, http.StatusPreconditionFailed, errorBody{Error: fmt.Sprintf("site %q changed since revision %d", host, ifRev)})
		return
	}
	if err != nil {
		h.fail(w, r, "update", host, err)
		return
	}
	writeEntry(w, http.StatusOK, e)
}

func (h *handler) deleteSite(w http.ResponseWriter, r *http.Request) {
	host, ok := pathHost(w, r)
	if !ok {
		return
	}
	if err := h.sites.Delete(r.Context(), host); err != nil {
		h.fail(w, r, "delete", host, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) getCert(w http.ResponseWriter, r *http.Request) {
	host, ok := pathHost(w, r)
	if !ok {
		return
	}
	if _, err := h.sites.Get(r.Context(), host); err != nil {
		h.fail(w, r, "cert", host, err)
		return
	}
	var issuance *certs.Issuance
	if h.state != nil {
		var err error
		if issuance, err = certs.ReadIssuance(r.Context(), h.state, host); err != nil {
			h.internal(w, r, "cert", host, err)
			return
		}
	}
	st, err := certs.ReadStatus(r.Context(), h.certs, host)
	if errors.Is(err, certs.ErrNotFound) {
		msg := fmt.Sprintf("site %q has no certificate yet", host)
		if issuance != nil && issuance.Error != "" {
			msg += fmt.Sprintf(" (%d failed attempts, next at %s): %s", issuance.Failures, issuance.NextAttempt.Format(time.RFC3339), issuance.Error)
		}
		writeError(w, http.StatusNotFound, errorBody{Error: msg})
		return
	}
	if err != nil {
		h.internal(w, r, "cert", host, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		certs.Status
		Issuance *certs.Issuance `json:"issuance,omitempty"`
	}{st, issuance})
}

// renewCert queues a forced renewal: 202, the new certificate follows.
func (h *handler) renewCert(w http.ResponseWriter, r *http.Request) {
	host, ok := pathHost(w, r)
	if !ok {
		return
	}
	if _, err := h.sites.Get(r.Context(), host); err != nil {
		h.fail(w, r, "renew", host, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	if err := h.renew(ctx, host); err != nil {
		h.internal(w, r, "renew", host, err)
		return
	}
	h.log.Info("certificate renewal requested", "site", host, "action", "renew")
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "renewal queued", "hostname": host})
}

// fail answers a store error with its status code.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, action, host string, err error) {
	if errors.Is(err, sites.ErrCorrupt) {
		h.internal(w, r, action, host, err)
		return
	}
	if fes := api.AsFieldErrors(err); fes != nil {
		writeError(w, http.StatusBadRequest, fieldBody(fes))
		return
	}
	switch {
	case errors.Is(err, sites.ErrNotFound):
		writeError(w, http.StatusNotFound, errorBody{Error: fmt.Sprintf("site %q not found", host)})
	case errors.Is(err, sites.ErrExists):
		writeError(w, http.StatusConflict, errorBody{Error: fmt.Sprintf("site %q already exists", host)})
	case errors.Is(err, sites.ErrConflict):
		writeError(w, http.StatusConflict, errorBody{Error: fmt.Sprintf("site %q was changed concurrently; retry", host)})
	default:
		h.internal(w, r, action, host, err)
	}
}

// internal logs err and answers 500 with only a request id to quote.
func (h *handler) internal(w http.ResponseWriter, r *http.Request, action, host string, err error) {
	var id [8]byte
	_, _ = rand.Read(id[:])
	reqID := hex.EncodeToString(id[:])
	h.log.ErrorContext(r.Context(), "admin api request failed",
		"req_id", reqID, "action", action, "site", host, "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, errorBody{Error: "internal error", ReqID: reqID})
}

// readSite reads a JSON site from a write request, answering the request
// itself when it cannot.
func readSite(w http.ResponseWriter, r *http.Request) (api.Site, bool) {
	data, ok := readJSONBody(w, r, api.MaxSiteBytes)
	if !ok {
		return api.Site{}, false
	}
	site, err := api.DecodeSite(data)
	if err != nil {
		writeError(w, http.StatusBadRequest, fieldBody(api.AsFieldErrors(err)))
		return api.Site{}, false
	}
	return site, true
}

// readJSONBody reads a JSON request body of at most limit bytes, answering
// the request itself (415, 413, 400) when it cannot.
func readJSONBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, errorBody{Error: "Content-Type must be application/json"})
		return nil, false
	}
	tooLarge := errorBody{Error: fmt.Sprintf("body is larger than %d bytes", limit)}
	if r.ContentLength > limit {
		writeError(w, http.StatusRequestEntityTooLarge, tooLarge)
		return nil, false
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, tooLarge)
		} else {
			writeError(w, http.StatusBadRequest, errorBody{Error: "reading the body failed"})
		}
		return nil, false
	}
	return data, true
}

// pathHost returns the normalised {host} of the request path.
func pathHost(w http.ResponseWriter, r *http.Request) (string, bool) {
	host, err := sites.NormalizeHostname(r.PathValue("host"))
	if err == nil {
		err = api.ValidateHostname(host)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, fieldBody(api.FieldErrors{{Field: "hostname", Msg: err.Error()}}))
		return "", false
	}
	return host, true
}

// ifMatch parses an If-Match header holding one ETag from this API.
func ifMatch(w http.ResponseWriter, r *http.Request) (uint64, bool) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" || v == "*" {
		return 0, true
	}
	rev, err := strconv.ParseUint(strings.Trim(v, `"`), 10, 64)
	if err != nil || rev == 0 || !strings.HasPrefix(v, `"`) || !strings.HasSuffix(v, `"`) {
		writeError(w, http.StatusBadRequest, errorBody{Error: "If-Match must be one ETag returned by this API"})
		return 0, false
	}
	return rev, true
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, errorBody{Error: "method " + r.Method + " is not allowed; use " + allow})
	}
}

// errorBody is every error answer: a message, the first field at fault
// and, for invalid input, every field error.
type errorBody struct {
	Error  string          `json:"error"`
	Field  string          `json:"field,omitempty"`
	Errors api.FieldErrors `json:"errors,omitempty"`
	ReqID  string          `json:"req_id,omitempty"`
}

func fieldBody(fes api.FieldErrors) errorBody {
	b := errorBody{Error: "invalid input", Errors: fes}
	if len(fes) > 0 {
		b.Error = fes.Error()
		b.Field = fes[0].Field
	}
	return b
}

func writeEntry(w http.ResponseWriter, status int, e sites.Entry) {
	w.Header().Set("ETag", `"`+strconv.FormatUint(e.Revision, 10)+`"`)
	writeJSON(w, status, e.Site)
}

func writeError(w http.ResponseWriter, status int, body errorBody) {
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		status, data = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}
