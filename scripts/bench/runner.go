package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/rampart-edge/rampart/scripts/internal/tool"
)

// runner measures workloads against started servers.
type runner struct {
	opts       options
	log        *slog.Logger
	dir        string // where each run's raw output is kept
	cert       *testCert
	origin     *origin
	servers    map[string]*server
	tools      map[loadTool]string // binary path; missing tools are in toolErrs
	toolErrs   map[loadTool]error
	postBody   []byte
	postScript string // wrk Lua script for the POST workloads
	rssNote    string // set once if peak RSS could not be reset per run
	seq        int    // numbers raw output files
}

// entry is a row with the server it measures.
type entry struct {
	row *row
	srv *server
}

// runWorkload probes, warms up and measures every target of w, round by
// round: the edge first, then the peers in an order that rotates each round,
// so slow drift of the machine spreads over all of them.
func (r *runner) runWorkload(ctx context.Context, w workload) *workloadResult {
	res := &workloadResult{ID: w.ID, Title: w.Title, Unit: w.Unit, Tool: string(w.Tool)}
	var active []entry
	for _, id := range append([]string{srvEdge}, w.Peers...) {
		s := r.servers[id]
		rw := &row{Server: id, Label: s.Label}
		res.Rows = append(res.Rows, rw)
		if reason := r.skipReason(w, s); reason != "" {
			rw.Status = reason
			continue
		}
		if ctx.Err() != nil {
			rw.Status = notRunStatus(ctx)
			continue
		}
		if err := r.probe(ctx, w, s); err != nil {
			rw.Status = "failed: " + err.Error()
			rw.Failed = true
			r.log.Warn("probe failed", "workload", w.ID, "target", id, "err", err)
			continue
		}
		active = append(active, entry{rw, s})
	}
	if r.opts.Warmup > 0 {
		for _, e := range active {
			if _, err := r.measure(ctx, w, e.srv, r.opts.Warmup); err != nil && ctx.Err() == nil {
				r.log.Warn("warm-up failed", "workload", w.ID, "target", e.srv.ID, "err", err)
			}
		}
	}
	for round := range r.opts.Rounds {
		for _, e := range roundOrder(active, round) {
			if ctx.Err() != nil {
				break
			}
			d := r.opts.Duration
			if r.opts.Smoke {
				d = max(d, w.MinSmoke)
			}
			run, err := r.measure(ctx, w, e.srv, d)
			if err != nil {
				if ctx.Err() == nil {
					e.row.Failed = true
					e.row.Notes = append(e.row.Notes, fmt.Sprintf("round %d: %v", round+1, err))
				}
				continue
			}
			r.log.Info("run", "workload", w.ID, "target", e.srv.ID, "round", round+1,
				"rate", fmt.Sprintf("%.0f", run.Rate), "errors", run.Errors, "non_2xx", run.Non2xx, "rss_kb", run.PeakRSSKB)
			e.row.Runs = append(e.row.Runs, run)
		}
	}
	stopped := ""
	if ctx.Err() != nil {
		stopped = notRunStatus(ctx)
	}
	for _, e := range active {
		finishRow(e.row, w, w.conns(r.opts.Connections), stopped)
	}
	setRatios(res.Rows)
	return res
}

// skipReason says why s is not measured in w, or "" when it is.
func (r *runner) skipReason(w workload, s *server) string {
	switch {
	case s.ID == srvEdge && !r.opts.hasFeature(w.EdgeFeature):
		return statusNotImplemented
	case s.Err != nil:
		return "not available: " + s.Err.Error()
	case s.Unsupported[w.ID] != "":
		return "not measured: " + s.Unsupported[w.ID]
	case r.toolErrs[w.Tool] != nil:
		return "not measured: " + r.toolErrs[w.Tool].Error()
	case w.tls() && s.HTTPSAddr == "":
		return "not measured: no TLS listener"
	}
	return ""
}

// roundOrder is the order of one round: the edge (always first in active,
// when present) and then the peers rotated by round.
func roundOrder(active []entry, round int) []entry {
	if len(active) == 0 {
		return nil
	}
	out := make([]entry, 0, len(active))
	peers := active
	if active[0].srv.ID == srvEdge {
		out = append(out, active[0])
		peers = active[1:]
	}
	for i := range peers {
		out = append(out, peers[(i+round)%len(peers)])
	}
	return out
}

// notRunStatus is the status of a row the run stopped before measuring.
func notRunStatus(ctx context.Context) string {
	if errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		return "not run: the -timeout budget ran out"
	}
	return fmt.Sprintf("not run: %v", context.Cause(ctx))
}

// finishRow summarizes a measured row and notes anything that makes its
// numbers suspect: errors, non-2xx answers, a cache that let requests
// through, a proxy that does not keep its origin connections (more than
// 1% of requests and more than twice the client connections, conns).
// stopped is the status of a row without runs when the run was stopped.
func finishRow(rw *row, w workload, conns int, stopped string) {
	if len(rw.Runs) == 0 {
		switch {
		case stopped != "":
			rw.Status = stopped
		default:
			rw.Status = "failed: no run succeeded"
			rw.Failed = true
		}
		return
	}
	rw.Status = statusOK
	var rates, p99s, means, cpus []float64
	var requests, errs, non2xx, originHits, originConns int64
	var firstErr string
	for _, run := range rw.Runs {
		if firstErr == "" {
			firstErr = run.FirstError
		}
		rates = append(rates, run.Rate)
		if run.P99Ms > 0 {
			p99s = append(p99s, run.P99Ms)
		}
		if run.MeanMs > 0 {
			means = append(means, run.MeanMs)
		}
		if run.CPUUsPerReq > 0 {
			cpus = append(cpus, run.CPUUsPerReq)
		}
		requests += run.Requests
		errs += run.Errors
		non2xx += run.Non2xx
		originHits += run.OriginHits
		originConns += run.OriginConns
		rw.PeakRSSKB = max(rw.PeakRSSKB, run.PeakRSSKB)
	}
	rw.spread = summarize(rates)
	rw.P99Ms = summarize(p99s).Median
	rw.MeanMs = summarize(means).Median
	rw.CPUUsPerReq = summarize(cpus).Median
	if rw.Median <= 0 {
		rw.Failed = true
		rw.Notes = append(rw.Notes, "zero throughput")
	}
	// A handful of errors under overload is load; more than 1% means the
	// number measures something other than the workload.
	if bad := errs + non2xx; bad > 0 {
		rw.Notes = append(rw.Notes, fmt.Sprintf("%d errors, %d non-2xx of %d", errs, non2xx, requests))
		if firstErr != "" {
			rw.Notes = append(rw.Notes, "first error: "+firstErr)
		}
		if bad*100 > requests {
			rw.Failed = true
		}
	}
	// Without upstream keepalive a proxy pays a TCP handshake per request:
	// worth knowing when reading its number.
	if originConns*100 > requests && originConns > 2*int64(conns) {
		rw.Notes = append(rw.Notes, fmt.Sprintf("opened %d origin connections for %d requests", originConns, requests))
	}
	if w.Cached && originHits*100 > requests {
		rw.Notes = append(rw.Notes, fmt.Sprintf("origin served %d of %d requests: not cache hits", originHits, requests))
		rw.Failed = true
	}
}

// setRatios fills each peer row's edge/peer ratio from the edge row's
// median, and its CPU per request over the edge's.
func setRatios(rows []*row) {
	var edge *row
	for _, rw := range rows {
		if rw.Server == srvEdge && rw.Status == statusOK {
			edge = rw
		}
	}
	if edge == nil {
		return
	}
	for _, rw := range rows {
		if rw != edge && rw.Status == statusOK {
			rw.EdgeRatio = ratio(edge.Median, rw.Median)
			rw.CPURatio = ratio(rw.CPUUsPerReq, edge.CPUUsPerReq)
		}
	}
}

// settle waits until s's processes are idle: a server with a deep queue (64
// POSTs waiting for ModSecurity) keeps working on requests whose clients
// have gone, and that work must not eat into the next run. Idle means at most
// one clock tick (10 ms) of CPU in 200 ms; the wait is bounded by maxSettle.
func (r *runner) settle(ctx context.Context, s *server) {
	if s.proc == nil {
		return
	}
	start := time.Now()
	prev := cpuTicks(s.proc.tree())
	for time.Since(start) < maxSettle {
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
		now := cpuTicks(s.proc.tree())
		if now-prev <= 1 {
			break
		}
		prev = now
	}
	if waited := time.Since(start); waited > 2*time.Second {
		r.log.Info("waited for the target to go idle", "target", s.ID, "waited", waited.Round(100*time.Millisecond))
	}
}

// maxSettle bounds settle.
const maxSettle = 30 * time.Second

// measure runs w against s once for d and records its peak RSS and how many
// requests reached the origin.
func (r *runner) measure(ctx context.Context, w workload, s *server, d time.Duration) (runResult, error) {
	if s.proc != nil {
		if err := resetPeakRSS(s.proc.tree()); err != nil && r.rssNote == "" {
			r.rssNote = fmt.Sprintf("Peak RSS is each process's lifetime peak: resetting it failed (%v)", err)
		}
	}
	hits, conns := r.origin.hits.Load(), r.origin.conns.Load()
	var ticks int64
	if s.proc != nil {
		ticks = cpuTicks(s.proc.tree())
	}
	var run runResult
	var err error
	switch w.Tool {
	case toolWrk:
		run, err = r.runWrk(ctx, w, s, d)
	case toolH2load:
		run, err = r.runH2load(ctx, w, s, d)
	case toolHandshake:
		hs := runHandshakes(ctx, s.HTTPSAddr, benchHost, r.opts.Connections, d)
		run = runResult{Rate: hs.Rate(), Requests: hs.Handshakes + hs.Errors, Errors: hs.Errors, P50Ms: ms(hs.P50), P99Ms: ms(hs.P99)}
		if hs.FirstErr != nil {
			run.FirstError = hs.FirstErr.Error()
		}
		if hs.Handshakes == 0 && hs.FirstErr != nil {
			err = fmt.Errorf("no handshake succeeded: %w", hs.FirstErr)
		}
	}
	if err != nil {
		r.settle(ctx, s)
		return runResult{}, err
	}
	run.OriginHits = r.origin.hits.Load() - hits
	run.OriginConns = r.origin.conns.Load() - conns
	if s.proc != nil {
		// Taken before settle: work on requests the load generator gave
		// up on is not the run's.
		run.CPUUsPerReq = cpuPerRequest(cpuTicks(s.proc.tree())-ticks, run.Requests)
		run.PeakRSSKB = peakRSSKB(s.proc.tree())
	}
	r.settle(ctx, s)
	return run, nil
}

func (r *runner) runWrk(ctx context.Context, w workload, s *server, d time.Duration) (runResult, error) {
	host := benchHost
	if s.ID == srvEdge {
		host = edgeHostFor(w.EdgeFeature)
	}
	script := ""
	if w.Post {
		script = r.postScript
	}
	conns := max(w.conns(r.opts.Connections), r.opts.Threads)
	out, err := r.runTool(ctx, w, s, d, r.tools[toolWrk], wrkArgs(r.opts.Threads, conns, d, host, "http://"+s.HTTPAddr+w.Path, script))
	if err != nil {
		return runResult{}, err
	}
	res, err := parseWrk(out)
	if err != nil {
		return runResult{}, err
	}
	return runResult{
		Rate: res.ReqPerSec, Requests: res.Requests, P50Ms: ms(res.P50), P99Ms: ms(res.P99),
		Errors: res.Errors(), Non2xx: res.Non2xx,
	}, nil
}

func (r *runner) runH2load(ctx context.Context, w workload, s *server, d time.Duration) (runResult, error) {
	args := h2loadArgs(r.opts.Threads, r.opts.h2Connections(), r.opts.Streams, d, benchHost, s.HTTPSAddr, w.Path)
	out, err := r.runTool(ctx, w, s, d, r.tools[toolH2load], args)
	if err != nil {
		return runResult{}, err
	}
	res, err := parseH2load(out)
	if err != nil {
		return runResult{}, err
	}
	if res.Protocol != "h2" {
		return runResult{}, fmt.Errorf("h2load: the server did not negotiate h2 (got %q)", res.Protocol)
	}
	return runResult{
		Rate: res.ReqPerSec, Requests: res.Requests, MeanMs: ms(res.MeanRequest),
		Errors: res.Failed + res.Errored + res.Timeout, Non2xx: res.StatusOther,
	}, nil
}

// runTool runs a load generator, bounded by d plus a margin, and keeps its
// output under the runner's dir.
func (r *runner) runTool(ctx context.Context, w workload, s *server, d time.Duration, bin string, args []string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	r.seq++
	name := fmt.Sprintf("%03d-%s-%s.txt", r.seq, w.ID, s.ID)
	_ = os.WriteFile(filepath.Join(r.dir, name), append([]byte(fmt.Sprintf("%s %q\n\n", bin, args)), out...), 0o644)
	if err != nil {
		return "", fmt.Errorf("%s: %v: %s", filepath.Base(bin), err, tool.LastLines(string(out), 3))
	}
	return string(out), nil
}

// probe sends one request the way the workload will, and checks the answer:
// the status, the body size, HTTP/2 where the workload needs it, a verified
// ECDSA certificate for TLS, and for cached workloads that a repeated request
// does not reach the origin.
func (r *runner) probe(ctx context.Context, w workload, s *server) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if w.Tool == toolHandshake {
		_, err := probeTLS(ctx, s.HTTPSAddr, benchHost, r.cert)
		return err
	}
	client, url := r.probeClient(w, s)
	defer client.CloseIdleConnections()
	get := func() error {
		method, body := http.MethodGet, io.Reader(nil)
		if w.Post {
			method, body = http.MethodPost, bytes.NewReader(r.postBody)
		}
		req, err := http.NewRequestWithContext(ctx, method, url, body)
		if err != nil {
			return err
		}
		req.Host = benchHost
		if s.ID == srvEdge {
			req.Host = edgeHostFor(w.EdgeFeature)
		}
		req.Header.Set("Accept", "*/*")
		req.Header.Set("User-Agent", "rampart-bench")
		if w.Post {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		got, err := io.ReadAll(resp.Body)
		if err != nil {
			return fmt.Errorf("%s %s: reading the body: %w", method, w.Path, err)
		}
		want := w.BodyBytes
		if w.Post {
			want = len(r.postBody)
		}
		switch {
		case resp.StatusCode != http.StatusOK:
			return fmt.Errorf("%s %s: status %d, want 200", method, w.Path, resp.StatusCode)
		case len(got) != want:
			return fmt.Errorf("%s %s: %d body bytes, want %d", method, w.Path, len(got), want)
		case w.Tool == toolH2load && resp.ProtoMajor != 2:
			return fmt.Errorf("%s %s: answered over %s, want HTTP/2", method, w.Path, resp.Proto)
		}
		return nil
	}
	if err := get(); err != nil {
		return err
	}
	if w.Cached {
		// The first request may fill the cache; the next must not reach the origin.
		if err := get(); err != nil {
			return err
		}
		hits := r.origin.hits.Load()
		if err := get(); err != nil {
			return err
		}
		if r.origin.hits.Load() != hits {
			return errors.New("a repeated request reached the origin: not caching " + w.Path)
		}
	}
	return nil
}

// probeClient is an HTTP client for s: plain HTTP, or HTTP/2 over TLS to its
// TLS listener with the bench CA trusted.
func (r *runner) probeClient(w workload, s *server) (*http.Client, string) {
	if !w.tls() {
		return &http.Client{Timeout: 5 * time.Second}, "http://" + s.HTTPAddr + w.Path
	}
	dialer := &net.Dialer{Timeout: 2 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, s.HTTPSAddr)
		},
		TLSClientConfig:   &tls.Config{ServerName: benchHost, RootCAs: r.cert.Roots},
		ForceAttemptHTTP2: true,
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: tr}, "https://" + benchHost + w.Path
}

// ms converts a duration to float milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// estimate is how long the workloads will take, roughly, with the servers
// as started.
func (r *runner) estimate(ws []workload) time.Duration {
	var total time.Duration
	perRun := r.opts.Duration + 700*time.Millisecond // process start, probe, settle
	for _, w := range ws {
		n := 0
		for _, id := range append([]string{srvEdge}, w.Peers...) {
			if r.skipReason(w, r.servers[id]) == "" {
				n++
			}
		}
		total += time.Duration(n) * (r.opts.Warmup + time.Duration(r.opts.Rounds)*perRun)
	}
	return total
}
