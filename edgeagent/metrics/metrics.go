// Package metrics counts what the request path did and serves it in the
// Prometheus text format (version 0.0.4) on the admin listener. It is
// written by hand rather than with client_golang: the request path feeds it
// one access-log entry per request, which costs a map lookup and a few
// atomic adds and no allocation once a series exists.
//
// Label values come from the catalog (sites the edge serves), never from
// what a client sent: a request for an unknown Host is counted under
// site="". Series are capped (MaxSeries a family); past the cap new series
// fold into one with site="_other" (and status 0, or rule "_other").
package metrics

import (
	"bufio"
	"cmp"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-edge/rampart/edgeagent/accesslog"
)

// MaxSeries bounds each labelled family.
const MaxSeries = 20000

// OriginBuckets are the upper bounds (seconds) of the origin latency histogram.
var originBuckets = [...]float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// untrustedSite reports whether an action's site is only the Host the
// client sent (it matched no site, or was refused before the lookup).
func untrustedSite(action string) bool { return action == "misdirected" || action == "shed" }

// Metrics is one node's counters. It is safe for concurrent use.
type Metrics struct {
	requests family[reqKey, *atomic.Uint64]
	origin   family[string, *histogram]
	limited  family[ruleKey, *atomic.Uint64]
	wafRules family[ruleKey, *atomic.Uint64]
	cache    family[ruleKey, *atomic.Uint64] // rule is the cache outcome

	gmu    sync.Mutex
	gauges []gauge
}

type reqKey struct {
	site   string
	status int
	action string
}

type ruleKey struct{ site, rule string }

type gauge struct {
	name, help, typ string
	f               func() float64
}

// New returns empty metrics.
func New() *Metrics {
	return &Metrics{
		requests: newFamily[reqKey](func() *atomic.Uint64 { return new(atomic.Uint64) }),
		origin:   newFamily[string](func() *histogram { return new(histogram) }),
		limited:  newFamily[ruleKey](func() *atomic.Uint64 { return new(atomic.Uint64) }),
		wafRules: newFamily[ruleKey](func() *atomic.Uint64 { return new(atomic.Uint64) }),
		cache:    newFamily[ruleKey](func() *atomic.Uint64 { return new(atomic.Uint64) }),
	}
}

// Gauge adds a value read at scrape time (typ "gauge" or "counter").
func (m *Metrics) Gauge(name, help, typ string, f func() float64) {
	m.gmu.Lock()
	defer m.gmu.Unlock()
	m.gauges = append(m.gauges, gauge{name, help, typ, f})
}

// Observe counts one finished request.
func (m *Metrics) Observe(e *accesslog.Entry) {
	site := e.Site
	if untrustedSite(e.Action) {
		site = ""
	}
	m.requests.get(reqKey{site, e.Status, e.Action}, reqKey{site: "_other"}).Add(1)
	if e.Origin != "" && e.OriginDuration > 0 {
		m.origin.get(site, "_other").observe(e.OriginDuration)
	}
	if e.Cache != "" {
		m.cache.get(ruleKey{site, e.Cache}, ruleKey{"_other", "_other"}).Add(1)
	}
	if e.RateLimitRule != "" {
		m.limited.get(ruleKey{site, e.RateLimitRule}, ruleKey{"_other", "_other"}).Add(1)
	}
	if e.WAFAction == "block" || e.WAFAction == "challenge" || e.WAFAction == "tarpit" {
		for _, id := range e.RuleIDs {
			r := strconv.Itoa(id)
			m.wafRules.get(ruleKey{site, r}, ruleKey{"_other", "_other"}).Add(1)
		}
	}
}

// family is a set of series keyed by their labels.
type family[K comparable, V any] struct {
	mu   sync.RWMutex
	m    map[K]V
	make func() V
}

func newFamily[K comparable, V any](mk func() V) family[K, V] {
	return family[K, V]{m: map[K]V{}, make: mk}
}

func (f *family[K, V]) get(k, overflow K) V {
	f.mu.RLock()
	v, ok := f.m[k]
	f.mu.RUnlock()
	if ok {
		return v
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if v, ok := f.m[k]; ok {
		return v
	}
	if len(f.m) >= MaxSeries {
		k = overflow
		if v, ok := f.m[k]; ok {
			return v
		}
	}
	v = f.make()
	f.m[k] = v
	return v
}

func (f *family[K, V]) snapshot() map[K]V {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make(map[K]V, len(f.m))
	for k, v := range f.m {
		out[k] = v
	}
	return out
}

type histogram struct {
	buckets [len(originBuckets)]atomic.Uint64
	count   atomic.Uint64
	sumNS   atomic.Int64
}

func (h *histogram) observe(d time.Duration) {
	s := d.Seconds()
	for i, ub := range originBuckets {
		if s <= ub {
			h.buckets[i].Add(1)
			break
		}
	}
	h.count.Add(1)
	h.sumNS.Add(int64(d))
}

// ServeHTTP writes every series in the Prometheus text format.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	bw := bufio.NewWriter(w)
	defer bw.Flush()

	header(bw, "rampart_requests_total", "Requests answered by the edge, by site, status and action.", "counter")
	reqs := m.requests.snapshot()
	rkeys := sortedKeys(reqs, func(a, b reqKey) int {
		return cmp.Or(cmp.Compare(a.site, b.site), cmp.Compare(a.status, b.status), cmp.Compare(a.action, b.action))
	})
	for _, k := range rkeys {
		line(bw, "rampart_requests_total", []string{"site", k.site, "status", strconv.Itoa(k.status), "action", k.action}, float64(reqs[k].Load()))
	}

	header(bw, "rampart_origin_duration_seconds", "Time from sending the request to the origin to its response head.", "histogram")
	hs := m.origin.snapshot()
	for _, site := range sortedKeys(hs, strings.Compare) {
		h := hs[site]
		var cum uint64
		for i, ub := range originBuckets {
			cum += h.buckets[i].Load()
			line(bw, "rampart_origin_duration_seconds_bucket", []string{"site", site, "le", strconv.FormatFloat(ub, 'g', -1, 64)}, float64(cum))
		}
		count := h.count.Load()
		line(bw, "rampart_origin_duration_seconds_bucket", []string{"site", site, "le", "+Inf"}, float64(count))
		line(bw, "rampart_origin_duration_seconds_sum", []string{"site", site}, time.Duration(h.sumNS.Load()).Seconds())
		line(bw, "rampart_origin_duration_seconds_count", []string{"site", site}, float64(count))
	}

	rules := func(name, help, label string, f *family[ruleKey, *atomic.Uint64]) {
		header(bw, name, help, "counter")
		s := f.snapshot()
		for _, k := range sortedKeys(s, func(a, b ruleKey) int { return cmp.Or(cmp.Compare(a.site, b.site), cmp.Compare(a.rule, b.rule)) }) {
			line(bw, name, []string{"site", k.site, label, k.rule}, float64(s[k].Load()))
		}
	}
	rules("rampart_rate_limited_total", "Requests refused by a rate limit, by site and rule.", "rule", &m.limited)
	rules("rampart_waf_rule_hits_total", "Rules matched by requests the WAF blocked, challenged or tarpitted.", "rule_id", &m.wafRules)
	rules("rampart_cache_requests_total", "Requests by cache outcome (hit, stale, revalidated, miss, uncacheable, bypass); hit ratio = (hit+stale+revalidated) / (those + miss).", "result", &m.cache)

	m.gmu.Lock()
	gauges := slices.Clone(m.gauges)
	m.gmu.Unlock()
	for _, g := range gauges {
		header(bw, g.name, g.help, g.typ)
		line(bw, g.name, nil, g.f())
	}
}

func sortedKeys[K comparable, V any](m map[K]V, cmpf func(a, b K) int) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmpf)
	return keys
}

func header(w *bufio.Writer, name, help, typ string) {
	w.WriteString("# HELP " + name + " " + help + "\n# TYPE " + name + " " + typ + "\n")
}

// line writes one sample; labels alternate name and value.
func line(w *bufio.Writer, name string, labels []string, v float64) {
	w.WriteString(name)
	if len(labels) > 0 {
		w.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				w.WriteByte(',')
			}
			w.WriteString(labels[i] + `="` + escapeLabel(labels[i+1]) + `"`)
		}
		w.WriteByte('}')
	}
	w.WriteByte(' ')
	switch {
	case math.IsInf(v, 1):
		w.WriteString("+Inf")
	default:
		w.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
	}
	w.WriteByte('\n')
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
