package main

import (
	"slices"
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	tests := []struct {
		in   []float64
		want spread
	}{
		{nil, spread{}},
		{[]float64{5}, spread{5, 5, 5}},
		{[]float64{3, 1, 2}, spread{2, 1, 3}},
		{[]float64{4, 1, 3, 2}, spread{2.5, 1, 4}},
		{[]float64{10, 10, 40}, spread{10, 10, 40}},
	}
	for _, tt := range tests {
		in := slices.Clone(tt.in)
		if got := summarize(tt.in); got != tt.want {
			t.Errorf("summarize(%v) = %+v, want %+v", tt.in, got, tt.want)
		}
		if !slices.Equal(in, tt.in) {
			t.Errorf("summarize reordered its input: %v", tt.in)
		}
	}
}

func TestRatio(t *testing.T) {
	tests := []struct{ edge, peer, want float64 }{
		{200, 100, 2},
		{50, 100, 0.5},
		{0, 100, 0},
		{100, 0, 0},
	}
	for _, tt := range tests {
		if got := ratio(tt.edge, tt.peer); got != tt.want {
			t.Errorf("ratio(%v, %v) = %v, want %v", tt.edge, tt.peer, got, tt.want)
		}
	}
}

func TestRoundOrder(t *testing.T) {
	mk := func(ids ...string) []entry {
		var es []entry
		for _, id := range ids {
			es = append(es, entry{srv: &server{ID: id}})
		}
		return es
	}
	ids := func(es []entry) string {
		var s []string
		for _, e := range es {
			s = append(s, e.srv.ID)
		}
		return strings.Join(s, ",")
	}
	withEdge := mk(srvEdge, "a", "b", "c")
	for round, want := range []string{"edge,a,b,c", "edge,b,c,a", "edge,c,a,b", "edge,a,b,c"} {
		if got := ids(roundOrder(withEdge, round)); got != want {
			t.Errorf("round %d: %s, want %s", round, got, want)
		}
	}
	if got := ids(roundOrder(mk("a", "b"), 1)); got != "b,a" {
		t.Errorf("without the edge, round 1: %s, want b,a", got)
	}
	if got := roundOrder(nil, 2); len(got) != 0 {
		t.Errorf("no targets: %v", got)
	}
}

func TestFinishRow(t *testing.T) {
	proxy := workload{ID: "proxy-1k"}
	cached := workload{ID: "cache-1k", Cached: true}
	tests := []struct {
		name       string
		w          workload
		runs       []runResult
		stopped    string
		wantStatus string
		wantFailed bool
		wantNotes  []string
		want       spread
		wantRSS    int64
		wantCPU    float64
	}{
		{
			name: "clean", w: proxy,
			runs: []runResult{{Rate: 100, Requests: 800, PeakRSSKB: 10, CPUUsPerReq: 90}, {Rate: 300, Requests: 2400, PeakRSSKB: 30, CPUUsPerReq: 70},
				{Rate: 200, Requests: 1600, PeakRSSKB: 20, CPUUsPerReq: 80}},
			wantStatus: statusOK, want: spread{200, 100, 300}, wantRSS: 30, wantCPU: 80,
		},
		{
			name: "runs without a CPU figure are left out of its median", w: proxy,
			runs:       []runResult{{Rate: 100, Requests: 800, CPUUsPerReq: 90}, {Rate: 300, Requests: 2400}, {Rate: 200, Requests: 1600, CPUUsPerReq: 70}},
			wantStatus: statusOK, want: spread{200, 100, 300}, wantCPU: 80,
		},
		{
			name: "a few errors are noted, not failed", w: proxy,
			runs:       []runResult{{Rate: 100, Requests: 1000, Errors: 2, FirstError: "dial tcp: i/o timeout"}},
			wantStatus: statusOK, want: spread{100, 100, 100},
			wantNotes: []string{"2 errors, 0 non-2xx of 1000", "first error: dial tcp: i/o timeout"},
		},
		{
			name: "non-2xx answers fail the row", w: proxy,
			runs:       []runResult{{Rate: 100, Requests: 1000, Non2xx: 1000}},
			wantStatus: statusOK, wantFailed: true, want: spread{100, 100, 100},
			wantNotes: []string{"0 errors, 1000 non-2xx of 1000"},
		},
		{
			name: "a cache that lets requests through fails", w: cached,
			runs:       []runResult{{Rate: 100, Requests: 1000, OriginHits: 1000, OriginConns: 1}},
			wantStatus: statusOK, wantFailed: true, want: spread{100, 100, 100},
			wantNotes: []string{"origin served 1000 of 1000 requests: not cache hits"},
		},
		{
			name: "a slow target reconnecting a little is not noted", w: proxy,
			runs:       []runResult{{Rate: 10, Requests: 80, OriginHits: 80, OriginConns: 60}},
			wantStatus: statusOK, want: spread{10, 10, 10},
		},
		{
			name: "no upstream keepalive is noted", w: proxy,
			runs:       []runResult{{Rate: 100, Requests: 1000, OriginHits: 1000, OriginConns: 900}},
			wantStatus: statusOK, want: spread{100, 100, 100},
			wantNotes: []string{"opened 900 origin connections for 1000 requests"},
		},
		{
			name: "zero throughput fails", w: proxy,
			runs:       []runResult{{Rate: 0}},
			wantStatus: statusOK, wantFailed: true,
			wantNotes: []string{"zero throughput"},
		},
		{name: "no runs", w: proxy, wantStatus: "failed: no run succeeded", wantFailed: true},
		{name: "stopped", w: proxy, stopped: "not run: interrupted", wantStatus: "not run: interrupted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rw := &row{Runs: tt.runs}
			finishRow(rw, tt.w, 64, tt.stopped)
			if rw.Status != tt.wantStatus || rw.Failed != tt.wantFailed {
				t.Errorf("status %q failed %v, want %q %v", rw.Status, rw.Failed, tt.wantStatus, tt.wantFailed)
			}
			if !slices.Equal(rw.Notes, tt.wantNotes) {
				t.Errorf("notes %q, want %q", rw.Notes, tt.wantNotes)
			}
			if rw.spread != tt.want || rw.PeakRSSKB != tt.wantRSS || rw.CPUUsPerReq != tt.wantCPU {
				t.Errorf("spread %+v rss %d cpu %v, want %+v %d %v", rw.spread, rw.PeakRSSKB, rw.CPUUsPerReq, tt.want, tt.wantRSS, tt.wantCPU)
			}
		})
	}
}

func TestSetRatios(t *testing.T) {
	rows := []*row{
		{Server: srvEdge, Status: statusOK, spread: spread{Median: 300}, CPUUsPerReq: 100},
		{Server: srvNginx, Status: statusOK, spread: spread{Median: 200}, CPUUsPerReq: 250},
		{Server: srvCaddy, Status: "not available: no caddy"},
		{Server: srvHAProxy, Status: statusOK, spread: spread{Median: 100}}, // no CPU figure
	}
	setRatios(rows)
	if rows[0].EdgeRatio != 0 || rows[1].EdgeRatio != 1.5 || rows[2].EdgeRatio != 0 {
		t.Errorf("ratios %v %v %v, want 0 1.5 0", rows[0].EdgeRatio, rows[1].EdgeRatio, rows[2].EdgeRatio)
	}
	if rows[0].CPURatio != 0 || rows[1].CPURatio != 2.5 || rows[2].CPURatio != 0 || rows[3].CPURatio != 0 {
		t.Errorf("CPU ratios %v %v %v %v, want 0 2.5 0 0", rows[0].CPURatio, rows[1].CPURatio, rows[2].CPURatio, rows[3].CPURatio)
	}
	// Without a measured edge there is nothing to compare with.
	rows = []*row{{Server: srvEdge, Status: statusNotImplemented}, {Server: srvNginx, Status: statusOK, spread: spread{Median: 200}}}
	setRatios(rows)
	if rows[1].EdgeRatio != 0 {
		t.Errorf("ratio without an edge = %v, want 0", rows[1].EdgeRatio)
	}
}
