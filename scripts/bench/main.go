// Command bench puts the Rampart edge side by side with the servers users
// would pick instead (nginx, nginx + ModSecurity + CRS, nginx proxy_cache,
// Varnish, HAProxy, Caddy) under identical loads, and writes a Markdown table
// and a JSON file of the results.
//
// From the repository root:
//
//	go run ./scripts/bench                     # full run, report in .bench/bench.md
//	go run ./scripts/bench -out docs/bench.md  # refresh the committed table
//	go run ./scripts/bench -smoke              # about a second per workload, for the test suite
//
// See docs/bench.md for what each workload measures and how each peer is configured.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/rampart-edge/rampart/scripts/internal/tool"
	"github.com/rampart-edge/rampart/waf"
)

func main() {
	opts, err := parseOptions(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, opts, log)
	stop()
	os.Exit(code)
}

// run does the whole benchmark and returns the exit code: 1 when the harness
// itself failed, ran out of time, or (with -smoke) when a target that was
// there failed its measurement. Peers that are not installed or do not start
// are reported, not failures.
func run(ctx context.Context, opts options, log *slog.Logger) int {
	res, err := benchmark(ctx, opts, log)
	if err != nil {
		log.Error("bench", "err", err)
		return 1
	}
	code := 0
	if res.cutShort {
		code = 1
	}
	if opts.Smoke {
		if res.edgeErr != nil {
			log.Error("smoke: the edge did not start", "err", res.edgeErr)
			code = 1
		}
		for _, w := range res.Workloads {
			for _, rw := range w.Rows {
				if rw.Failed {
					log.Error("smoke: measurement failed", "workload", w.ID, "target", rw.Server, "status", rw.Status, "notes", rw.Notes)
					code = 1
				}
			}
		}
	}
	return code
}

// benchmark sets everything up, measures, tears down and writes the report.
func benchmark(ctx context.Context, opts options, log *slog.Logger) (*results, error) {
	started := time.Now()
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	root, err := tool.RepoRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "rampart-bench-")
	if err != nil {
		return nil, err
	}
	if opts.Keep {
		log.Info("keeping the temp dir", "dir", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	// nginx workers run as nobody and must reach their cache and temp dirs.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	for _, d := range []string{"tls", "runs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}

	pkgs := ensurePackages(ctx, log, opts.Install)
	for _, pkg := range debianPackages {
		if why, ok := pkgs.Missing[pkg]; ok {
			log.Warn("package missing", "package", pkg, "reason", why)
		}
	}
	cert, err := newTestCert(filepath.Join(dir, "tls"))
	if err != nil {
		return nil, err
	}
	org, err := newOrigin()
	if err != nil {
		return nil, err
	}
	org.Start()
	defer org.Close()

	ws := selectedWorkloads(opts)
	servers := startServers(ctx, log, opts, ws, root, dir, org, cert, pkgs)
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	r, err := newRunner(opts, log, dir, cert, org, servers, pkgs)
	if err != nil {
		return nil, err
	}
	res := &results{
		Started: started,
		Smoke:   opts.Smoke,
		Settings: settings{
			DurationS: opts.Duration.Seconds(), WarmupS: opts.Warmup.Seconds(), Rounds: opts.Rounds,
			Threads: opts.Threads, Connections: opts.Connections, Streams: opts.Streams,
			EdgeFeatures: append([]string{}, opts.Features...),
		},
		Machine: readMachine(ctx, root),
		Tools:   toolVersions(pkgs),
	}
	res.Servers = serverInfos(ctx, servers, pkgs, res.Machine)
	if edge := servers[srvEdge]; edge.Err != nil && needsEdge(opts, ws) {
		res.edgeErr = edge.Err
	}

	deadline, _ := ctx.Deadline()
	est := r.estimate(ws)
	if left := time.Until(deadline); est > left {
		return nil, fmt.Errorf("the planned runs take about %v, more than the %v left of -timeout: lower -d or -rounds, or raise -timeout",
			est.Round(time.Second), left.Round(time.Second))
	}
	log.Info("measuring", "workloads", len(ws), "estimate", est.Round(time.Second))
	for _, w := range ws {
		res.Workloads = append(res.Workloads, r.runWorkload(ctx, w))
	}
	if r.rssNote != "" {
		res.Notes = append(res.Notes, r.rssNote)
	}
	if ctx.Err() != nil {
		res.cutShort = true
		res.Notes = append(res.Notes, fmt.Sprintf("The run was cut short (%v): rows marked \"not run\" were not measured.", context.Cause(ctx)))
		log.Error("the run was cut short", "err", context.Cause(ctx))
	}
	res.ElapsedS = time.Since(started).Seconds()
	res.Machine.LoadEnd = loadAverage()
	if err := writeReport(*res, opts.Out, opts.JSONOut); err != nil {
		return nil, err
	}
	fmt.Print(renderMarkdown(*res))
	log.Info("wrote", "markdown", opts.Out, "json", opts.JSONOut, "elapsed", time.Since(started).Round(time.Second))
	return res, nil
}

// selectedWorkloads is the workloads -workloads picked, in report order.
func selectedWorkloads(opts options) []workload {
	var ws []workload
	for _, w := range allWorkloads() {
		if opts.wants(w.ID) {
			ws = append(ws, w)
		}
	}
	return ws
}

// needsEdge reports whether a selected workload measures the edge.
func needsEdge(opts options, ws []workload) bool {
	for _, w := range ws {
		if opts.hasFeature(w.EdgeFeature) {
			return true
		}
	}
	return false
}

// startServers starts the edge and every peer the workloads use, one after
// the other, logging each one that is not available and why.
func startServers(ctx context.Context, log *slog.Logger, opts options, ws []workload, root, dir string, org *origin, cert *testCert, pkgs packages) map[string]*server {
	needed := map[string]bool{srvEdge: needsEdge(opts, ws)}
	for _, w := range ws {
		for _, id := range w.Peers {
			needed[id] = true
		}
	}
	servers := map[string]*server{
		srvOrigin: {ID: srvOrigin, Label: "origin (direct, no proxy)", HTTPAddr: org.addr()},
		srvEdge:   {ID: srvEdge, Label: "edge", Err: errors.New("not started: no selected workload measures it")},
	}
	// Start everything at once: the edge build takes longest, Varnish
	// compiles its VCL, ModSecurity parses the CRS.
	var mu sync.Mutex
	var wg sync.WaitGroup
	if needed[srvEdge] {
		log.Info("building and starting the edge")
		wg.Go(func() {
			s := startEdge(ctx, root, filepath.Join(dir, srvEdge), org.addr(), cert)
			mu.Lock()
			servers[srvEdge] = s
			mu.Unlock()
		})
	}
	unicodeMap := "/etc/nginx/unicode.mapping"
	if _, err := os.Stat(unicodeMap); err != nil {
		unicodeMap = ""
	}
	for _, spec := range peerSpecs() {
		if !needed[spec.ID] {
			servers[spec.ID] = &server{ID: spec.ID, Label: spec.Label, Err: errors.New("not started: no selected workload measures it")}
			continue
		}
		cfg := peerConfig{
			Dir: filepath.Join(dir, spec.ID), Hostname: benchHost, Workers: runtime.NumCPU(),
			OriginAddr: org.addr(), OriginPort: org.port(),
			CertFile: cert.CertFile, KeyFile: cert.KeyFile, PEMFile: cert.PEMFile,
			ModSecurityModule: "/usr/lib/nginx/modules/ngx_http_modsecurity_module.so",
			CRSSetupDir:       "/etc/modsecurity/crs",
			CRSRulesDir:       "/usr/share/modsecurity-crs/rules",
			UnicodeMapFile:    unicodeMap,
		}
		var err error
		if cfg.HTTPPort, err = tool.FreePort(); err == nil && spec.TLS {
			cfg.HTTPSPort, err = tool.FreePort()
		}
		if err != nil {
			servers[spec.ID] = &server{ID: spec.ID, Label: spec.Label, Err: err}
			continue
		}
		log.Info("starting", "peer", spec.ID)
		wg.Go(func() {
			s := startPeer(ctx, spec, cfg, pkgs)
			mu.Lock()
			servers[spec.ID] = s
			mu.Unlock()
		})
	}
	wg.Wait()
	if c := servers[srvCaddy]; c.Err == nil {
		why := caddyCacheSupport(ctx)
		c.Unsupported = map[string]string{}
		for _, w := range allWorkloads() {
			if w.Cached {
				c.Unsupported[w.ID] = why
			}
		}
	}
	ids := make([]string, 0, len(servers))
	for id := range servers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if s := servers[id]; s.Err != nil && needed[id] {
			log.Warn("target not available", "target", id, "err", s.Err)
		}
	}
	return servers
}

// newRunner finds the load generators and writes the POST body and script.
func newRunner(opts options, log *slog.Logger, dir string, cert *testCert, org *origin, servers map[string]*server, pkgs packages) (*runner, error) {
	r := &runner{
		opts: opts, log: log, dir: filepath.Join(dir, "runs"), cert: cert, origin: org, servers: servers,
		tools: map[loadTool]string{}, toolErrs: map[loadTool]error{},
		postBody: waf.OrdersJSON(),
	}
	for tool, bin := range map[loadTool]string{toolWrk: "wrk", toolH2load: "h2load"} {
		path, err := exec.LookPath(bin)
		if err != nil {
			if perr := pkgs.need(toolPackages[tool]); perr != nil {
				err = perr
			}
			r.toolErrs[tool] = fmt.Errorf("no %s: %w", bin, err)
			log.Warn("load generator missing", "tool", bin, "err", r.toolErrs[tool])
			continue
		}
		r.tools[tool] = path
	}
	bodyPath := filepath.Join(dir, "post.json")
	if err := os.WriteFile(bodyPath, r.postBody, 0o644); err != nil {
		return nil, err
	}
	r.postScript = filepath.Join(dir, "post.lua")
	if err := os.WriteFile(r.postScript, []byte(wrkPostScript(bodyPath)), 0o644); err != nil {
		return nil, err
	}
	return r, nil
}

// serverInfos lists every target with its versions and status, in report order.
func serverInfos(ctx context.Context, servers map[string]*server, pkgs packages, m machine) []serverInfo {
	order := []string{srvEdge, srvOrigin, srvNginx, srvNginxModSec, srvNginxCache, srvVarnish, srvHAProxy, srvCaddy}
	var out []serverInfo
	for _, id := range order {
		s := servers[id]
		info := serverInfo{ID: id, Label: s.Label, Status: "ok"}
		if s.Err != nil {
			info.Status = s.Err.Error()
		}
		switch id {
		case srvEdge:
			info.Versions = []string{"work tree " + m.EdgeRev, m.Go}
		case srvOrigin:
			info.Versions = []string{m.Go + " net/http, in the harness"}
		default:
			for _, pkg := range serverPackages[id] {
				v, ok := pkgs.Version[pkg]
				if !ok {
					v, ok = installedVersion(ctx, pkg)
				}
				if ok {
					info.Versions = append(info.Versions, pkg+" "+v)
				}
			}
		}
		out = append(out, info)
	}
	return out
}

// toolVersions names the load generators with their package versions.
func toolVersions(pkgs packages) []string {
	var out []string
	for _, t := range []loadTool{toolWrk, toolH2load} {
		pkg := toolPackages[t]
		if v, ok := pkgs.Version[pkg]; ok {
			out = append(out, fmt.Sprintf("%s (%s %s)", t, pkg, v))
		}
	}
	return append(out, fmt.Sprintf("TLS handshakes: Go crypto/tls client (%s)", runtime.Version()))
}
