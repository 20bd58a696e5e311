package cache

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Object is one stored response.
type Object struct {
	Key    string // full key: base key + variant
	Base   string // base key (scheme, host, path, query)
	Host   string
	Path   string // normalised path, for prefix purges
	Status int
	Header http.Header // end-to-end response headers as stored
	Body   []byte

	// RequestTime and ResponseTime bracket the origin exchange (RFC 9111
	// §4.2.3); StoredAt is when this edge stored or last refreshed it.
	RequestTime, ResponseTime time.Time
	StoredAt                  time.Time

	Policy Policy // the rule in force when it was stored
	Tags   []string
	Vary   []string // canonical header names the response varies on

	// sealed is the object's freshness at ResponseTime, worked out once
	// when the store takes the object (Seal): from then on the object is
	// not changed, and a hit only adds the time since.
	sealed *Freshness
	// wire is Header as the head of a hit carries it, serialised once at
	// Seal (see Wire).
	wire     []byte
	wireDate bool // wire has a Date field
}

// TargetedFields are the response fields meant for the CDN itself; a hit
// never passes them on.
var TargetedFields = []string{"Surrogate-Control", "Surrogate-Key", "Cache-Tag"}

// Wire returns the sealed object's header fields serialised ("Name:
// value\r\n" each) without TargetedFields and the fields a hit sets itself
// (Content-Length, Age, Cache-Status, X-Request-Id), and
// whether they include Date; sealed is false (and fields nil) for an object
// the store has not taken.
func (o *Object) Wire() (fields []byte, hasDate, sealed bool) {
	return o.wire, o.wireDate, o.sealed != nil
}

// hitFields are the fields a hit sets itself.
var hitFields = []string{"Content-Length", "Age", "Cache-Status", "X-Request-Id"}

func (o *Object) serialise() {
	var b []byte
	hasDate := false
	for k, vv := range o.Header {
		if slices.Contains(hitFields, k) || slices.Contains(TargetedFields, k) || !fieldName(k) {
			continue
		}
		hasDate = hasDate || k == "Date"
		for _, v := range vv {
			if strings.ContainsAny(v, "\r\n") {
				continue // never from a parsed response
			}
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, strings.TrimSpace(v)...)
			b = append(b, "\r\n"...)
		}
	}
	o.wire, o.wireDate = b, hasDate
}

func fieldName(k string) bool {
	for i := 0; i < len(k); i++ {
		if c := k[i]; c <= ' ' || c == ':' || c >= 0x7f {
			return false
		}
	}
	return k != ""
}

// Seal works out the parts of the object's freshness that do not change
// with time. The store seals what it takes; a sealed object must not be
// changed (Clone it).
func (o *Object) Seal() {
	o.sealed = nil
	f := o.freshness(o.ResponseTime)
	o.sealed = &f
	o.serialise()
}

// Clone returns an unsealed copy with its own Header.
func (o *Object) Clone() *Object {
	n := *o
	n.sealed, n.wire = nil, nil
	n.Header = o.Header.Clone()
	return &n
}

// Size is what the object costs in memory, roughly.
func (o *Object) Size() int64 {
	n := int64(len(o.Body)) + int64(len(o.Key))*2 + 256
	for k, vv := range o.Header {
		n += int64(len(k))
		for _, v := range vv {
			n += int64(len(v)) + 16
		}
	}
	return n
}

// Policy is the cache rule applied to a request, resolved from the site's
// CachePolicy.
type Policy struct {
	Aggressive bool
	TTL        time.Duration // aggressive: the TTL; standard: the default TTL
	SWR, SIE   time.Duration // rule defaults for stale-while-revalidate / stale-if-error
	Heuristic  bool          // Last-Modified heuristic freshness allowed
}

// Freshness describes a stored response at one moment.
type Freshness struct {
	Lifetime time.Duration
	Age      time.Duration
	// NoCache means every use must be validated first; MustRevalidate
	// forbids serving it stale.
	NoCache, MustRevalidate bool
	SWR, SIE                time.Duration
}

// Fresh reports whether the response can be used without validation.
func (f Freshness) Fresh() bool { return !f.NoCache && f.Age < f.Lifetime }

// Staleness is how long past its lifetime the response is.
func (f Freshness) Staleness() time.Duration { return f.Age - f.Lifetime }

// TTL is how long it stays fresh from now (0 when stale).
func (f Freshness) TTL() time.Duration { return max(f.Lifetime-f.Age, 0) }

// controls returns the directives that govern this cache: CDN-Cache-Control
// (RFC 9213) when present, else Surrogate-Control (the directives targeted
// at this cache), else Cache-Control. A targeted field replaces
// Cache-Control entirely, as RFC 9213 §2.1 says: the origin spoke to the
// CDN directly.
func controls(h http.Header) (d Directives, targeted bool) {
	if v := h["Cdn-Cache-Control"]; len(v) > 0 {
		return ParseDirectives(v), true
	}
	if v := surrogateLines(h["Surrogate-Control"]); len(v) > 0 {
		return ParseDirectives(v), true
	}
	return ParseDirectives(h["Cache-Control"]), false
}

// heuristicStatus lists the status codes that are cacheable by default (RFC
// 9110 §15.1).
func heuristicStatus(code int) bool {
	switch code {
	case 200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// storableStatus lists the status codes this cache stores with a rule's
// TTL or heuristic freshness; any other final status (400, 500, …) is
// stored only with explicit freshness from the origin, and then only when
// its body does not echo the request (see Reflects).
func storableStatus(code int) bool {
	switch code {
	case 200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// understoodStatus are the codes whose caching semantics this cache knows
// (Cache-Control: must-understand).
func understoodStatus(code int) bool {
	switch code {
	case 200, 203, 204, 206, 300, 301, 302, 303, 304, 307, 308, 400, 403, 404, 405, 410, 414, 500, 501, 502, 503, 504:
		return true
	}
	return false
}

// Storable decides whether a response to a GET may be stored, and for how
// long it is fresh. reqCC is the request's Cache-Control.
func Storable(status int, h http.Header, reqCC Directives, p Policy) (ok bool, why string) {
	if status < 200 || status == 206 || status == 304 || status > 999 {
		return false, "status"
	}
	if reqCC.NoStore {
		return false, "request no-store"
	}
	d, targeted := controls(h)
	if d.NoStore || d.Private {
		return false, "no-store or private"
	}
	if d.MustUnderstand && !understoodStatus(status) {
		return false, "must-understand"
	}
	if !storableStatus(status) {
		// Only what the origin explicitly made fresh.
		if d.MaxAge > 0 || d.SMaxAge > 0 || (!targeted && hasExpires(h)) {
			if _, set := h["Set-Cookie"]; !set {
				return true, ""
			}
		}
		return false, "status"
	}
	cc := d
	if _, set := h["Set-Cookie"]; set {
		return false, "set-cookie"
	}
	if vs := h["Vary"]; len(vs) > 0 {
		for _, f := range varyFields(vs) {
			if f == "*" {
				return false, "vary *"
			}
		}
	}
	if p.Aggressive {
		return true, ""
	}
	if d.MaxAge >= 0 || d.SMaxAge >= 0 || (!targeted && hasExpires(h)) || d.NoCache || cc.NoCache ||
		(!targeted && cc.Public) || (targeted && d.Public) {
		return true, ""
	}
	if p.TTL > 0 && heuristicStatus(status) {
		return true, ""
	}
	// A response with a validator can be stored and revalidated every time
	// (it is stale at once); that saves the body transfer on a 304.
	if heuristicStatus(status) && (h.Get("Etag") != "" || h.Get("Last-Modified") != "") {
		return true, ""
	}
	return false, "no freshness"
}

func hasExpires(h http.Header) bool {
	_, ok := h["Expires"]
	return ok
}

// Freshness computes a stored object's freshness at now.
func (o *Object) Freshness(now time.Time) Freshness {
	if o.sealed != nil {
		f := *o.sealed
		if f.Age < maxDelta {
			f.Age += now.Sub(o.ResponseTime)
		}
		return f
	}
	return o.freshness(now)
}

func (o *Object) freshness(now time.Time) Freshness {
	h := o.Header
	d, targeted := controls(h)
	cc := d
	f := Freshness{Age: o.age(now), SWR: -1, SIE: -1}
	switch {
	case o.Policy.Aggressive && storableStatus(o.Status):
		f.Lifetime = o.Policy.TTL
	case d.SMaxAge >= 0 && !targeted:
		f.Lifetime = d.SMaxAge
	case d.MaxAge >= 0:
		f.Lifetime = d.MaxAge
	case !targeted && hasExpires(h):
		exp, ok := parseHTTPDate(h.Get("Expires"))
		date, dok := parseHTTPDate(h.Get("Date"))
		if !dok {
			date = o.ResponseTime
		}
		if ok {
			f.Lifetime = exp.Sub(date)
		}
		// An invalid Expires ("0") means already expired.
	case o.Policy.TTL > 0 && storableStatus(o.Status):
		f.Lifetime = o.Policy.TTL
	case o.Policy.Heuristic && (cc.Public || heuristicStatus(o.Status)):
		// Heuristic freshness: 10% of the time since Last-Modified, at
		// most a day (RFC 9111 §4.2.2).
		if lm, ok := parseHTTPDate(h.Get("Last-Modified")); ok {
			date, dok := parseHTTPDate(h.Get("Date"))
			if !dok {
				date = o.ResponseTime
			}
			if since := date.Sub(lm); since > 0 {
				f.Lifetime = min(since/10, 24*time.Hour)
			}
		}
	}
	if f.Lifetime < 0 {
		f.Lifetime = 0
	}
	if !o.Policy.Aggressive || !storableStatus(o.Status) {
		f.NoCache = d.NoCache || cc.NoCache
		f.MustRevalidate = d.MustRevalidate || cc.MustRevalidate || cc.ProxyRevalidate || (!targeted && d.SMaxAge >= 0)
	}
	f.SWR, f.SIE = d.StaleWhileRevalidate, d.StaleIfError
	if f.SWR < 0 && o.Policy.SWR > 0 {
		f.SWR = o.Policy.SWR
	}
	if f.SIE < 0 && o.Policy.SIE > 0 {
		f.SIE = o.Policy.SIE
	}
	return f
}

// age is RFC 9111 §4.2.3's current_age.
func (o *Object) age(now time.Time) time.Duration {
	ageValue, ok := parseAge(o.Header)
	if !ok {
		return maxDelta // an invalid Age: stale
	}
	date, ok := parseHTTPDate(o.Header.Get("Date"))
	if !ok {
		date = o.ResponseTime
	}
	apparent := max(o.ResponseTime.Sub(date), 0)
	delay := o.ResponseTime.Sub(o.RequestTime)
	corrected := ageValue + delay
	initial := max(apparent, corrected)
	resident := now.Sub(o.ResponseTime)
	return initial + resident
}

// varyFields lists the field names in Vary lines, canonicalised.
func varyFields(lines []string) []string {
	var out []string
	for _, l := range lines {
		for f := range strings.SplitSeq(l, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			if f == "*" {
				out = append(out, "*")
				continue
			}
			out = append(out, http.CanonicalHeaderKey(f))
		}
	}
	return out
}

// Reflects reports whether an error response's body repeats a value the
// client sent in a request header (or a cookie), other than Host: such a
// page says something about one client and is never stored, so a
// poisoned header cannot reach anyone else. Short values (under 6 bytes)
// are ignored.
func Reflects(reqHeader http.Header, body []byte) bool {
	for k, vv := range reqHeader {
		if k == "Host" {
			continue
		}
		for _, v := range vv {
			if reflected(body, v) {
				return true
			}
			if k == "Cookie" {
				for part := range strings.SplitSeq(v, ";") {
					if _, val, ok := strings.Cut(part, "="); ok && reflected(body, val) {
						return true
					}
				}
			}
		}
	}
	return false
}

func reflected(body []byte, v string) bool {
	v = strings.TrimSpace(v)
	return len(v) >= 6 && bytes.Contains(body, []byte(v))
}
