package proxy

import (
	"bytes"
	"cmp"
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/accesslog"
	"github.com/rampart-edge/rampart/edgeagent/cache"
	"github.com/rampart-edge/rampart/edgeagent/catalog"
	"github.com/rampart-edge/rampart/edgeagent/h1"
)

// Cache outcomes, in the access log's "cache" field.
const (
	CacheHit         = "hit"
	CacheStale       = "stale"       // served stale (stale-while-revalidate, stale-if-error, max-stale)
	CacheRevalidated = "revalidated" // stale, the origin answered 304
	CacheMiss        = "miss"        // fetched and stored
	CacheUncacheable = "uncacheable" // fetched, not storable
	CacheBypass      = "bypass"      // the cache was not consulted
)

// Access-log actions for requests the cache answered.
const (
	ActionCacheHit   = "cache_hit"
	ActionCacheStale = "cache_stale"
	ActionCacheMiss  = "cache_miss" // only-if-cached and not in the cache: 504
)

// coalesceWait bounds how long a request waits for another one fetching
// the same object before it goes to the origin itself.
const coalesceWait = 15 * time.Second

// unkeyedHeaders are request headers some origins and frameworks act on
// (rewriting the URL, the host or the method) that are not part of the
// cache key. They never reach the origin on a cacheable request, so they
// cannot poison what other clients get.
var unkeyedHeaders = []string{
	"X-Original-Url", "X-Rewrite-Url", "X-Host", "X-Forwarded-Server", "X-Forwarded-Scheme",
	"X-Forwarded-Ssl", "X-Forwarded-Prefix", "X-Http-Method-Override", "X-Http-Method", "X-Method-Override",
	"X-Original-Host", "X-Forwarded-Uri", "X-Proxyuser-Ip", "X-Forwarded-Protocol", "X-Url-Scheme",
	"Front-End-Https", "X-Forwarded-Path", "X-Backend-Host",
	// Conditionals and ranges: a fill fetches the full object; the cache
	// answers the client's conditional or range itself.
	"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range", "Range",
}

// cacheStats counts outcomes per site for heartbeats and metrics.
type cacheStats struct {
	sites sync.Map // host → *siteCounters
}

type siteCounters struct{ hits, stale, misses, bypass atomic.Uint64 }

func (c *cacheStats) site(host string) *siteCounters {
	if sc, ok := c.sites.Load(host); ok {
		return sc.(*siteCounters)
	}
	sc, _ := c.sites.LoadOrStore(host, &siteCounters{})
	return sc.(*siteCounters)
}

func (h *Handler) countCache(host, outcome string) {
	sc := h.cacheStats.site(host)
	switch outcome {
	case CacheHit:
		sc.hits.Add(1)
	case CacheStale, CacheRevalidated:
		sc.stale.Add(1)
	case CacheMiss:
		sc.misses.Add(1)
	default:
		sc.bypass.Add(1)
	}
}

// CacheCounters returns the cache outcomes since start, in total and for
// the busiest sites (at most api.MaxHeartbeatSites).
func (h *Handler) CacheCounters() (total api.CacheCounters, sites map[string]api.CacheCounters) {
	sites = map[string]api.CacheCounters{}
	type kv struct {
		host string
		c    api.CacheCounters
	}
	var all []kv
	h.cacheStats.sites.Range(func(k, v any) bool {
		host, sc := k.(string), v.(*siteCounters)
		c := api.CacheCounters{Hits: sc.hits.Load(), Stale: sc.stale.Load(), Misses: sc.misses.Load(), Bypass: sc.bypass.Load()}
		total.Hits += c.Hits
		total.Stale += c.Stale
		total.Misses += c.Misses
		total.Bypass += c.Bypass
		all = append(all, kv{host, c})
		return true
	})
	if len(all) > api.MaxHeartbeatSites {
		// Keep the busiest.
		traffic := func(x kv) uint64 { return x.c.Hits + x.c.Stale + x.c.Misses + x.c.Bypass }
		slices.SortFunc(all, func(a, b kv) int { return cmp.Compare(traffic(b), traffic(a)) })
		all = all[:api.MaxHeartbeatSites]
	}
	for _, x := range all {
		sites[x.host] = x.c
	}
	return total, sites
}

func isSafeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions || m == http.MethodTrace
}

var (
	surrogateCapability = []string{cache.SurrogateCapability}
	cacheStatusBypass   = []string{api.CacheStatusName + "; fwd=bypass"}
)

func cacheStatus(parts ...string) string {
	return api.CacheStatusName + "; " + strings.Join(parts, "; ")
}

// serveCached answers a GET or HEAD through the cache. It returns false
// when the request is not the cache's to answer (it then goes to the
// origin as usual).
func (h *Handler) serveCached(w http.ResponseWriter, r *http.Request, site *catalog.Site, e *accesslog.Entry, check ResponseCheck) bool {
	if (r.Method != http.MethodGet && r.Method != http.MethodHead) || site.Cache.Off() {
		return false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	d := site.Cache.Decide(r, scheme, e.Site)
	if !d.Use || r.ContentLength != 0 {
		e.Cache = CacheBypass
		h.countCache(e.Site, CacheBypass)
		w.Header()["Cache-Status"] = cacheStatusBypass
		return false
	}
	store := h.cfg.Cache
	reqCC := cache.ParseDirectives(r.Header["Cache-Control"])
	if !reqCC.Present() && pragmaNoCache(r.Header) {
		reqCC.NoCache = true
	}
	now := store.Now()
	obj := store.Lookup(d.Base, r.Header)
	var f cache.Freshness
	if obj != nil {
		f = obj.Freshness(now)
		switch {
		case usableFresh(f, reqCC):
			h.serveObject(w, r, e, obj, f, CacheHit, cacheStatus("hit", "ttl="+seconds(f.TTL())))
			return true
		case usableStale(f, reqCC):
			h.serveObject(w, r, e, obj, f, CacheStale, cacheStatus("hit", "fwd=stale", "ttl=-"+seconds(f.Staleness())))
			return true
		case check == nil && !reqCC.NoCache && reqCC.MaxAge < 0 && !f.MustRevalidate && !f.NoCache && f.SWR >= 0 && f.Staleness() <= f.SWR:
			// (A site whose WAF inspects responses revalidates in the
			// foreground: a background fetch would skip the inspection.)
			h.revalidateInBackground(r, site, d, obj)
			h.serveObject(w, r, e, obj, f, CacheStale, cacheStatus("hit", "fwd=stale", "ttl=-"+seconds(f.Staleness())))
			return true
		}
	}
	if reqCC.OnlyIfCached {
		e.Action, e.Status, e.Cache = ActionCacheMiss, http.StatusGatewayTimeout, CacheMiss
		w.Header().Set("Cache-Status", cacheStatus("fwd=miss", "detail=only-if-cached"))
		WriteError(w, e, "only-if-cached: the response is not in the cache")
		return true
	}
	if obj == nil && r.Method == http.MethodGet && r.Header.Get("Range") != "" {
		// No full object: a stored partial response may cover the range;
		// otherwise fetch the range, storing the 206 if it may be.
		pd := d
		pd.Base = d.Base + partialSuffix
		if po := store.Lookup(pd.Base, r.Header); po != nil {
			if pf := po.Freshness(now); usableFresh(pf, reqCC) && h.servePartial(w, r, e, po, pf) {
				return true
			}
		}
		h.fill(w, r, site, e, check, pd, reqCC, nil, nil)
		return true
	}
	if obj == nil && r.Method == http.MethodHead {
		// Not worth a fill: pass through; a later GET stores the object.
		e.Cache = CacheUncacheable
		h.countCache(e.Site, CacheUncacheable)
		w.Header().Set("Cache-Status", cacheStatus("fwd=miss"))
		return false
	}

	// Coalesce: one request per key goes to the origin, the others wait
	// for what it stores.
	flightKey := d.Base
	fl, leader := store.Join(flightKey)
	if !leader && fl != nil {
		if fl.Wait(coalesceWait, r.Context().Done()) {
			if o := store.Lookup(d.Base, r.Header); o != nil {
				if of := o.Freshness(store.Now()); usableFresh(of, reqCC) || !reqCC.NoCache && !of.NoCache {
					h.serveObject(w, r, e, o, of, CacheHit, cacheStatus("hit", "ttl="+seconds(of.TTL()), "detail=coalesced"))
					return true
				}
			}
		}
		if r.Context().Err() != nil {
			e.Action, e.Status, e.Err = ActionOriginError, 499, "client went away"
			return true
		}
		fl = nil // fetch alone
	}
	stored := false
	var pass func()
	if fl != nil {
		defer func() { store.Finish(flightKey, fl, stored) }()
		pass = func() { store.Pass(flightKey, fl) }
	}
	stored = h.fill(w, r, site, e, check, d, reqCC, obj, pass)
	return true
}

func pragmaNoCache(h http.Header) bool {
	for _, v := range h["Pragma"] {
		if strings.Contains(strings.ToLower(v), "no-cache") {
			return true
		}
	}
	return false
}

// usableFresh: the stored response satisfies the request without
// contacting the origin.
func usableFresh(f cache.Freshness, req cache.Directives) bool {
	if !f.Fresh() || req.NoCache {
		return false
	}
	if req.MaxAge >= 0 && f.Age > req.MaxAge {
		return false
	}
	if req.MinFresh >= 0 && f.TTL() < req.MinFresh {
		return false
	}
	return true
}

// usableStale: the client accepts a stale response (max-stale) and the
// response allows it.
func usableStale(f cache.Freshness, req cache.Directives) bool {
	if f.Fresh() || f.NoCache || f.MustRevalidate || req.NoCache {
		return false
	}
	if req.MaxAge >= 0 && f.Age > req.MaxAge {
		return false
	}
	return req.MaxStaleAny || (req.MaxStale >= 0 && f.Staleness() <= req.MaxStale)
}

// staleOnError returns obj's freshness at now when it may be served stale
// because the origin failed (stale-if-error from the response, the rule or
// the request), nil otherwise.
func staleOnError(obj *cache.Object, now time.Time, req cache.Directives) *cache.Freshness {
	if obj == nil {
		return nil
	}
	f := obj.Freshness(now)
	if f.MustRevalidate || f.NoCache {
		return nil
	}
	st := f.Staleness()
	if (f.SIE >= 0 && st <= f.SIE) || (req.StaleIfError >= 0 && st <= req.StaleIfError) {
		return &f
	}
	return nil
}

// originRequest builds the request a fill sends: the normalised query,
// no unkeyed or conditional headers, the stored validators when
// revalidating, and a context that outlives the client.
func (h *Handler) originRequest(r *http.Request, e *accesslog.Entry, d cache.Decision, obj *cache.Object) *http.Request {
	out := h.outboundRequest(r, e)
	out.Method = http.MethodGet
	out.URL.RawQuery = d.Query
	for _, k := range unkeyedHeaders {
		delete(out.Header, k)
	}
	// The key holds the canonical host, not the client's Host header (a
	// port, a trailing dot, upper case): the origin must not see more.
	out.Header["X-Forwarded-Host"] = []string{d.Host}
	out.Header["Surrogate-Capability"] = surrogateCapability
	if obj != nil {
		if v := obj.Header.Get("Etag"); v != "" {
			out.Header.Set("If-None-Match", v)
		}
		if v := obj.Header.Get("Last-Modified"); v != "" {
			out.Header.Set("If-Modified-Since", v)
		}
	}
	return out.WithContext(context.WithoutCancel(r.Context()))
}

// fill fetches from the origin (revalidating obj when there is one),
// stores what may be stored and answers the client. It reports whether a
// response was stored.
func (h *Handler) fill(w http.ResponseWriter, r *http.Request, site *catalog.Site, e *accesslog.Entry, check ResponseCheck,
	d cache.Decision, reqCC cache.Directives, obj *cache.Object, pass func()) bool {
	store := h.cfg.Cache
	out := h.originRequest(r, e, d, obj)
	partial := strings.HasSuffix(d.Base, partialSuffix)
	if partial {
		for _, k := range []string{"Range", "If-Range"} {
			if v, ok := r.Header[k]; ok {
				out.Header[k] = v
			}
		}
	}
	reqTime := store.Now()
	resp, err := h.roundTripOrigins(out, site, e, true)
	respTime := store.Now()
	e.OriginDuration = respTime.Sub(reqTime)
	fwd := "fwd=miss"
	if obj != nil {
		fwd = "fwd=stale"
	}
	if reqCC.NoCache {
		fwd = "fwd=request"
	}
	if err != nil {
		if of := staleOnError(obj, respTime, reqCC); of != nil {
			e.Err = err.Error()
			h.serveObject(w, r, e, obj, *of, CacheStale, cacheStatus("hit", "fwd=stale", "ttl=-"+seconds(of.Staleness()), "detail=origin-error"))
			return false
		}
		e.Cache = CacheMiss
		h.writeOriginError(w, r, e, err)
		return false
	}
	defer resp.Body.Close()
	e.UpstreamStatus = resp.StatusCode
	if resp.StatusCode >= 500 {
		if of := staleOnError(obj, respTime, reqCC); of != nil {
			h.serveObject(w, r, e, obj, *of, CacheStale, cacheStatus("hit", "fwd=stale", "fwd-status="+strconv.Itoa(resp.StatusCode), "ttl=-"+seconds(of.Staleness()), "detail=origin-error"))
			return false
		}
	}
	if obj != nil && resp.StatusCode == http.StatusNotModified {
		fresh := refreshed(obj, resp.Header, reqTime, respTime)
		ok := store.PutFor(fresh, r.Header)
		of := fresh.Freshness(respTime)
		h.serveObject(w, r, e, fresh, of, CacheRevalidated, cacheStatus("fwd=stale", "fwd-status=304", "stored"))
		return ok
	}
	if check != nil && !check.Response(resp, e) {
		e.Action, e.Status, e.Cache = ActionWAF, http.StatusBadGateway, CacheUncacheable
		WriteError(w, e, "the origin's response was blocked by the site's firewall")
		return false
	}

	storable, vary := storableResponse(resp, reqCC, d.Policy, store.MaxObjectBytes(), partial)
	maxBytes := store.MaxObjectBytes()
	hd := w.Header()
	copyHeader(hd, resp.Header)
	dropTargeted(hd)
	hd.Set("X-Request-ID", e.ReqID)
	status := []string{fwd, "fwd-status=" + strconv.Itoa(resp.StatusCode)}
	if storable && resp.ContentLength >= 0 && resp.StatusCode < 400 {
		status = append(status, "stored")
	}
	hd.Set("Cache-Status", cacheStatus(status...))
	e.Action, e.Status = ActionProxy, resp.StatusCode
	if storable {
		e.Cache = CacheMiss
	} else {
		e.Cache = CacheUncacheable
		if pass != nil {
			pass()
		}
	}
	h.countCache(e.Site, e.Cache)
	w.WriteHeader(resp.StatusCode)

	var buf *bytes.Buffer
	if storable {
		buf = bytes.NewBuffer(make([]byte, 0, max(resp.ContentLength, 0)))
	}
	bp := bufPool.Get().(*[]byte)
	n, complete, cerr := teeBody(w, resp.Body, *bp, buf, maxBytes, resp.ContentLength < 0)
	bufPool.Put(bp)
	e.BytesOut = n
	if cerr != nil {
		e.Err = "copy response: " + cerr.Error()
	}
	if !storable || !complete {
		return false
	}
	if partial {
		if a, b, _, _ := contentRange(resp.Header.Get("Content-Range")); int64(buf.Len()) != b-a+1 {
			return false
		}
	}
	return storeResponse(store, d, resp, buf.Bytes(), vary, r.Header, reqTime, respTime)
}

// storableResponse decides whether an origin response may be stored (see
// cache.Storable; a single-range 206 when partial) and returns what it
// varies on.
func storableResponse(resp *http.Response, reqCC cache.Directives, p cache.Policy, maxBytes int64, partial bool) (bool, []string) {
	status := resp.StatusCode
	if partial {
		// A single-range 206 is stored like the 200 it is part of.
		_, _, _, ok := contentRange(resp.Header.Get("Content-Range"))
		if status != http.StatusPartialContent || !ok || len(resp.Header["Content-Range"]) != 1 {
			return false, nil
		}
		status = http.StatusOK
	}
	storable, _ := cache.Storable(status, resp.Header, reqCC, p)
	vary, perClient := varyOf(resp.Header)
	if resp.ContentLength > maxBytes || len(resp.Trailer) > 0 || perClient {
		storable = false
	}
	return storable, vary
}

// storeResponse stores a storable response whose whole body is read — unless
// it is an error page repeating what the client sent.
func storeResponse(store *cache.Store, d cache.Decision, resp *http.Response, body []byte, vary []string, reqHeader http.Header, reqTime, respTime time.Time) bool {
	if resp.StatusCode >= 400 && cache.Reflects(reqHeader, body) {
		return false
	}
	return store.PutFor(&cache.Object{
		Base: d.Base, Host: d.Host, Path: d.Path,
		Status: resp.StatusCode, Header: storedHeader(resp.Header), Body: body,
		RequestTime: reqTime, ResponseTime: respTime, StoredAt: reqTime,
		Policy: d.Policy, Tags: cache.Tags(resp.Header["Surrogate-Key"], resp.Header["Cache-Tag"]),
		Vary: vary,
	}, reqHeader)
}

// teeBody copies the origin's body to the client and, while it fits in
// max, into buf. complete reports that buf holds the whole body. A client
// that goes away does not stop the copy into buf.
func teeBody(w http.ResponseWriter, body io.Reader, chunk []byte, buf *bytes.Buffer, max int64, flush bool) (written int64, complete bool, err error) {
	var rc *http.ResponseController
	if flush {
		rc = http.NewResponseController(w)
	}
	clientOK := true
	for {
		nr, rerr := body.Read(chunk)
		if nr > 0 {
			if buf != nil {
				if int64(buf.Len()+nr) > max {
					buf = nil
				} else {
					buf.Write(chunk[:nr])
				}
			}
			if clientOK {
				nw, werr := w.Write(chunk[:nr])
				written += int64(nw)
				if werr != nil {
					err, clientOK = werr, false
				} else if flush {
					_ = rc.Flush()
				}
			}
			if !clientOK && buf == nil {
				return written, false, err
			}
		}
		if rerr == io.EOF {
			return written, buf != nil, err
		}
		if rerr != nil {
			if err == nil {
				err = rerr
			}
			return written, false, err
		}
	}
}

// storedHeader is what the cache keeps of a response's header: end-to-end
// fields only, without cookies or the origin's request id.
func storedHeader(src http.Header) http.Header {
	h := make(http.Header, len(src))
	copyHeader(h, src)
	delete(h, "Set-Cookie")
	delete(h, "X-Request-Id")
	return h
}

// dropTargeted removes the fields meant for this cache only.
func dropTargeted(h http.Header) {
	for _, k := range cache.TargetedFields {
		delete(h, k)
	}
}

// overlaps reports whether a and b share a field name.
func overlaps(a, b http.Header) bool {
	for k := range a {
		if _, ok := b[k]; ok {
			return true
		}
	}
	return false
}

// copyStored puts obj's fields in h, less the CDN-targeted ones.
func copyStored(h http.Header, obj *cache.Object) {
	for k, vv := range obj.Header {
		h[k] = vv
	}
	dropTargeted(h)
}

// varyOf lists the request headers a response varies on, as the cache
// selects variants by them. Headers the edge sets itself, or removes from
// cacheable requests, are not what the client sent, so they are left out:
// the origin saw the same value (X-Forwarded-Host, X-Forwarded-Proto: host
// and scheme are in the key) or nothing. perClient is true when the
// response varies on a header the edge sets to the client's identity
// (X-Forwarded-For, X-Real-IP, True-Client-IP, X-Request-ID): such a
// response is one client's and is not stored.
func varyOf(h http.Header) (fields []string, perClient bool) {
	for _, l := range h["Vary"] {
		for f := range strings.SplitSeq(l, ",") {
			f = http.CanonicalHeaderKey(strings.TrimSpace(f))
			switch {
			case f == "":
			case f == "X-Forwarded-For" || f == "X-Real-Ip" || f == "True-Client-Ip" || f == "X-Request-Id" || f == "Forwarded":
				perClient = true
			case isForwardingHeader(f) || slices.Contains(unkeyedHeaders, f) && !isConditional(f):
			default:
				fields = append(fields, f)
			}
		}
	}
	return fields, perClient
}

func isConditional(f string) bool {
	switch f {
	case "If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range", "Range":
		return true
	}
	return false
}

// refreshed is obj with the header fields of a 304 applied (RFC 9111
// §3.2): every field the 304 carries replaces the stored one, except the
// ones that describe the body.
func refreshed(obj *cache.Object, h http.Header, reqTime, respTime time.Time) *cache.Object {
	n := obj.Clone()
	for k, vv := range h {
		switch k {
		// The fields that describe the stored body, and its validator,
		// stay as they were (the http-cache-tests header list).
		case "Content-Length", "Content-Encoding", "Transfer-Encoding", "Content-Range", "Content-Md5", "Etag", "Set-Cookie", "X-Request-Id":
			continue
		}
		if isHopHeader(k) {
			continue
		}
		n.Header[k] = vv
	}
	n.RequestTime, n.ResponseTime, n.StoredAt = reqTime, respTime, reqTime
	if _, ok := h["Age"]; !ok {
		delete(n.Header, "Age")
	}
	return n
}

// revalidateInBackground refreshes a stale object while the client is
// served the stale copy (stale-while-revalidate); one refresh per key.
func (h *Handler) revalidateInBackground(r *http.Request, site *catalog.Site, d cache.Decision, obj *cache.Object) {
	store := h.cfg.Cache
	key := d.Base
	fl, leader := store.Join(key)
	if !leader {
		return
	}
	var e accesslog.Entry
	e.ReqID = newRequestID()
	e.ClientIP, e.ForwardedFor, e.Site = "", "", d.Host
	hdr := r.Header.Clone()
	r2 := r.Clone(context.WithoutCancel(r.Context()))
	r2.Header = hdr
	go func() {
		stored := false
		defer func() { store.Finish(key, fl, stored) }()
		out := h.originRequest(r2, &e, d, obj)
		reqTime := store.Now()
		resp, err := h.roundTripOrigins(out, site, &e, true)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		respTime := store.Now()
		switch {
		case resp.StatusCode == http.StatusNotModified:
			stored = store.PutFor(refreshed(obj, resp.Header, reqTime, respTime), hdr)
		case resp.StatusCode < 500:
			ok, vary := storableResponse(resp, cache.ParseDirectives(hdr["Cache-Control"]), d.Policy, store.MaxObjectBytes(), false)
			if !ok {
				store.Remove(obj) // the resource stopped being cacheable
				return
			}
			body, err := io.ReadAll(io.LimitReader(resp.Body, store.MaxObjectBytes()+1))
			if err != nil || int64(len(body)) > store.MaxObjectBytes() {
				return
			}
			stored = storeResponse(store, d, resp, body, vary, hdr, reqTime, respTime)
		}
	}()
}

// serveObject answers from a stored response: conditionals (If-None-Match,
// If-Modified-Since), a single byte range of a 200, HEAD.
func (h *Handler) serveObject(w http.ResponseWriter, r *http.Request, e *accesslog.Entry, obj *cache.Object, f cache.Freshness, outcome, status string) {
	hd := w.Header()
	nm := notModified(r, obj)
	fields, hasDate, sealed := obj.Wire()
	if wf, ok := w.(h1.WireFields); ok && sealed && !nm && len(r.Header["Range"]) == 0 && !overlaps(hd, obj.Header) {
		// The edge's HTTP/1.1 server writes the stored fields as they
		// were serialised when the object was stored.
		wf.SetWireFields(fields, hasDate)
	} else {
		copyStored(hd, obj)
	}
	// The fields a hit sets, in one allocation (canonical keys, no Set).
	vals := []string{seconds(f.Age), status, e.ReqID, ""}
	hd["Age"], hd["Cache-Status"], hd["X-Request-Id"] = vals[0:1:1], vals[1:2:2], vals[2:3:3]
	e.Cache = outcome
	switch outcome {
	case CacheHit:
		e.Action = ActionCacheHit
	case CacheStale:
		e.Action = ActionCacheStale
	default:
		e.Action = ActionProxy
	}
	h.countCache(e.Site, outcome)
	e.Status = obj.Status
	if nm {
		for _, k := range []string{"Content-Length", "Content-Type", "Content-Encoding", "Content-Range", "Transfer-Encoding"} {
			delete(hd, k)
		}
		e.Status = http.StatusNotModified
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := obj.Body
	code := obj.Status
	if code == http.StatusOK && r.Method == http.MethodGet {
		if start, end, ok, unsat := byteRange(r, obj); unsat {
			delete(hd, "Content-Encoding")
			delete(hd, "Content-Length") // the stored body's, not the error's
			hd.Set("Content-Range", "bytes */"+strconv.Itoa(len(body)))
			e.Status = http.StatusRequestedRangeNotSatisfiable
			WriteError(w, e, "the requested range is not satisfiable")
			return
		} else if ok {
			hd.Set("Content-Range", "bytes "+strconv.Itoa(start)+"-"+strconv.Itoa(end-1)+"/"+strconv.Itoa(len(body)))
			body, code = body[start:end], http.StatusPartialContent
		}
	}
	if code != http.StatusNoContent && code != http.StatusNotModified && code >= 200 {
		vals[3] = strconv.Itoa(len(body))
		hd["Content-Length"] = vals[3:4:4]
	}
	e.Status = code
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		n, err := w.Write(body)
		e.BytesOut = int64(n)
		if err != nil {
			e.Err = "write response: " + err.Error()
		}
	}
}

// notModified evaluates If-None-Match, then If-Modified-Since (RFC 9110
// §13.2.2) against a stored 200.
func notModified(r *http.Request, obj *cache.Object) bool {
	if obj.Status != http.StatusOK {
		return false
	}
	if inm := r.Header["If-None-Match"]; len(inm) > 0 {
		etag := obj.Header.Get("Etag")
		if etag == "" {
			return false
		}
		for _, line := range inm {
			for t := range strings.SplitSeq(line, ",") {
				t = strings.TrimSpace(t)
				if t == "*" || weakEqual(t, etag) {
					return true
				}
			}
		}
		return false
	}
	imsField := r.Header["If-Modified-Since"]
	if len(imsField) == 0 {
		return false
	}
	ims, err := http.ParseTime(imsField[0])
	if err != nil {
		return false
	}
	// Without Last-Modified, the Date the origin sent stands in for it
	// (RFC 9110 §13.1.3).
	lm, err := http.ParseTime(obj.Header.Get("Last-Modified"))
	if err != nil {
		if lm, err = http.ParseTime(obj.Header.Get("Date")); err != nil {
			return false
		}
	}
	return !lm.After(ims)
}

func weakEqual(a, b string) bool {
	return strings.TrimPrefix(a, "W/") == strings.TrimPrefix(b, "W/")
}

// byteRange reads a single "bytes=" range. ok is false for no range, a
// multi-range or an If-Range that does not match (the full body is then
// sent); unsat is true when the one range lies outside the body.
func byteRange(r *http.Request, obj *cache.Object) (start, end int, ok, unsat bool) {
	return byteRangeOf(r, obj, len(obj.Body))
}

// byteRangeOf is byteRange for a representation of size bytes.
func byteRangeOf(r *http.Request, obj *cache.Object, size int) (start, end int, ok, unsat bool) {
	spec := r.Header.Get("Range")
	if spec == "" {
		return 0, 0, false, false
	}
	if ir := r.Header.Get("If-Range"); ir != "" {
		etag := obj.Header.Get("Etag")
		if strings.HasPrefix(ir, `"`) {
			if etag == "" || strings.HasPrefix(etag, "W/") || ir != etag {
				return 0, 0, false, false
			}
		} else if ir != obj.Header.Get("Last-Modified") {
			return 0, 0, false, false
		}
	}
	rs, found := strings.CutPrefix(spec, "bytes=")
	if !found || strings.Contains(rs, ",") {
		return 0, 0, false, false
	}
	a, b, found := strings.Cut(strings.TrimSpace(rs), "-")
	if !found {
		return 0, 0, false, false
	}
	if a == "" {
		n, err := strconv.Atoi(b)
		if err != nil || n < 0 {
			return 0, 0, false, false
		}
		if n == 0 {
			return 0, 0, false, true
		}
		return max(size-n, 0), size, true, false
	}
	s, err := strconv.Atoi(a)
	if err != nil || s < 0 {
		return 0, 0, false, false
	}
	if s >= size {
		return 0, 0, false, true
	}
	end = size
	if b != "" {
		e, err := strconv.Atoi(b)
		if err != nil || e < s {
			return 0, 0, false, false
		}
		end = min(e+1, size)
	}
	return s, end, true, false
}

// partialSuffix marks the base key under which a 206 for a URL is kept.
const partialSuffix = "\x00partial"

// contentRange parses "bytes first-last/complete" with a known length.
func contentRange(v string) (first, last, complete int64, ok bool) {
	rest, found := strings.CutPrefix(v, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, total, found := strings.Cut(rest, "/")
	a, b, found2 := strings.Cut(rng, "-")
	if !found || !found2 {
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	first, err1 = strconv.ParseInt(strings.TrimSpace(a), 10, 64)
	last, err2 = strconv.ParseInt(strings.TrimSpace(b), 10, 64)
	complete, err3 = strconv.ParseInt(strings.TrimSpace(total), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || first < 0 || last < first || last >= complete {
		return 0, 0, 0, false
	}
	return first, last, complete, true
}

// servePartial answers a range request from a stored 206 when the range
// lies inside it; false means it does not (nothing was written).
func (h *Handler) servePartial(w http.ResponseWriter, r *http.Request, e *accesslog.Entry, po *cache.Object, f cache.Freshness) bool {
	first, last, complete, ok := contentRange(po.Header.Get("Content-Range"))
	if !ok || complete > 1<<40 {
		return false
	}
	start, end, ok, unsat := byteRangeOf(r, po, int(complete))
	if !ok || unsat || int64(start) < first || int64(end-1) > last {
		return false
	}
	hd := w.Header()
	for k, vv := range po.Header {
		hd[k] = vv
	}
	dropTargeted(hd)
	hd.Set("Age", seconds(f.Age))
	hd.Set("Cache-Status", cacheStatus("hit", "ttl="+seconds(f.TTL())))
	hd.Set("X-Request-ID", e.ReqID)
	hd.Set("Content-Range", "bytes "+strconv.Itoa(start)+"-"+strconv.Itoa(end-1)+"/"+strconv.FormatInt(complete, 10))
	body := po.Body[int64(start)-first : int64(end)-first]
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	e.Action, e.Cache, e.Status = ActionCacheHit, CacheHit, http.StatusPartialContent
	h.countCache(e.Site, CacheHit)
	w.WriteHeader(http.StatusPartialContent)
	n, err := w.Write(body)
	e.BytesOut = int64(n)
	if err != nil {
		e.Err = "write response: " + err.Error()
	}
	return true
}

// invalidate drops stored responses a successful unsafe request may have
// changed: its URL, and Location / Content-Location on the same host (RFC
// 9111 §4.4).
func (h *Handler) invalidate(r *http.Request, site *catalog.Site, resp *http.Response) {
	host := canonicalHost(r.Host)
	targets := []string{r.URL.RequestURI()}
	for _, k := range []string{"Location", "Content-Location"} {
		v := resp.Header.Get(k)
		if v == "" {
			continue
		}
		u, err := r.URL.Parse(v)
		if err != nil || (u.Host != "" && canonicalHost(u.Host) != host) {
			continue
		}
		targets = append(targets, (&url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}).RequestURI())
	}
	for _, t := range targets {
		if pq, ok := site.Cache.PathQuery(t); ok {
			h.cfg.Cache.InvalidateURL(host, pq)
		}
	}
}

func seconds(d time.Duration) string {
	return strconv.FormatInt(int64(max(d, 0)/time.Second), 10)
}
