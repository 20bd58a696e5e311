package metrics

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rampart-edge/rampart/edgeagent/accesslog"
)

func TestExposition(t *testing.T) {
	m := New()
	m.Observe(&accesslog.Entry{Site: "a.example.com", Status: 200, Action: "proxy", Origin: "o:80", OriginDuration: 30 * time.Millisecond})
	m.Observe(&accesslog.Entry{Site: "a.example.com", Status: 200, Action: "proxy", Origin: "o:80", OriginDuration: 2 * time.Second})
	m.Observe(&accesslog.Entry{Site: "a.example.com", Status: 429, Action: "rate_limited", RateLimitRule: "login"})
	m.Observe(&accesslog.Entry{Site: "evil\"host", Status: 421, Action: "misdirected"})
	m.Observe(&accesslog.Entry{Site: "a.example.com", Status: 403, Action: "waf", WAFAction: "block", RuleIDs: []int{942100, 949110}})
	m.Observe(&accesslog.Entry{Site: "a.example.com", Status: 200, Action: "cache_hit", Cache: "hit"})
	m.Observe(&accesslog.Entry{Site: "a.example.com", Status: 200, Action: "cache_hit", Cache: "hit"})
	m.Observe(&accesslog.Entry{Site: "a.example.com", Status: 200, Action: "proxy", Cache: "miss"})
	m.Gauge("rampart_in_flight_requests", "Requests being served.", "gauge", func() float64 { return 3 })
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	out := rec.Body.String()
	for _, want := range []string{
		"# TYPE rampart_requests_total counter\n",
		`rampart_requests_total{site="a.example.com",status="200",action="proxy"} 3` + "\n",
		`rampart_requests_total{site="a.example.com",status="429",action="rate_limited"} 1` + "\n",
		`rampart_requests_total{site="",status="421",action="misdirected"} 1` + "\n",
		`rampart_origin_duration_seconds_bucket{site="a.example.com",le="0.025"} 0` + "\n",
		`rampart_origin_duration_seconds_bucket{site="a.example.com",le="0.05"} 1` + "\n",
		`rampart_origin_duration_seconds_bucket{site="a.example.com",le="2.5"} 2` + "\n",
		`rampart_origin_duration_seconds_bucket{site="a.example.com",le="+Inf"} 2` + "\n",
		`rampart_origin_duration_seconds_sum{site="a.example.com"} 2.03` + "\n",
		`rampart_origin_duration_seconds_count{site="a.example.com"} 2` + "\n",
		`rampart_rate_limited_total{site="a.example.com",rule="login"} 1` + "\n",
		`rampart_waf_rule_hits_total{site="a.example.com",rule_id="942100"} 1` + "\n",
		`rampart_cache_requests_total{site="a.example.com",result="hit"} 2` + "\n",
		`rampart_cache_requests_total{site="a.example.com",result="miss"} 1` + "\n",
		"rampart_in_flight_requests 3\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "evil") {
		t.Error("a client-sent Host became a label value")
	}
}

func TestSeriesAreCapped(t *testing.T) {
	m := New()
	for i := range MaxSeries + 100 {
		m.Observe(&accesslog.Entry{Site: "s.example.com", Status: i, Action: "proxy"})
	}
	if n := len(m.requests.snapshot()); n > MaxSeries+1 {
		t.Fatalf("%d series", n)
	}
}

func TestObserveDoesNotAllocate(t *testing.T) {
	m := New()
	e := &accesslog.Entry{Site: "a.example.com", Status: 200, Action: "proxy", Origin: "o:80", OriginDuration: time.Millisecond}
	m.Observe(e)
	if n := testing.AllocsPerRun(1000, func() { m.Observe(e) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}
