// Package dashboard serves the control service's web UI: static files
// (embedded, no external links) under a strict Content-Security-Policy, and
// the sign-in endpoints that give a browser a session cookie and a CSRF
// token. Everything else the UI does goes through the admin API
// (adminapi), which accepts the session through Authenticate.
package dashboard

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/accounts"
	"github.com/rampart-edge/rampart/controlsvc/adminapi"
)

// CookieName is the session cookie. The __Host- prefix makes the browser
// insist on Secure, Path=/ and no Domain.
const CookieName = "__Host-rampart_session"

// CSRFHeader carries the session's CSRF token on every write.
const CSRFHeader = "X-CSRF-Token"

// CSP is the Content-Security-Policy of every dashboard page: only this
// origin's scripts and styles, no inline code, no framing.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Sign-in rate limits: failures per client address and per user name.
const (
	loginFailures = 10
	loginWindow   = 5 * time.Minute
)

//go:embed static
var static embed.FS

// Config wires the dashboard.
type Config struct {
	// Accounts holds users and sessions.
	Accounts *accounts.Store
	// Token is the admin bearer token, accepted once for a first sign-in.
	Token string
	// API is the admin API handler (adminapi), served under /api/.
	API http.Handler
	// Logger receives sign-in events; slog.Default when nil.
	Logger *slog.Logger
}

// Dashboard is the UI's HTTP handler.
type Dashboard struct {
	acc       *accounts.Store
	tokenHash [sha256.Size]byte
	api       http.Handler
	log       *slog.Logger
	byIP      *accounts.Limiter
	byUser    *accounts.Limiter
	mux       *http.ServeMux
}

// New returns the dashboard handler.
func New(cfg Config) (*Dashboard, error) {
	if cfg.Accounts == nil || cfg.API == nil {
		return nil, errors.New("dashboard: accounts and api are required")
	}
	if len(cfg.Token) < adminapi.MinTokenLength {
		return nil, errors.New("dashboard: admin token is required")
	}
	d := &Dashboard{
		acc:       cfg.Accounts,
		tokenHash: sha256.Sum256([]byte(cfg.Token)),
		api:       cfg.API,
		log:       cfg.Logger,
		byIP:      accounts.NewLimiter(loginFailures, loginWindow),
		byUser:    accounts.NewLimiter(loginFailures, loginWindow),
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	files, err := fs.Sub(static, "static")
	if err != nil {
		return nil, err
	}
	d.mux = http.NewServeMux()
	d.mux.HandleFunc("POST /api/v1/session", d.signIn)
	d.mux.HandleFunc("GET /api/v1/session", d.whoAmI)
	d.mux.HandleFunc("DELETE /api/v1/session", d.signOut)
	d.mux.Handle("/api/", d.api)
	d.mux.Handle("/healthz", d.api)
	d.mux.Handle("GET /ui/", http.StripPrefix("/ui/", http.FileServerFS(files)))
	d.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, files, "index.html")
	})
	d.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	return d, nil
}

// ServeHTTP sets the security headers and routes.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if r.TLS != nil {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	if !strings.HasPrefix(r.URL.Path, "/api/") {
		h.Set("Cache-Control", "no-cache")
	}
	d.mux.ServeHTTP(w, r)
}

// Authenticate is adminapi.Config.Session: a live session cookie, and on
// anything but GET/HEAD the session's CSRF token in CSRFHeader.
func (d *Dashboard) Authenticate(r *http.Request) error {
	_, err := d.session(r, r.Method != http.MethodGet && r.Method != http.MethodHead)
	return err
}

func (d *Dashboard) session(r *http.Request, write bool) (accounts.Session, error) {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return accounts.Session{}, accounts.ErrNoSession
	}
	sess, err := d.acc.Session(r.Context(), c.Value)
	if err != nil {
		return accounts.Session{}, err
	}
	if write && !sess.CSRFMatches(r.Header.Get(CSRFHeader)) {
		return accounts.Session{}, adminapi.ErrCSRF
	}
	return sess, nil
}

type signInRequest struct {
	User     string `json:"user,omitempty"`
	Password string `json:"password,omitempty"`
	// Token is the admin token, for the first sign-in.
	Token string `json:"token,omitempty"`
}

type sessionInfo struct {
	User    string    `json:"user"`
	CSRF    string    `json:"csrf"`
	Expires time.Time `json:"expires"`
	// NeedsUser is true after a token sign-in while no user exists yet.
	NeedsUser bool `json:"needs_user"`
}

type fieldError struct {
	Field string `json:"field"`
	Msg   string `json:"error"`
}

type errorBody struct {
	Error  string       `json:"error"`
	Field  string       `json:"field,omitempty"`
	Errors []fieldError `json:"errors,omitempty"`
}

func fieldErr(field, msg string) errorBody {
	return errorBody{Error: field + ": " + msg, Field: field, Errors: []fieldError{{Field: field, Msg: msg}}}
}

func (d *Dashboard) signIn(w http.ResponseWriter, r *http.Request) {
	// JSON only: a cross-site form cannot send it without a CORS
	// preflight, so no other site can sign a browser in (login CSRF).
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeJSON(w, http.StatusUnsupportedMediaType, errorBody{Error: "Content-Type must be application/json"})
		return
	}
	var req signInRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: `body must be {"user","password"} or {"token"}`})
		return
	}
	ip := clientIP(r)
	userKey := "user:" + strings.ToLower(req.User)
	if req.Token != "" {
		userKey = "token"
	}
	for _, lim := range []struct {
		l   *accounts.Limiter
		key string
	}{{d.byIP, ip}, {d.byUser, userKey}} {
		if ok, wait := lim.l.Allow(lim.key); !ok {
			secs := int(wait.Seconds()) + 1
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			writeJSON(w, http.StatusTooManyRequests, errorBody{Error: fmt.Sprintf("too many failed sign-ins; try again in %d seconds", secs)})
			return
		}
	}
	user, err := d.check(r.Context(), req)
	if err != nil {
		if !errors.Is(err, accounts.ErrBadCredentials) {
			d.log.Error("sign-in failed", "action", "sign_in", "client_ip", ip, "err", err)
			writeJSON(w, http.StatusInternalServerError, errorBody{Error: "internal error"})
			return
		}
		d.byIP.Fail(ip)
		d.byUser.Fail(userKey)
		d.log.Warn("sign-in refused", "action", "sign_in", "client_ip", ip, "user", req.User)
		field, msg := "password", "wrong user name or password"
		if req.Token != "" {
			field, msg = "token", "wrong admin token"
		}
		writeJSON(w, http.StatusUnauthorized, fieldErr(field, msg))
		return
	}
	d.byIP.Reset(ip)
	d.byUser.Reset(userKey)
	sess, err := d.acc.NewSession(r.Context(), user)
	if err != nil {
		d.log.Error("sign-in failed", "action", "sign_in", "client_ip", ip, "err", err)
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: "internal error"})
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: sess.ID, Path: "/", Expires: sess.Expires, MaxAge: int(d.acc.SessionTTL().Seconds()),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
	d.log.Info("signed in", "action", "sign_in", "client_ip", ip, "user", user)
	info, err := d.info(r.Context(), sess)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: "internal error"})
		return
	}
	writeJSON(w, http.StatusOK, info)
}

// check returns the user a sign-in request proves to be.
func (d *Dashboard) check(ctx context.Context, req signInRequest) (string, error) {
	if req.Token != "" {
		got := sha256.Sum256([]byte(strings.TrimSpace(req.Token)))
		if subtle.ConstantTimeCompare(got[:], d.tokenHash[:]) != 1 {
			return "", accounts.ErrBadCredentials
		}
		return accounts.TokenUser, nil
	}
	if err := d.acc.CheckPassword(ctx, req.User, req.Password); err != nil {
		return "", err
	}
	return req.User, nil
}

func (d *Dashboard) info(ctx context.Context, sess accounts.Session) (sessionInfo, error) {
	info := sessionInfo{User: sess.User, CSRF: sess.CSRF, Expires: sess.Expires}
	if sess.User == accounts.TokenUser {
		has, err := d.acc.HasUsers(ctx)
		if err != nil {
			return sessionInfo{}, err
		}
		info.NeedsUser = !has
	}
	return info, nil
}

func (d *Dashboard) whoAmI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	sess, err := d.session(r, false)
	if err != nil {
		writeJSON(w, http.StatusUnauthorized, errorBody{Error: "not signed in"})
		return
	}
	info, err := d.info(r.Context(), sess)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: "internal error"})
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (d *Dashboard) signOut(w http.ResponseWriter, r *http.Request) {
	sess, err := d.session(r, true)
	switch {
	case errors.Is(err, adminapi.ErrCSRF):
		writeJSON(w, http.StatusForbidden, errorBody{Error: err.Error()})
		return
	case err == nil:
		if err := d.acc.EndSession(r.Context(), sess.ID); err != nil {
			d.log.Error("sign-out failed", "action", "sign_out", "err", err)
			writeJSON(w, http.StatusInternalServerError, errorBody{Error: "internal error"})
			return
		}
		d.log.Info("signed out", "action", "sign_out", "user", sess.User)
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

// clientIP is the TCP peer: the dashboard is not behind a proxy that we trust.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		status, data = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}
