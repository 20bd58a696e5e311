package main

import "time"

// loadTool is what generates a workload's load.
type loadTool string

const (
	toolWrk       loadTool = "wrk"
	toolH2load    loadTool = "h2load"
	toolHandshake loadTool = "go-tls-client"
)

// workload is one comparison: the same load against the edge and its peers.
type workload struct {
	ID    string
	Title string
	Unit  string
	Tool  loadTool
	Path  string
	Post  bool // POST the 4 KB JSON document to Path
	// BodyBytes is the response size the probe expects; 0 for the echo of a POST.
	BodyBytes int
	// EdgeFeature is what the edge needs for this workload ("", waf, cache).
	EdgeFeature string
	// Cached workloads must be served from cache: the origin must stay quiet.
	Cached bool
	// Connections overrides -c for a workload too slow for 64 connections:
	// at 20 requests a second, 64 queued POSTs are 3 s of work, and an 8 s
	// run would count two or three waves of answers rather than a rate.
	Connections int
	// MinSmoke is the shortest run this workload gets in -smoke mode: a
	// second holds no complete answer when each request costs more than
	// that on a loaded machine.
	MinSmoke time.Duration
	// Peers are the servers compared with the edge, in their first-round order.
	Peers []string
}

// conns is the number of client connections for w: its own, or def (-c).
func (w workload) conns(def int) int {
	if w.Connections > 0 {
		return min(w.Connections, def)
	}
	return def
}

// tls reports whether the workload runs over TLS.
func (w workload) tls() bool { return w.Tool == toolH2load || w.Tool == toolHandshake }

// allWorkloads is the benchmark, in the order it runs and reports.
func allWorkloads() []workload {
	return []workload{
		{
			ID: "proxy-1k", Title: "Reverse proxy, GET 1 KB", Unit: "req/s", Tool: toolWrk,
			Path: pathNoStore1K, BodyBytes: 1024,
			Peers: []string{srvNginx, srvHAProxy, srvCaddy, srvOrigin},
		},
		{
			ID: "waf-get-1k", Title: "WAF (CRS PL1), GET 1 KB with a query string", Unit: "req/s", Tool: toolWrk,
			Path: pathNoStore1K + "?id=42&q=blue+widgets&page=2", BodyBytes: 1024, EdgeFeature: featureWAF,
			Peers: []string{srvNginxModSec},
		},
		{
			ID: "waf-post-4k", Title: "WAF (CRS PL1), POST 4 KB JSON (70 objects), 8 connections", Unit: "req/s", Tool: toolWrk,
			Path: pathAPI, Post: true, EdgeFeature: featureWAF, Connections: 8, MinSmoke: 5 * time.Second,
			Peers: []string{srvNginxModSec},
		},
		{
			ID: "cache-1k", Title: "Cache hit, GET 1 KB", Unit: "req/s", Tool: toolWrk,
			Path: pathCached1K, BodyBytes: 1024, EdgeFeature: featureCache, Cached: true,
			Peers: []string{srvNginxCache, srvVarnish, srvCaddy},
		},
		{
			ID: "cache-100k", Title: "Cache hit, GET 100 KB", Unit: "req/s", Tool: toolWrk,
			Path: pathCached100K, BodyBytes: 100 * 1024, EdgeFeature: featureCache, Cached: true,
			Peers: []string{srvNginxCache, srvVarnish, srvCaddy},
		},
		{
			ID: "tls-handshake", Title: "New TLS handshakes (ECDSA P-256, X25519, no resumption)", Unit: "handshakes/s",
			Tool:  toolHandshake,
			Peers: []string{srvNginx, srvHAProxy, srvCaddy},
		},
		{
			ID: "h2-1k", Title: "HTTP/2 over TLS, GET 1 KB", Unit: "req/s", Tool: toolH2load,
			Path: pathNoStore1K, BodyBytes: 1024,
			Peers: []string{srvNginx, srvHAProxy, srvCaddy},
		},
	}
}

// workloadIDs lists every workload's ID.
func workloadIDs() []string {
	var ids []string
	for _, w := range allWorkloads() {
		ids = append(ids, w.ID)
	}
	return ids
}

// Row states other than a measurement.
const (
	statusOK             = "ok"
	statusNotImplemented = "not implemented yet"
)

// runResult is one measured run of one target.
type runResult struct {
	Rate       float64 `json:"rate"`
	Requests   int64   `json:"requests"`
	P50Ms      float64 `json:"p50_ms,omitempty"`
	P99Ms      float64 `json:"p99_ms,omitempty"`
	MeanMs     float64 `json:"mean_ms,omitempty"` // h2load reports a mean, not percentiles
	Errors     int64   `json:"errors"`            // socket errors, failed requests or handshakes
	FirstError string  `json:"first_error,omitempty"`
	Non2xx     int64   `json:"non_2xx"`
	OriginHits int64   `json:"origin_hits"`
	// OriginConns is how many connections the target opened to the origin:
	// with upstream keepalive, at most about one per client connection.
	OriginConns int64 `json:"origin_conns"`
	PeakRSSKB   int64 `json:"peak_rss_kb,omitempty"`
	// CPUUsPerReq is the CPU time (user and system) the target's own
	// processes used during the run, per request it completed, in µs.
	CPUUsPerReq float64 `json:"cpu_us_per_req,omitempty"`
}

// row is one target's line in a workload's table.
type row struct {
	Server string `json:"server"`
	Label  string `json:"label"`
	// Status is "ok", "not implemented yet", or why the target was not
	// measured ("not available: …", "not measured: …", "failed: …", "not run: …").
	Status string      `json:"status"`
	Failed bool        `json:"failed,omitempty"` // attempted, and something went wrong
	Runs   []runResult `json:"runs,omitempty"`
	spread
	EdgeRatio float64 `json:"edge_ratio,omitempty"` // edge median / this row's median
	P99Ms     float64 `json:"p99_ms,omitempty"`     // median over runs
	MeanMs    float64 `json:"mean_ms,omitempty"`    // median over runs
	PeakRSSKB int64   `json:"peak_rss_kb,omitempty"`
	// CPUUsPerReq is the median over runs of runResult.CPUUsPerReq.
	CPUUsPerReq float64 `json:"cpu_us_per_req,omitempty"`
	// CPURatio is this row's CPUUsPerReq over the edge row's.
	CPURatio float64  `json:"cpu_ratio,omitempty"`
	Notes    []string `json:"notes,omitempty"`
}

// workloadResult is a workload's rows, the edge first.
type workloadResult struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Unit  string `json:"unit"`
	Tool  string `json:"tool"`
	Rows  []*row `json:"rows"`
}
