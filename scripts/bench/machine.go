package main

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// machine describes where the numbers were measured.
type machine struct {
	CPUModel  string  `json:"cpu_model"`
	CPUs      int     `json:"cpus"`
	MemoryGiB float64 `json:"memory_gib"`
	Kernel    string  `json:"kernel"`
	OS        string  `json:"os"`
	Go        string  `json:"go"`
	EdgeRev   string  `json:"edge_rev,omitempty"` // commit the edge was built from, "+dirty" with local changes
	LoadStart string  `json:"load_start,omitempty"`
	LoadEnd   string  `json:"load_end,omitempty"`
}

// loadAverage is the 1, 5 and 15 minute load averages from /proc/loadavg.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], ", ")
}

// readMachine reads the machine's description from /proc and friends;
// anything it cannot read stays empty.
func readMachine(ctx context.Context, repoRoot string) machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), LoadStart: loadAverage()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPUModel = cpuModel(string(data))
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		m.MemoryGiB = float64(statusKB(string(data), "MemTotal:")) / (1 << 20)
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	if data, err := os.ReadFile("/etc/os-release"); err == nil {
		m.OS = osRelease(string(data))
	}
	if out, err := exec.CommandContext(ctx, "git", "-C", repoRoot, "rev-parse", "--short", "HEAD").Output(); err == nil {
		m.EdgeRev = strings.TrimSpace(string(out))
		if st, err := exec.CommandContext(ctx, "git", "-C", repoRoot, "status", "--porcelain", "--", "edgeagent", "controlsvc/api").Output(); err == nil && len(st) > 0 {
			m.EdgeRev += "+dirty"
		}
	}
	return m
}

// cpuModel is the first "model name" in /proc/cpuinfo.
func cpuModel(cpuinfo string) string {
	for line := range strings.Lines(cpuinfo) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// osRelease is PRETTY_NAME from /etc/os-release.
func osRelease(data string) string {
	for line := range strings.Lines(data) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// serverPackages are the Debian packages whose versions describe each server.
var serverPackages = map[string][]string{
	srvNginx:       {"nginx"},
	srvNginxModSec: {"nginx", "libnginx-mod-http-modsecurity", "libmodsecurity3", "modsecurity-crs"},
	srvNginxCache:  {"nginx"},
	srvVarnish:     {"varnish"},
	srvHAProxy:     {"haproxy"},
	srvCaddy:       {"caddy"},
}

// toolPackages are the Debian packages of the load generators.
var toolPackages = map[loadTool]string{toolWrk: "wrk", toolH2load: "nghttp2-client"}
