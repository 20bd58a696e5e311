package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestParseWrk(t *testing.T) {
	tests := []struct {
		file string
		want wrkResult
	}{
		{"wrk-proxy.txt", wrkResult{
			Requests: 7437, Elapsed: 1010 * time.Millisecond, ReqPerSec: 7381.58, TransferPerSec: 8.56 * (1 << 20),
			LatencyAvg: 8880 * time.Microsecond, P50: 7630 * time.Microsecond, P75: 11560 * time.Microsecond,
			P90: 15980 * time.Microsecond, P99: 26630 * time.Microsecond,
		}},
		{"wrk-modsecurity-post.txt", wrkResult{
			Requests: 3, Elapsed: 1100 * time.Millisecond, ReqPerSec: 2.74, TransferPerSec: 12.61 * (1 << 10),
			LatencyAvg: 599430 * time.Microsecond, P50: 568990 * time.Microsecond, P75: 661210 * time.Microsecond,
			P90: 661210 * time.Microsecond, P99: 661210 * time.Microsecond,
		}},
		{"wrk-non2xx.txt", wrkResult{
			Requests: 29822, Elapsed: 1010 * time.Millisecond, ReqPerSec: 29546.33, TransferPerSec: 4.96 * (1 << 20),
			LatencyAvg: 2410 * time.Microsecond, P50: 1890 * time.Microsecond, P75: 3560 * time.Microsecond,
			P90: 5510 * time.Microsecond, P99: 9700 * time.Microsecond, Non2xx: 29822,
		}},
		{"wrk-timeouts.txt", wrkResult{
			Requests: 16, Elapsed: 2010 * time.Millisecond, ReqPerSec: 7.97, TransferPerSec: 8.88 * (1 << 10),
			Timeouts: 16,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := parseWrk(readTestdata(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if !approxEqual(got.TransferPerSec, tt.want.TransferPerSec) {
				t.Errorf("TransferPerSec = %v, want %v", got.TransferPerSec, tt.want.TransferPerSec)
			}
			got.TransferPerSec, tt.want.TransferPerSec = 0, 0
			if got != tt.want {
				t.Errorf("parseWrk:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseWrkRejects(t *testing.T) {
	for _, tt := range []struct{ name, out, wantErr string }{
		{"refused", readTestdata(t, "wrk-refused.txt"), "no Requests/sec line"},
		{"empty", "", "no Requests/sec line"},
		{"bad rate", "Requests/sec:  lots\n", `"Requests/sec:  lots"`},
		{"bad latency", "    Latency     fast    1.21ms  30.10ms   89.12%\nRequests/sec: 1\n", `duration "fast"`},
		{"bad errors", "  Socket errors: connect x, read 0, write 0, timeout 0\nRequests/sec: 1\n", "Socket errors"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseWrk(tt.out)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("parseWrk error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseDurationAndSize(t *testing.T) {
	durations := map[string]time.Duration{
		"812.00us": 812 * time.Microsecond,
		"1.63ms":   1630 * time.Microsecond,
		"2.01s":    2010 * time.Millisecond,
		"1.50m":    90 * time.Second,
		"0us":      0,
	}
	for in, want := range durations {
		if got, err := parseWrkDuration(in); err != nil || got != want {
			t.Errorf("parseWrkDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "12", "ms", "1.2.3ms"} {
		if _, err := parseWrkDuration(bad); err == nil {
			t.Errorf("parseWrkDuration(%q): no error", bad)
		}
	}
	sizes := map[string]float64{"512.00B": 512, "1.50KB": 1536, "48.73MB": 48.73 * (1 << 20), "1.00GB": 1 << 30, "0B": 0}
	for in, want := range sizes {
		if got, err := parseSize(in); err != nil || !approxEqual(got, want) {
			t.Errorf("parseSize(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "12", "KB", "x.yMB"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q): no error", bad)
		}
	}
}

func TestParseH2load(t *testing.T) {
	got, err := parseH2load(readTestdata(t, "h2load-h2.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := h2loadResult{
		Protocol: "h2", ReqPerSec: 2532, Requests: 2532, Succeeded: 2532,
		Status2xx: 2538, MeanRequest: 23780 * time.Microsecond,
	}
	if got != want {
		t.Errorf("parseH2load:\n got %+v\nwant %+v", got, want)
	}

	// A server without h2 in ALPN: h2load finishes with nothing done and no protocol.
	got, err = parseH2load(readTestdata(t, "h2load-h1only.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Protocol != "" || got.ReqPerSec != 0 || got.Requests != 0 {
		t.Errorf("parseH2load(h1 only) = %+v, want no protocol and nothing done", got)
	}

	if _, err := parseH2load("starting benchmark...\n"); err == nil {
		t.Error("parseH2load of an unfinished run: no error")
	}
}

func TestToolArgs(t *testing.T) {
	got := strings.Join(wrkArgs(2, 64, 8*time.Second, "bench.test", "http://127.0.0.1:1/1k", ""), " ")
	want := "-t 2 -c 64 -d 8s --timeout 10s --latency -H Host: bench.test -H Accept: */* -H User-Agent: rampart-bench http://127.0.0.1:1/1k"
	if got != want {
		t.Errorf("wrkArgs =\n %s\nwant\n %s", got, want)
	}
	got = strings.Join(wrkArgs(2, 64, 300*time.Millisecond, "bench.test", "http://127.0.0.1:1/api", "/tmp/post.lua"), " ")
	if !strings.Contains(got, "-d 1s ") || !strings.Contains(got, "-s /tmp/post.lua http://127.0.0.1:1/api") {
		t.Errorf("wrkArgs with a script and a short run = %s", got)
	}
	got = strings.Join(h2loadArgs(2, 16, 4, 8*time.Second, "bench.test", "127.0.0.1:8443", "/nostore/1k"), " ")
	want = "-t 2 -c 16 -m 4 -D 8s --npn-list h2 --connect-to 127.0.0.1:8443 -H accept: */* -H user-agent: rampart-bench https://bench.test:8443/nostore/1k"
	if got != want {
		t.Errorf("h2loadArgs =\n %s\nwant\n %s", got, want)
	}
	if s := wrkPostScript("/tmp/x/post.json"); !strings.Contains(s, `io.open("/tmp/x/post.json", "rb")`) || !strings.Contains(s, `wrk.method = "POST"`) {
		t.Errorf("wrkPostScript = %s", s)
	}
}

func approxEqual(a, b float64) bool {
	d := a - b
	if d < 0 {
		d = -d
	}
	return d <= 1e-9*max(1, a, b)
}
