// Command cachetests runs the HTTP caching test suite (npm http-cache-tests
// 0.4.5, the suite behind cache-tests.fyi) against a real edge: the suite's
// test server is the origin, its client talks to the edge, and the results
// are scored with the suite's own determineTestResult.
//
//	go run ./scripts/cachetests              # run, print the summary, check the targets
//	go run ./scripts/cachetests -write       # also rewrite docs/cache-tests.md
//
// It installs Node.js (apt-get) and the npm package into .cache/cachetests
// when they are missing. It exits non-zero when a target is missed.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent"
	"github.com/rampart-edge/rampart/edgeagent/catalog"
	"github.com/rampart-edge/rampart/scripts/internal/tool"
)

var only string

const (
	pkgVersion = "0.4.5"
	siteHost   = "cache-tests.rampart.test"
)

func main() {
	write := flag.Bool("write", false, "rewrite the summary in docs/cache-tests.md")
	minRequired := flag.Int("min-required", 145, "fail below this many passed required tests")
	minOptimal := flag.Int("min-optimal", 80, "fail below this many passed optimal tests")
	timeout := flag.Duration("timeout", 5*time.Minute, "bound on the whole run")
	flag.StringVar(&only, "id", "", "run only this test, printing its requests and the edge's access log")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	root, err := tool.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cachetests:", err)
		os.Exit(1)
	}
	rep, err := run(ctx, root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cachetests:", err)
		os.Exit(1)
	}
	summary := rep.summary()
	fmt.Print(summary)
	if *write {
		if err := writeDoc(filepath.Join(root, "docs", "cache-tests.md"), summary, rep); err != nil {
			fmt.Fprintln(os.Stderr, "cachetests:", err)
			os.Exit(1)
		}
	}
	req, opt := rep.Counts["required"]["pass"], rep.Counts["optimal"]["pass"]
	harness := 0
	for _, kind := range rep.Counts {
		harness += kind["harness_fail"] + kind["retry"] + kind["untested"]
	}
	var fails []string
	if req < *minRequired {
		fails = append(fails, fmt.Sprintf("required passed %d < %d", req, *minRequired))
	}
	if opt < *minOptimal {
		fails = append(fails, fmt.Sprintf("optimal passed %d < %d", opt, *minOptimal))
	}
	if harness > 0 {
		fails = append(fails, fmt.Sprintf("%d harness errors", harness))
	}
	if len(fails) > 0 {
		fmt.Fprintln(os.Stderr, "cachetests: target missed:", strings.Join(fails, "; "))
		os.Exit(1)
	}
}

type report struct {
	Counts   map[string]map[string]int `json:"counts"`
	Tests    map[string]testOutcome    `json:"tests"`
	Duration time.Duration             `json:"-"`
}

type testOutcome struct {
	Kind    string `json:"kind"`
	Outcome string `json:"outcome"`
	Detail  string `json:"detail"`
}

func run(ctx context.Context, root string) (*report, error) {
	pkgDir, err := install(ctx, filepath.Join(root, ".cache", "cachetests"))
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "cachetests")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	// The suite's origin server.
	originPort, err := tool.FreePort()
	if err != nil {
		return nil, err
	}
	srv := exec.Command("node", "server/server.mjs")
	srv.Dir = pkgDir
	srv.Env = append(os.Environ(), "npm_config_protocol=http", fmt.Sprintf("npm_config_port=%d", originPort),
		"npm_config_pidfile="+filepath.Join(work, "server.pid"))
	var srvOut bytes.Buffer
	srv.Stdout, srv.Stderr = &srvOut, &srvOut
	srv.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("start test server: %w", err)
	}
	defer func() {
		_ = srv.Process.Kill()
		_ = srv.Wait()
	}()
	originAddr := fmt.Sprintf("127.0.0.1:%d", originPort)
	if err := waitTCP(ctx, originAddr, 20*time.Second); err != nil {
		return nil, fmt.Errorf("test server: %w: %s", err, srvOut.String())
	}

	// The edge, with one site in front of it.
	site := api.Site{
		V: api.Version, Hostname: siteHost,
		Origins: []api.Origin{{URL: "http://" + originAddr}},
		HTTPS:   api.HTTPSPolicy{HTTP: api.HTTPAllow},
		// The standard RFC 9111 behaviour, with heuristic freshness on
		// (off by default; the suite's heuristic tests expect it).
		Cache: api.CachePolicy{Rules: []api.CacheRule{{Path: "/*", Heuristic: true}}},
	}
	if err := site.Validate(); err != nil {
		return nil, err
	}
	raw, _ := json.Marshal(site)
	static, _ := json.Marshal(catalog.StaticFile{Sites: []json.RawMessage{raw}})
	staticPath := filepath.Join(work, "static.json")
	if err := os.WriteFile(staticPath, static, 0o600); err != nil {
		return nil, err
	}
	cfg := edgeagent.Config{Region: "lab", Node: "cachetests", HTTPAddr: "127.0.0.1:0", HTTPSAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0",
		StaticFile: staticPath, AllowPrivateOrigins: true, AccessLog: filepath.Join(work, "access.log")}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	agent, err := edgeagent.New(cfg, logger)
	if err != nil {
		return nil, err
	}
	if err := agent.Start(ctx); err != nil {
		return nil, err
	}
	defer agent.Close()
	_, edgePort, _ := net.SplitHostPort(agent.Addr("http"))

	start := time.Now()
	cli := exec.CommandContext(ctx, "node", filepath.Join(root, "scripts", "cachetests", "run.mjs"),
		"http://"+siteHost+":"+edgePort, "127.0.0.1", only)
	cli.Env = append(os.Environ(), "CACHE_TESTS_DIR="+pkgDir)
	var stderr bytes.Buffer
	cli.Stderr = &stderr
	out, err := cli.Output()
	agent.Close()
	log, _ := os.ReadFile(cfg.AccessLog)
	if only != "" {
		fmt.Fprintln(os.Stderr, stderr.String())
		fmt.Fprintln(os.Stderr, string(log))
	} else {
		// Origin errors point at the edge, not the cache logic: show them.
		for _, line := range strings.Split(string(log), "\n") {
			if strings.Contains(line, `"action":"origin_error"`) {
				fmt.Fprintln(os.Stderr, "origin error:", line)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("run the suite: %w: %s", err, tool.LastLines(stderr.String(), 10))
	}
	var rep report
	if err := json.Unmarshal(out, &rep); err != nil {
		return nil, fmt.Errorf("suite output: %w: %s", err, tool.LastLines(string(out), 5))
	}
	rep.Duration = time.Since(start)
	return &rep, nil
}

// install makes sure node and the npm package are there; it returns the
// package's directory.
func install(ctx context.Context, dir string) (string, error) {
	if _, err := exec.LookPath("node"); err != nil {
		cmd := exec.CommandContext(ctx, "sudo", "-n", "apt-get", "install", "-y", "-q", "nodejs", "npm")
		if os.Geteuid() == 0 {
			cmd = exec.CommandContext(ctx, "apt-get", "install", "-y", "-q", "nodejs", "npm")
		}
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("install nodejs: %w: %s", err, tool.LastLines(string(out), 5))
		}
	}
	pkg := filepath.Join(dir, "node_modules", "http-cache-tests")
	if data, err := os.ReadFile(filepath.Join(pkg, "package.json")); err == nil && bytes.Contains(data, []byte(`"version": "`+pkgVersion+`"`)) {
		return pkg, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--prefix", dir, "http-cache-tests@"+pkgVersion)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("npm install http-cache-tests@%s: %w: %s", pkgVersion, err, tool.LastLines(string(out), 5))
	}
	return pkg, nil
}

func waitTCP(ctx context.Context, addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			// The server answers once it is listening.
			if resp, err := http.Get("http://" + addr + "/state/none"); err == nil {
				resp.Body.Close()
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("not listening on " + addr)
}

func (r *report) summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "http-cache-tests %s against the edge (%s, %d tests)\n\n", pkgVersion, r.Duration.Round(time.Second), len(r.Tests))
	fmt.Fprintf(&b, "| kind | passed | failed | other |\n|---|---|---|---|\n")
	for _, kind := range []string{"required", "optimal", "check"} {
		c := r.Counts[kind]
		total := 0
		for _, n := range c {
			total += n
		}
		passed := c["pass"] + c["yes"]
		failed := c["fail"] + c["optional_fail"] + c["no"]
		fmt.Fprintf(&b, "| %s | %d / %d | %d | %d |\n", kind, passed, total, failed, total-passed-failed)
	}
	return b.String()
}

func writeDoc(path, summary string, r *report) error {
	var b strings.Builder
	b.WriteString("# HTTP cache tests\n\n")
	b.WriteString("`go run ./scripts/cachetests -write` runs the HTTP caching test suite behind\n")
	b.WriteString("[cache-tests.fyi](https://cache-tests.fyi) (npm `http-cache-tests` " + pkgVersion + ") with its test\n")
	b.WriteString("server as the origin and its client pointed at an edge, and scores it with the\n")
	b.WriteString("suite's own `determineTestResult` (test dependencies honoured). The site uses the\n")
	b.WriteString("standard cache rule with `heuristic: true`. `./scripts/test` runs it too and fails below\n")
	b.WriteString("145 required / 80 optimal passes or on any harness error.\n\n")
	b.WriteString(summary)
	b.WriteString("\nNot passed (kind, outcome, test, detail):\n\n")
	ids := make([]string, 0, len(r.Tests))
	for id, t := range r.Tests {
		if t.Outcome != "pass" && t.Outcome != "yes" {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool {
		a, c := r.Tests[ids[i]], r.Tests[ids[j]]
		if a.Kind != c.Kind {
			return a.Kind > c.Kind // required, optimal, check
		}
		return ids[i] < ids[j]
	})
	for _, id := range ids {
		t := r.Tests[id]
		detail := strings.ReplaceAll(t.Detail, "\n", " ")
		if len(detail) > 120 {
			detail = detail[:120] + "…"
		}
		fmt.Fprintf(&b, "- %s, %s, `%s`: %s\n", t.Kind, t.Outcome, id, detail)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
