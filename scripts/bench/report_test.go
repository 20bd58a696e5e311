package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the golden file (go test -update to accept):\n%s", name, got)
	}
}

// sampleResults has a row in every state the report renders.
func sampleResults() results {
	return results{
		Started:  time.Date(2026, 11, 24, 1, 2, 3, 0, time.UTC),
		ElapsedS: 545.2,
		Settings: settings{DurationS: 8, WarmupS: 2, Rounds: 3, Threads: 2, Connections: 64, Streams: 4},
		Machine: machine{
			CPUModel: "AMD EPYC", CPUs: 2, MemoryGiB: 23.54, Kernel: "6.1.0", OS: "Debian GNU/Linux 12 (bookworm)",
			Go: "go1.26.8", EdgeRev: "abc1234", LoadStart: "0.10, 0.20, 0.30", LoadEnd: "2.50, 1.20, 0.60",
		},
		Servers: []serverInfo{
			{ID: srvEdge, Label: "edge", Versions: []string{"work tree abc1234", "go1.26.8"}, Status: "ok"},
			{ID: srvNginx, Label: "nginx", Versions: []string{"nginx 1.22.1-9+deb12u11"}, Status: "ok"},
			{ID: srvCaddy, Label: "Caddy", Status: "not installed: package caddy: apt-get install caddy: exit status 100: E: Unable to locate package caddy"},
		},
		Tools: []string{"wrk (wrk 4.1.0-3+b2)", "h2load (nghttp2-client 1.52.0-1+deb12u3)"},
		Workloads: []*workloadResult{
			{ID: "proxy-1k", Title: "Reverse proxy, GET 1 KB", Unit: "req/s", Tool: "wrk", Rows: []*row{
				{Server: srvEdge, Label: "edge", Status: statusOK, spread: spread{18123.4, 17000, 18500}, P99Ms: 6.31, PeakRSSKB: 24 << 10, CPUUsPerReq: 92.4},
				{Server: srvNginx, Label: "nginx", Status: statusOK, spread: spread{16000, 15000, 20000}, EdgeRatio: 18123.4 / 16000, P99Ms: 12.5, PeakRSSKB: 21 << 10, CPUUsPerReq: 110.9, CPURatio: 110.9 / 92.4,
					Notes: []string{"3 errors, 0 non-2xx of 480000"}},
				{Server: srvCaddy, Label: "Caddy", Status: "not available: not installed | really"},
			}},
			{ID: "waf-post-4k", Title: "WAF (CRS PL1), POST 4 KB JSON (70 objects)", Unit: "req/s", Tool: "wrk", Rows: []*row{
				{Server: srvEdge, Label: "edge", Status: statusNotImplemented},
				{Server: srvNginxModSec, Label: "nginx + ModSecurity + CRS", Status: statusOK, spread: spread{19.5, 18.25, 21}, P99Ms: 3400, CPUUsPerReq: 51234},
			}},
			{ID: "h2-1k", Title: "HTTP/2 over TLS, GET 1 KB", Unit: "req/s", Tool: "h2load", Rows: []*row{
				{Server: srvEdge, Label: "edge", Status: "failed: h2load: the server did not negotiate h2 (got \"\")", Failed: true},
				{Server: srvNginx, Label: "nginx", Status: statusOK, spread: spread{9000, 8000, 9500}, MeanMs: 7.1},
				{Server: srvHAProxy, Label: "HAProxy", Status: statusOK, Failed: true, spread: spread{9000, 8000, 9500}, MeanMs: 7.1,
					Notes: []string{"0 errors, 90000 non-2xx of 90000"}},
			}},
		},
		Notes: []string{"Peak RSS is each process's lifetime peak: resetting it failed (permission denied)"},
	}
}

func TestRenderMarkdownGolden(t *testing.T) {
	golden(t, "report.golden", []byte(renderMarkdown(sampleResults())))
}

func TestResultsJSONRoundTrip(t *testing.T) {
	res := sampleResults()
	data, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var back results
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	got := back.Workloads[0].Rows[1]
	if got.Median != 16000 || got.EdgeRatio != 18123.4/16000 || got.PeakRSSKB != 21<<10 || got.CPUUsPerReq != 110.9 {
		t.Errorf("round trip lost fields: %+v", got)
	}
	// The spread is flattened into the row, as readers of the JSON expect.
	if !strings.Contains(string(data), `"median":16000,"min":15000,"max":20000`) {
		t.Errorf("JSON row layout changed: %s", data)
	}
}

func TestSpliceReport(t *testing.T) {
	section := markBegin + "\nNEW\n" + markEnd + "\n"
	tests := []struct{ name, doc, want string }{
		{"empty", "", "# Benchmark: the edge beside its peers\n\n" + section},
		{"no markers", "# Bench\n\nprose\n", "# Bench\n\nprose\n\n" + section},
		{
			"replaces between markers, keeps the rest",
			"# Bench\n\nbefore\n\n" + markBegin + "\nOLD\nOLD\n" + markEnd + "\n\nafter\n",
			"# Bench\n\nbefore\n\n" + section + "\nafter\n",
		},
		{
			"end marker last in the file",
			"intro\n" + markBegin + "\nOLD\n" + markEnd,
			"intro\n" + section,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := spliceReport(tt.doc, section); got != tt.want {
				t.Errorf("spliceReport =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestWriteReportKeepsProse(t *testing.T) {
	dir := t.TempDir()
	md := filepath.Join(dir, "docs", "bench.md")
	js := filepath.Join(dir, ".bench", "bench.json")
	if err := os.MkdirAll(filepath.Dir(md), 0o755); err != nil {
		t.Fatal(err)
	}
	prose := "# Bench\n\nHand-written.\n\n" + markBegin + "\nold table\n" + markEnd + "\n\n## Noise\n\nMore prose.\n"
	if err := os.WriteFile(md, []byte(prose), 0o644); err != nil {
		t.Fatal(err)
	}
	res := sampleResults()
	if err := writeReport(res, md, js); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Hand-written.", "## Noise\n\nMore prose.", "| **edge** | 18,123 |"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(string(got), "old table") {
		t.Error("the old generated section was kept")
	}
	var back results
	data, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &back); err != nil || len(back.Workloads) != len(res.Workloads) {
		t.Errorf("JSON results: %v, %d workloads", err, len(back.Workloads))
	}
}

func TestFormatting(t *testing.T) {
	rates := map[float64]string{0: "0.0", 19.46: "19.5", 99.94: "99.9", 100: "100", 1234.5: "1,235", 40573.81: "40,574", 1234567: "1,234,567"}
	for in, want := range rates {
		if got := fmtRate(in); got != want {
			t.Errorf("fmtRate(%v) = %q, want %q", in, got, want)
		}
	}
	durations := map[time.Duration]string{
		8 * time.Second: "8s", 1500 * time.Millisecond: "1.5s", 31123 * time.Millisecond: "31.1s",
		545 * time.Second: "9m05s", 0: "0s",
	}
	for in, want := range durations {
		if got := fmtDuration(in); got != want {
			t.Errorf("fmtDuration(%v) = %q, want %q", in, got, want)
		}
	}
	if got := cell("a | b\nc"); got != `a \| b c` {
		t.Errorf("cell = %q", got)
	}
}
