// Package proxy is the edge's request path: it finds the site by Host,
// applies the site's HTTP policy and redirects, and forwards the request to
// the site's origin, writing one access-log entry per request.
package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/accesslog"
	"github.com/rampart-edge/rampart/edgeagent/cache"
	"github.com/rampart-edge/rampart/edgeagent/catalog"
	"github.com/rampart-edge/rampart/edgeagent/ratelimit"
	"github.com/rampart-edge/rampart/edgeagent/realip"
)

// Config configures the request path.
type Config struct {
	Catalog *catalog.Catalog
	Log     *accesslog.Logger
	// AllowPrivateOrigins lets origins resolve to loopback and private
	// addresses (the lab). Off in production, so a site cannot point the edge
	// at its own admin port or the mesh.
	AllowPrivateOrigins   bool
	DialTimeout           time.Duration
	ResponseHeaderTimeout time.Duration
	// OriginClientCert is presented to https origins (mTLS origin pull).
	OriginClientCert *tls.Certificate
	// WAF, when set, inspects every request before the origin is contacted.
	WAF WAF
	// ClientIP decides who the client is (trusted proxies); nil trusts no
	// one: the client is the TCP peer.
	ClientIP *realip.Resolver
	// Limiter counts requests for the sites' rate limits (per node); nil
	// gets a limiter of the default size.
	Limiter *ratelimit.Limiter
	// Observer, when set, sees every request's entry once it is done
	// (metrics).
	Observer Observer
	// RedactParams are query parameters whose values the access log hides;
	// nil means accesslog.DefaultRedactParams.
	RedactParams []string
	// Cache, when set, stores and serves responses for sites whose cache
	// policy allows it (see cached.go).
	Cache *cache.Store
	// Challenges, when set, answers ACME HTTP-01 challenges on plain HTTP
	// for every site (see challenge.go).
	Challenges Challenges
}

// WAF is the firewall step of the request path (see edgeagent/wafgate).
type WAF interface {
	// Request runs before the origin is contacted. When proceed is false it
	// has answered the client (block, challenge, tarpit) and filled in e.
	// check, when not nil, sees the origin's response before the client does.
	Request(w http.ResponseWriter, r *http.Request, site *catalog.Site, e *accesslog.Entry) (check ResponseCheck, proceed bool)
}

// Observer is told about every finished request.
type Observer interface {
	Observe(e *accesslog.Entry)
}

// ResponseCheck inspects one request's response.
type ResponseCheck interface {
	// Response returns false when resp must not reach the client. It may
	// replace resp.Body (with one that yields the same bytes).
	Response(resp *http.Response, e *accesslog.Entry) bool
	// Done is called once the request is over.
	Done()
}

// Handler serves client requests.
type Handler struct {
	cfg        Config
	pools      pools
	transports transports // for protocol upgrades only
	inFlight   atomic.Int64
	requests   atomic.Uint64
	cacheStats cacheStats
}

// New returns a handler.
func New(cfg Config) *Handler {
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.ResponseHeaderTimeout == 0 {
		cfg.ResponseHeaderTimeout = 60 * time.Second
	}
	if cfg.RedactParams == nil {
		cfg.RedactParams = accesslog.DefaultRedactParams()
	}
	if cfg.Limiter == nil {
		cfg.Limiter = ratelimit.New(ratelimit.Config{})
	}
	return &Handler{cfg: cfg, pools: pools{cfg: cfg}, transports: transports{cfg: cfg}}
}

// InFlight returns the number of requests being served.
func (h *Handler) InFlight() int64 { return h.inFlight.Load() }

// Requests returns the number of requests served since start.
func (h *Handler) Requests() uint64 { return h.requests.Load() }

// Close drops idle origin connections.
func (h *Handler) Close() {
	h.pools.closeIdle()
	h.transports.closeIdle()
}

// Actions recorded in the access log.
const (
	ActionProxy       = "proxy"
	ActionRedirect    = "redirect"
	ActionHTTPS       = "https_redirect"
	ActionMisdirected = "misdirected"
	ActionOriginError = "origin_error"
	ActionBadRequest  = "bad_request"
	ActionWAF         = "waf" // answered by the WAF; waf_action says how
	ActionRateLimited = "rate_limited"
	ActionTooLarge    = "body_too_large"
)

var entryPool = sync.Pool{New: func() any { return new(accesslog.Entry) }}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	h.inFlight.Add(1)
	defer h.inFlight.Add(-1)
	h.requests.Add(1)

	client := h.cfg.ClientIP.Resolve(r.RemoteAddr, r.Header["X-Forwarded-For"])
	// The entry is the request's until the log and the observers have
	// read it: no goroutine keeps it, so it goes back to a pool (its
	// ~450 bytes were the largest allocation of a proxied request). Every
	// field is set here, so a pooled entry needs no clearing.
	e := entryPool.Get().(*accesslog.Entry)
	*e = accesslog.Entry{
		Time:         start,
		ReqID:        newRequestID(),
		Method:       r.Method,
		Path:         r.URL.Path,
		Proto:        r.Proto,
		ClientIP:     client.IP,
		ClientAddr:   client.Addr,
		ForwardedFor: client.Chain,
		BytesIn:      max(r.ContentLength, 0),
	}
	if r.TLS != nil {
		e.TLSVersion = tls.VersionName(r.TLS.Version)
		e.TLSCipher = tls.CipherSuiteName(r.TLS.CipherSuite)
	}
	if r.URL.RawQuery != "" {
		e.Query = accesslog.RedactQuery(r.URL.RawQuery, h.cfg.RedactParams)
	}
	defer func() {
		e.Duration = time.Since(start)
		if h.cfg.Log != nil {
			h.cfg.Log.Log(e)
		}
		if h.cfg.Observer != nil {
			h.cfg.Observer.Observe(e)
		}
		entryPool.Put(e)
	}()

	host := canonicalHost(r.Host)
	e.Site = host
	site := h.cfg.Catalog.Load().Site(host)
	if site == nil || (r.TLS != nil && !strings.EqualFold(r.TLS.ServerName, host)) {
		// A Host this edge does not serve, or one that differs from the TLS
		// name the connection was opened for (domain fronting).
		e.Action, e.Status = ActionMisdirected, http.StatusMisdirectedRequest
		WriteError(w, e, "misdirected request: this edge does not serve that host on this connection")
		return
	}

	if r.TLS == nil && h.serveChallenge(w, r, e) {
		return
	}
	if r.TLS == nil && site.HTTPS.HTTPMode() != api.HTTPAllow {
		e.Action = ActionHTTPS
		e.Status = redirectStatus(r.Method, 0)
		h.redirect(w, e, "https://"+host+r.URL.RequestURI())
		return
	}
	if r.TLS != nil && site.HSTS != "" {
		w.Header().Set("Strict-Transport-Security", site.HSTS)
	}
	if to, status, ok := matchRedirect(site, r); ok {
		e.Action, e.Status = ActionRedirect, status
		h.redirect(w, e, to)
		return
	}
	h.forward(w, r, site, e)
}

func (h *Handler) redirect(w http.ResponseWriter, e *accesslog.Entry, to string) {
	hd := w.Header()
	hd.Set("Location", to)
	hd.Set("X-Request-ID", e.ReqID)
	hd.Set("Content-Length", "0")
	w.WriteHeader(e.Status)
}

// WriteError answers with the edge's plain-text error page for e.Status:
// the status text, msg and the request id (also in X-Request-ID), never
// cached. The WAF gate uses it too.
func WriteError(w http.ResponseWriter, e *accesslog.Entry, msg string) {
	body := http.StatusText(e.Status) + "\n" + msg + "\nrequest id: " + e.ReqID + "\n"
	hd := w.Header()
	hd.Set("Content-Type", "text/plain; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Request-ID", e.ReqID)
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.Status)
	n, _ := io.WriteString(w, body)
	e.BytesOut = int64(n)
}

func (h *Handler) forward(w http.ResponseWriter, r *http.Request, site *catalog.Site, e *accesslog.Entry) {
	if site.RateLimit != nil {
		if d := site.RateLimit.Check(h.cfg.Limiter, r, e.ClientAddr, e.Time); d.Limited {
			e.Action, e.Status, e.RateLimitRule = ActionRateLimited, http.StatusTooManyRequests, d.Rule
			d.SetHeaders(w.Header())
			WriteError(w, e, "rate limit exceeded: retry after the number of seconds in Retry-After")
			return
		}
	}
	var check ResponseCheck
	if h.cfg.WAF != nil {
		var proceed bool
		if check, proceed = h.cfg.WAF.Request(w, r, site, e); !proceed {
			return
		}
		if check != nil {
			defer check.Done()
		}
	}
	if isUpgrade(r.Header) {
		h.forwardUpgrade(w, r, site, e)
		return
	}
	if h.cfg.Cache != nil && site.Cache != nil {
		if h.serveCached(w, r, site, e, check) {
			return
		}
	}
	out := h.outboundRequest(r, e)
	replayable := r.Body == nil || r.Body == http.NoBody
	if !replayable && r.ContentLength > 0 && r.ContentLength <= maxReplayBody {
		// A small body is read first, so the request can be sent again
		// when a pooled connection turns out to be closed.
		buf := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(out.Body, buf); err != nil {
			h.writeClientBodyError(w, r, e, err)
			return
		}
		out.Body = io.NopCloser(bytes.NewReader(buf))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
		replayable = true
	}
	originStart := time.Now()
	resp, err := h.roundTripOrigins(out, site, e, replayable)
	if err != nil {
		e.OriginDuration = time.Since(originStart)
		h.writeOriginError(w, r, e, err)
		return
	}
	if h.cfg.Cache != nil && !isSafeMethod(r.Method) && resp.StatusCode < 400 && !site.Cache.Off() {
		h.invalidate(r, site, resp)
	}
	defer resp.Body.Close()
	e.Action, e.UpstreamStatus, e.Status = ActionProxy, resp.StatusCode, resp.StatusCode
	if check != nil && !check.Response(resp, e) {
		e.OriginDuration = time.Since(originStart)
		e.Action, e.Status = ActionWAF, http.StatusBadGateway
		WriteError(w, e, "the origin's response was blocked by the site's firewall")
		return
	}

	hd := w.Header()
	copyHeader(hd, resp.Header)
	hd.Set("X-Request-ID", e.ReqID)
	for k := range resp.Trailer {
		hd.Add("Trailer", k)
	}
	w.WriteHeader(resp.StatusCode)
	e.OriginDuration = time.Since(originStart)

	bp := bufPool.Get().(*[]byte)
	n, cerr := copyBody(w, resp.Body, *bp, resp.ContentLength < 0)
	bufPool.Put(bp)
	e.BytesOut = n
	if cerr != nil {
		e.Err = "copy response: " + cerr.Error()
	}
	for k, vv := range resp.Trailer {
		hd[http.TrailerPrefix+k] = vv
	}
}

// roundTripOrigins sends out to the site's origins in failover order: the
// next origin is tried only when a connection to one cannot be made.
func (h *Handler) roundTripOrigins(out *http.Request, site *catalog.Site, e *accesslog.Entry, replayable bool) (*http.Response, error) {
	var resp *http.Response
	var err error
	for i := range site.Origins {
		o := &site.Origins[i]
		e.Origin = o.Addr
		var pool *originPool
		pool, err = h.pools.get(o)
		if err != nil {
			break
		}
		out.URL.Scheme, out.URL.Host, out.Host = o.Scheme, o.Addr, o.HostHeader
		resp, err = pool.roundTrip(out, replayable)
		var de *dialError
		if err == nil || !errors.As(err, &de) {
			break
		}
	}
	return resp, err
}

// writeClientBodyError answers a request whose own body could not be
// read: too large (413), too slow (408), or broken framing (400).
func (h *Handler) writeClientBodyError(w http.ResponseWriter, r *http.Request, e *accesslog.Entry, err error) {
	berr := clientBodyError(r)
	if berr == nil {
		berr = err
	}
	e.Action, e.Err, e.Status = ActionBadRequest, berr.Error(), http.StatusBadRequest
	msg := "the request body could not be read"
	if mbe := (*http.MaxBytesError)(nil); errors.As(berr, &mbe) {
		e.Action, e.Status = ActionTooLarge, http.StatusRequestEntityTooLarge
		msg = "the request body is larger than this edge accepts"
	} else if isTimeout(berr) {
		e.Status = http.StatusRequestTimeout
		msg = "the request body did not arrive in time"
	}
	w.Header().Set("Connection", "close")
	WriteError(w, e, msg)
}

// maxReplayBody is the largest request body read before forwarding, so the
// request can be retried on a fresh connection.
const maxReplayBody = 64 << 10

// writeOriginError answers a request whose origin exchange failed: the
// client's own body (400, 408, 413), the client leaving (499, nothing
// written), or the origin (502, 504).
func (h *Handler) writeOriginError(w http.ResponseWriter, r *http.Request, e *accesslog.Entry, err error) {
	if clientBodyError(r) != nil {
		h.writeClientBodyError(w, r, e, err)
		return
	}
	if errors.Is(r.Context().Err(), context.Canceled) {
		e.Action, e.Status, e.Err = ActionOriginError, 499, "client went away"
		return
	}
	e.Action, e.Err = ActionOriginError, err.Error()
	e.Status = http.StatusBadGateway
	msg := "the origin could not be reached"
	if isTimeout(err) {
		e.Status = http.StatusGatewayTimeout
		msg = "the origin did not answer in time"
	}
	WriteError(w, e, msg)
}

// outboundRequest builds the request to the origin: hop-by-hop headers and
// client-supplied forwarding headers are dropped, ours are set.
func (h *Handler) outboundRequest(r *http.Request, e *accesslog.Entry) *http.Request {
	hdr := make(http.Header, len(r.Header)+6)
	connTokens := r.Header["Connection"]
	for k, vv := range r.Header {
		if isHopHeader(k) || isForwardingHeader(k) || (len(connTokens) > 0 && namedInConnection(connTokens, k)) {
			continue
		}
		hdr[k] = vv
	}
	// One slice for the three client headers: nothing downstream mutates it.
	ip := []string{e.ClientIP}
	hdr["X-Forwarded-For"], hdr["X-Real-Ip"], hdr["True-Client-Ip"] = ip, ip, ip
	if e.ForwardedFor != e.ClientIP {
		hdr["X-Forwarded-For"] = []string{e.ForwardedFor}
	}
	hdr["X-Forwarded-Host"] = []string{r.Host}
	if r.TLS != nil {
		hdr["X-Forwarded-Proto"] = protoHTTPS
	} else {
		hdr["X-Forwarded-Proto"] = protoHTTP
	}
	hdr["X-Request-Id"] = []string{e.ReqID}
	if _, ok := hdr["User-Agent"]; !ok {
		hdr["User-Agent"] = emptyUA // keep Go's transport from adding its own
	}
	// Copying the incoming request keeps its context without the extra
	// allocation of WithContext; every field Request.Write reads is set.
	out := new(http.Request)
	*out = *r
	out.URL = &url.URL{Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	out.Proto, out.ProtoMajor, out.ProtoMinor = "HTTP/1.1", 1, 1
	out.Header = hdr
	out.Close = false
	out.TransferEncoding = nil // recomputed from ContentLength by Request.Write
	out.Trailer = nil
	out.RequestURI = ""
	out.TLS = nil
	if r.ContentLength == 0 {
		out.Body = nil
	}
	return out
}

var (
	protoHTTPS = []string{"https"}
	protoHTTP  = []string{"http"}
	emptyUA    = []string{""}
)

// forwardUpgrade hands protocol upgrades (WebSocket) to httputil.ReverseProxy,
// which knows how to splice the two connections.
func (h *Handler) forwardUpgrade(w http.ResponseWriter, r *http.Request, site *catalog.Site, e *accesslog.Entry) {
	o := &site.Origins[0]
	tr, err := h.transports.get(o)
	if err != nil {
		e.Action, e.Status, e.Err = ActionOriginError, http.StatusBadGateway, err.Error()
		WriteError(w, e, "the origin could not be reached")
		return
	}
	e.Origin, e.Action = o.Addr, ActionProxy
	rp := &httputil.ReverseProxy{
		Transport: tr,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host, pr.Out.Host = o.Scheme, o.Addr, o.HostHeader
			for k := range pr.Out.Header {
				if isForwardingHeader(k) {
					delete(pr.Out.Header, k)
				}
			}
			pr.Out.Header.Set("X-Forwarded-For", e.ForwardedFor)
			pr.Out.Header.Set("X-Real-Ip", e.ClientIP)
			pr.Out.Header.Set("True-Client-Ip", e.ClientIP)
			pr.Out.Header.Set("X-Forwarded-Host", r.Host)
			pr.Out.Header.Set("X-Forwarded-Proto", map[bool]string{true: "https", false: "http"}[r.TLS != nil])
			pr.Out.Header.Set("X-Request-Id", e.ReqID)
		},
		ModifyResponse: func(resp *http.Response) error {
			e.UpstreamStatus, e.Status = resp.StatusCode, resp.StatusCode
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			e.Action, e.Status, e.Err = ActionOriginError, http.StatusBadGateway, err.Error()
			WriteError(w, e, "the origin could not be reached")
		},
		ErrorLog: nil,
	}
	rp.ServeHTTP(w, r)
}

func copyBody(w http.ResponseWriter, body io.Reader, buf []byte, flush bool) (int64, error) {
	var written int64
	var rc *http.ResponseController // only streams of unknown length are flushed
	if flush {
		rc = http.NewResponseController(w)
	}
	for {
		nr, rerr := body.Read(buf)
		if nr > 0 {
			nw, werr := w.Write(buf[:nr])
			written += int64(nw)
			if werr != nil {
				return written, werr
			}
			if flush {
				_ = rc.Flush()
			}
		}
		if rerr == io.EOF {
			return written, nil
		}
		if rerr != nil {
			return written, rerr
		}
	}
}

func copyHeader(dst, src http.Header) {
	connTokens := src["Connection"]
	for k, vv := range src {
		if isHopHeader(k) || (len(connTokens) > 0 && namedInConnection(connTokens, k)) {
			continue
		}
		dst[k] = vv
	}
}

func isHopHeader(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Expect":
		return true
	}
	return false
}

// isForwardingHeader names headers a client could use to impersonate the
// edge's view of the request; the edge always sets its own.
func isForwardingHeader(k string) bool {
	switch k {
	case "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port", "Forwarded",
		"X-Real-Ip", "True-Client-Ip", "X-Request-Id":
		return true
	}
	return false
}

func namedInConnection(tokens []string, k string) bool {
	for _, v := range tokens {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), k) {
				return true
			}
		}
	}
	return false
}

func isUpgrade(h http.Header) bool {
	return h.Get("Upgrade") != "" && namedInConnection(h["Connection"], "Upgrade")
}

// clientBodyError returns the error reading the client's request body, if
// that is what failed. Request.Write hides the body's error behind a type
// without Unwrap, so ask the body: edgeagent/admission's Body remembers it.
// (Probing Go's own body with a read could block on a slow client.)
func clientBodyError(r *http.Request) error {
	if b, ok := r.Body.(interface{ Err() error }); ok {
		return b.Err()
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// canonicalHost lower-cases the Host header and drops its port.
func canonicalHost(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	for i := 0; i < len(h); i++ {
		if c := h[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
}

func newRequestID() string {
	var b [16]byte
	a, c := rand.Uint64(), rand.Uint64()
	for i := range 8 {
		b[i], b[8+i] = byte(a>>(8*i)), byte(c>>(8*i))
	}
	return hex.EncodeToString(b[:])
}

func redirectStatus(method string, configured int) int {
	if configured != 0 {
		return configured
	}
	if method == http.MethodGet || method == http.MethodHead {
		return http.StatusMovedPermanently
	}
	return http.StatusPermanentRedirect
}

// matchRedirect finds the first redirect rule for the request path. Paths
// are matched in their escaped form, so the suffix carried over is still
// escaped when it lands in Location.
func matchRedirect(site *catalog.Site, r *http.Request) (to string, status int, ok bool) {
	p := r.URL.EscapedPath()
	for _, rd := range site.Redirects {
		prefix, isPrefix := strings.CutSuffix(rd.Path, "*")
		switch {
		case isPrefix && strings.HasPrefix(p, prefix):
			to = rd.To
			if rd.KeepSuffix {
				to = joinSuffix(to, p[len(prefix):])
			}
		case !isPrefix && p == rd.Path:
			to = rd.To
		default:
			continue
		}
		if r.URL.RawQuery != "" && !strings.Contains(to, "?") {
			to += "?" + r.URL.RawQuery
		}
		return to, redirectStatus(r.Method, rd.Status), true
	}
	return "", 0, false
}

// joinSuffix appends what a prefix rule left over as a path below to. The
// suffix can never change the target's host: leading slashes and
// backslashes are dropped ("/old//evil.example" must not become
// "//evil.example") and a separator is always put in between
// ("https://docs.example.com" + "@evil.example" must not become a userinfo).
func joinSuffix(to, suffix string) string {
	suffix = strings.TrimLeft(suffix, "/\\")
	if suffix == "" {
		return to
	}
	if !strings.HasSuffix(to, "/") {
		to += "/"
	}
	return to + suffix
}
