// Package admission decides, before any site work, whether the edge takes a
// request at all: a global cap on requests in flight (past it requests are
// shed with 503, cheaply, so the node stays up and its admin listener keeps
// answering) and a cap on request bodies (413).
package admission

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rampart-edge/rampart/edgeagent/accesslog"
	"github.com/rampart-edge/rampart/edgeagent/framing"
)

// Access-log actions of this package.
const (
	ActionShed     = "shed"
	ActionTooLarge = "body_too_large"
	// ActionBadFraming is a request refused by edgeagent/framing: its
	// framing was ambiguous, or one before it on the connection was.
	ActionBadFraming = "bad_framing"
)

// Config sets the caps; a zero cap is no cap.
type Config struct {
	// MaxInFlight is how many requests may be served at once.
	MaxInFlight int64
	// MaxBodyBytes is the largest request body accepted. A declared
	// Content-Length over it is refused at once; a chunked body is cut off
	// when it reaches it (the proxy then answers 413).
	MaxBodyBytes int64
	// BodyIdleTimeout bounds the silence between reads of a request body
	// (slow-POST attacks); the proxy then answers 408. 0 is no bound.
	BodyIdleTimeout time.Duration
	// Log, when set, gets a line for every refused request.
	Log *accesslog.Logger
	// Observer, when set, is told about every refused request (metrics).
	Observer interface{ Observe(*accesslog.Entry) }
}

// Handler guards next.
type Handler struct {
	cfg      Config
	next     http.Handler
	inFlight atomic.Int64
	shed     atomic.Uint64
}

// New returns a handler that admits requests to next.
func New(cfg Config, next http.Handler) *Handler {
	return &Handler{cfg: cfg, next: next}
}

// InFlight returns the number of requests admitted and not finished.
func (h *Handler) InFlight() int64 { return h.inFlight.Load() }

// Shed returns how many requests were refused for the in-flight cap.
func (h *Handler) Shed() uint64 { return h.shed.Load() }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if ok, why := framing.Admit(r); !ok {
		// Never forwarded: the origin (or a proxy in front of the edge)
		// could frame it differently. Nothing after it on the connection
		// is served either.
		w.Header().Set("Connection", "close")
		h.refuse(w, r, http.StatusBadRequest, ActionBadFraming, "the request's framing is not accepted: "+why)
		return
	}
	n := h.inFlight.Add(1)
	defer h.inFlight.Add(-1)
	if h.cfg.MaxInFlight > 0 && n > h.cfg.MaxInFlight {
		h.shed.Add(1)
		w.Header().Set("Retry-After", "1")
		h.refuse(w, r, http.StatusServiceUnavailable, ActionShed, "the edge is overloaded; retry shortly")
		return
	}
	if max := h.cfg.MaxBodyBytes; max > 0 && r.Body != nil && r.Body != http.NoBody {
		if r.ContentLength > max {
			w.Header().Set("Connection", "close") // the body stays unread
			h.refuse(w, r, http.StatusRequestEntityTooLarge, ActionTooLarge, "the request body is larger than this edge accepts")
			return
		}
		b := &Body{rc: r.Body, left: max, max: max}
		if h.cfg.BodyIdleTimeout > 0 {
			b.ctl, b.idle = http.NewResponseController(w), h.cfg.BodyIdleTimeout
		}
		r.Body = b
	}
	h.next.ServeHTTP(w, r)
}

// Body is a request body under the edge's size limit. Past the limit it
// returns *http.MaxBytesError. It remembers the error that ended reading,
// so the proxy can tell a client's fault (413, 400) from an origin's even
// where the error was wrapped beyond recognition (Request.Write does that).
type Body struct {
	rc        io.ReadCloser
	left, max int64
	err       error
	ctl       *http.ResponseController // set with an idle timeout
	idle      time.Duration
}

// Read reads from the client's body.
func (b *Body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1] // one byte more tells whether the limit is passed
	}
	if b.ctl != nil {
		b.ctl.SetReadDeadline(time.Now().Add(b.idle))
	}
	n, err := b.rc.Read(p)
	if int64(n) > b.left {
		n, err = int(b.left), &http.MaxBytesError{Limit: b.max}
	}
	b.left -= int64(n)
	if err == io.EOF && b.ctl != nil {
		// The body is complete: the deadline must not cut the connection
		// while the origin takes its time to answer. (After an error it
		// stays, so closing the body cannot wait on the client again.)
		b.ctl.SetReadDeadline(time.Time{})
	}
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// Close closes the client's body.
func (b *Body) Close() error { return b.rc.Close() }

// Err returns the error that ended reading the body, other than io.EOF.
func (b *Body) Err() error { return b.err }

func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, status int, action, msg string) {
	hd := w.Header()
	hd.Set("Content-Type", "text/plain; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	n, _ := io.WriteString(w, http.StatusText(status)+"\n"+msg+"\n")
	if h.cfg.Log == nil && h.cfg.Observer == nil {
		return
	}
	e := accesslog.Entry{Time: time.Now(), Site: hostOnly(r.Host), Method: r.Method, Path: r.URL.Path, Proto: r.Proto,
		ClientIP: hostOnly(r.RemoteAddr), Status: status, Action: action, BytesIn: max(r.ContentLength, 0), BytesOut: int64(n)}
	if h.cfg.Log != nil {
		h.cfg.Log.Log(&e)
	}
	if h.cfg.Observer != nil {
		e.Site = "" // the Host as sent: no site was looked up
		h.cfg.Observer.Observe(&e)
	}
}

// hostOnly drops a :port and IPv6 brackets.
func hostOnly(hp string) string {
	if i := strings.LastIndexByte(hp, ':'); i >= 0 && !strings.Contains(hp[i:], "]") {
		hp = hp[:i]
	}
	return strings.Trim(hp, "[]")
}
