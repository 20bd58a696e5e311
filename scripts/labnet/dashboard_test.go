package labnet

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// e2eDir holds the browser test (dashboard.test.mjs) and its npm lock file.
const e2eDir = "../dashboard-e2e"

// chromiumPath is Debian's Chromium, which the browser test drives.
const chromiumPath = "/usr/bin/chromium"

// TestDashboardBrowser boots the lab and runs the dashboard's browser test
// (Playwright, headless Chromium) against it: sign-in, adding a site served
// by an edge, the WAF rollout and its events, purge, rate limits, bad input
// in every form, keyboard navigation. Screenshots go to
// scripts/dashboard-e2e/screenshots (or $RAMPART_SCREENSHOTS).
//
// Without node, Chromium or the npm packages it is skipped, unless
// RAMPART_REQUIRE_BROWSER=1 (scripts/test sets it after installing them).
func TestDashboardBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	var missing []string
	if _, err := exec.LookPath("node"); err != nil {
		missing = append(missing, "node")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		missing = append(missing, chromiumPath+" (apt-get install chromium)")
	}
	if _, err := os.Stat(filepath.Join(e2eDir, "node_modules", "playwright-core")); err != nil {
		missing = append(missing, "playwright-core (cd scripts/dashboard-e2e && npm ci)")
	}
	if len(missing) > 0 {
		msg := "browser test needs " + strings.Join(missing, ", ")
		if os.Getenv("RAMPART_REQUIRE_BROWSER") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	shots := os.Getenv("RAMPART_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join(e2eDir, "screenshots")
	}
	shots, err := filepath.Abs(shots)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(shots); err != nil {
		t.Fatal(err)
	}

	origin := startCacheableOrigin(t)
	ctx := context.Background()
	l, err := Start(ctx, Config{Dir: t.TempDir(), HeartbeatInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	caPath, err := l.WriteCACert()
	if err != nil {
		t.Fatal(err)
	}
	edge := l.Edges()[0]

	runCtx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(runCtx, "node", "dashboard.test.mjs")
	cmd.Dir = e2eDir
	cmd.Env = append(os.Environ(),
		"DASHBOARD_URL="+l.Control.DashboardURL(),
		"ADMIN_TOKEN="+l.Control.Token(),
		"API_URL="+l.APIURL(),
		"EDGE_HTTPS="+edge.Agent.Addr("https"),
		"EDGE_CA="+caPath,
		"ORIGIN_URL="+origin,
		"SITE=shop.rampart.test",
		"SCREENSHOT_DIR="+shots,
		"CHROMIUM="+chromiumPath,
	)
	// Its own process group, so a timeout also ends the browser it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("browser test output:\n%s", out)
	if err != nil {
		t.Fatalf("browser test failed: %v (screenshots in %s)", err, shots)
	}
	t.Logf("screenshots in %s", shots)
}

// startCacheableOrigin serves what the demo origin does (Echo JSON), but
// lets shared caches keep it for a minute, so the edge cache stores it.
func startCacheableOrigin(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=60")
		json.NewEncoder(w).Encode(Echo{Origin: "cacheable", Method: r.Method, Host: r.Host, URI: r.RequestURI,
			XForwardedProt: r.Header.Get("X-Forwarded-Proto"), XRequestID: r.Header.Get("X-Request-Id")})
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}
