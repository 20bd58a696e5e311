// Command crsregression runs the OWASP CRS regression suite (the tests/
// folder shipped in github.com/corazawaf/coraza-coreruleset/v4) with go-ftw
// against a real edge agent: the edgeagent binary in standalone mode, with
// one site whose WAF policy is the suite's required setup (detect mode,
// paranoia level 4, response inspection, the test marker rule), in front of
// albedo, the CRS project's test backend. It prints passed/total and exits
// non-zero when a test fails.
//
//	go run . -edge path/to/edgeagent [-include 942] [-timeout 10m]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	crstests "github.com/corazawaf/coraza-coreruleset/v4/tests"
	"github.com/coreruleset/albedo/server"
	"github.com/coreruleset/go-ftw/v2/config"
	"github.com/coreruleset/go-ftw/v2/output"
	"github.com/coreruleset/go-ftw/v2/runner"
	"github.com/coreruleset/go-ftw/v2/test"
	"github.com/rs/zerolog"

	"github.com/rampart-edge/rampart/controlsvc/api"
)

// siteHost is the harness site; .ftw.yml sends every request to it.
const siteHost = "crs.rampart.test"

// setupRules is the CRS regression suite's required configuration (rule
// 900005 of CRS's tests/regression/README.md, as Coraza's own CI sets it)
// minus what the policy already says (engine mode, paranoia level), and the
// marker rule go-ftw finds its place in the log by. The suite assumes the
// CRS's allowed methods and body types, which Rampart widens for APIs by
// default, so they are set back here.
var setupRules = []string{
	`SecAction "id:900005,phase:1,nolog,pass,ctl:ruleRemoveById=910000,setvar:'tx.allowed_methods=GET HEAD POST OPTIONS',setvar:'tx.allowed_request_content_type=|application/x-www-form-urlencoded| |multipart/form-data| |text/xml| |application/xml| |application/soap+xml| |application/json|',setvar:tx.crs_validate_utf8_encoding=1,setvar:tx.arg_name_length=100,setvar:tx.arg_length=400,setvar:tx.total_arg_length=64000,setvar:tx.max_num_args=255,setvar:tx.max_file_size=64100,setvar:tx.combined_file_sizes=65535"`,
	`SecRule REQUEST_HEADERS:X-CRS-Test "@rx ^.*$" "id:999999,phase:1,pass,t:none,log,msg:'X-CRS-Test %{MATCHED_VAR}',ctl:ruleRemoveById=1-999999"`,
}

func main() {
	edgeBin := flag.String("edge", "", "the edgeagent binary (required)")
	include := flag.String("include", "", "only tests whose rule id matches this regular expression")
	timeout := flag.Duration("timeout", 15*time.Minute, "give up after this long")
	keep := flag.Bool("keep", false, "keep the work directory (logs) and print its path")
	verbose := flag.Bool("v", false, "print every test")
	flag.Parse()
	if *edgeBin == "" {
		fmt.Fprintln(os.Stderr, "crsregression: -edge is required")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	// albedo logs every request it reflects; only go-ftw's report matters here.
	slog.SetDefault(slog.New(slog.DiscardHandler))
	outMode := "quiet"
	if *verbose {
		outMode = "normal"
	}
	if err := run(ctx, *edgeBin, *include, outMode, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "crsregression:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, edgeBin, include, outMode string, keep bool) error {
	dir, err := os.MkdirTemp("", "crsregression-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Println("work directory:", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	// The backend: albedo, answering text/plain as in Coraza's CI so the
	// response rules see the bodies.
	originLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	albedo := server.Handler()
	origin := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		albedo.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 10 * time.Second}
	go origin.Serve(originLn)
	defer origin.Close()

	// The edge: standalone, one site, the suite's policy.
	site := api.Site{
		V: api.Version, Hostname: siteHost,
		Origins: []api.Origin{{URL: "http://" + originLn.Addr().String()}},
		HTTPS:   api.HTTPSPolicy{HTTP: api.HTTPAllow},
		WAF: api.WAFPolicy{
			Mode: api.WAFDetect, Paranoia: 4, InspectResponse: true,
			CustomRules: setupRules,
		},
	}
	if err := site.Validate(); err != nil {
		return fmt.Errorf("harness site: %w", err)
	}
	static, _ := json.Marshal(map[string]any{"sites": []api.Site{site}})
	staticPath := filepath.Join(dir, "sites.json")
	if err := os.WriteFile(staticPath, static, 0o600); err != nil {
		return err
	}
	addrs, err := freeAddrs(2)
	if err != nil {
		return err
	}
	httpAddr, adminAddr := addrs[0], addrs[1]
	matchLog := filepath.Join(dir, "waf-match.log")
	edgeLog, err := os.Create(filepath.Join(dir, "edge.log"))
	if err != nil {
		return err
	}
	defer edgeLog.Close()
	cmd := exec.CommandContext(ctx, edgeBin, "-static", staticPath, "-http", httpAddr, "-admin", adminAddr,
		"-waf-match-log", matchLog, "-access-log", filepath.Join(dir, "access.log"))
	cmd.Stdout, cmd.Stderr = edgeLog, edgeLog
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start edge: %w", err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()
	if err := waitHealthy(ctx, "http://"+adminAddr+"/healthz"); err != nil {
		return fmt.Errorf("edge: %w (see %s)", err, edgeLog.Name())
	}

	// The suite.
	var tests []*test.FTWTest
	err = fs.WalkDir(crstests.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		data, err := fs.ReadFile(crstests.FS, path)
		if err != nil {
			return err
		}
		t, err := test.GetTestFromYaml(data, path)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		tests = append(tests, t)
		return nil
	})
	if err != nil {
		return err
	}
	if len(tests) == 0 {
		return errors.New("no tests found")
	}
	zerolog.SetGlobalLevel(zerolog.WarnLevel)
	cfg, err := config.NewConfigFromFile(".ftw.yml")
	if err != nil {
		return err
	}
	cfg.LogFile = matchLog
	host, portStr, _ := net.SplitHostPort(httpAddr)
	port, _ := strconv.Atoi(portStr)
	cfg.TestOverride.Overrides.DestAddr = &host
	cfg.TestOverride.Overrides.Port = &port
	if include != "" {
		re, err := config.NewFTWRegexp(include)
		if err != nil {
			return err
		}
		cfg.IncludeTests = re
	}
	rc := config.NewRunnerConfiguration(cfg)
	rc.ReadTimeout = 10 * time.Second
	if err := rc.LoadPlatformOverrides(".ftw-overrides.yml"); err != nil {
		return err
	}
	start := time.Now()
	res, err := runner.Run(rc, tests, output.NewOutput(outMode, os.Stdout))
	if err != nil {
		return err
	}
	st := res.Stats
	ran := len(st.Success) + len(st.Failed)
	fmt.Printf("CRS regression (coraza-coreruleset %s tests, edge in detect mode at PL4): %d/%d passed, %d failed, %d ignored, %d skipped, in %s\n",
		"v4.25.0", len(st.Success), ran, len(st.Failed), len(st.Ignored), len(st.Skipped), time.Since(start).Round(time.Second))
	if len(st.Failed) > 0 {
		failed := append([]string(nil), st.Failed...)
		sort.Strings(failed)
		fmt.Println("failed:", strings.Join(failed, " "))
		return fmt.Errorf("%d tests failed", len(st.Failed))
	}
	return nil
}

// freeAddrs returns n distinct free loopback addresses: every listener
// stays open until all are found (as scripts/natslab's freePorts), since
// the kernel readily hands a just-closed port out again.
func freeAddrs(n int) ([]string, error) {
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}

// waitHealthy polls the edge's health endpoint until it answers 200.
func waitHealthy(ctx context.Context, url string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("not healthy: %v", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}
