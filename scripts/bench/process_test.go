package main

import (
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/rampart-edge/rampart/scripts/internal/tool"
)

func TestParentPID(t *testing.T) {
	tests := []struct {
		stat string
		want int
		ok   bool
	}{
		{"1234 (nginx) S 1200 1234 1234 0 -1", 1200, true},
		{"99 (a b) c) R 7 99 99", 7, true}, // a command name with spaces and a parenthesis
		{"garbage", 0, false},
		{"5 (x)", 0, false},
	}
	for _, tt := range tests {
		got, ok := parentPID([]byte(tt.stat))
		if got != tt.want || ok != tt.ok {
			t.Errorf("parentPID(%q) = %d %v, want %d %v", tt.stat, got, ok, tt.want, tt.ok)
		}
	}
}

func TestStatusKB(t *testing.T) {
	status := "Name:\tnginx\nVmPeak:\t  20000 kB\nVmHWM:\t    8192 kB\nVmRSS:\t    4096 kB\n"
	if got := statusKB(status, "VmHWM:"); got != 8192 {
		t.Errorf("VmHWM = %d, want 8192", got)
	}
	if got := statusKB(status, "VmSwap:"); got != 0 {
		t.Errorf("missing key = %d, want 0", got)
	}
}

// startShell runs script under sh as the harness runs a server, stopped
// when the test ends.
func startShell(t *testing.T, name, script string) *process {
	t.Helper()
	p, err := startProcess(name, t.TempDir(), []string{"sh", "-c", script}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.stop(time.Second) })
	return p
}

// TestCPUTicks burns CPU in a child and finds it in cpuTicks, and checks
// the per-request arithmetic.
func TestCPUTicks(t *testing.T) {
	p := startShell(t, "busy", "while :; do :; done")
	var ticks int64
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && ticks < 20; {
		time.Sleep(50 * time.Millisecond)
		ticks = cpuTicks(p.tree())
	}
	if ticks < 20 {
		t.Fatalf("cpuTicks = %d after a busy loop, want at least 20 (200 ms)", ticks)
	}
	if got := cpuPerRequest(150, 3000); got != 500 {
		t.Errorf("cpuPerRequest(150 ticks, 3000) = %v µs, want 500", got)
	}
	if got := cpuPerRequest(0, 3000) + cpuPerRequest(10, 0); got != 0 {
		t.Errorf("cpuPerRequest without ticks or requests = %v, want 0", got)
	}
}

// TestProcessTree starts a shell with a child, finds both in /proc, reads
// their peak RSS and stops the whole group.
func TestProcessTree(t *testing.T) {
	p := startShell(t, "tree", "sleep 30 & wait")
	deadline := time.Now().Add(5 * time.Second)
	var pids []int
	for time.Now().Before(deadline) {
		if pids = p.tree(); len(pids) >= 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(pids) < 2 || pids[0] != p.pid() {
		t.Fatalf("tree = %v, want the shell %d and its sleep", pids, p.pid())
	}
	if os.Geteuid() == 0 {
		if err := resetPeakRSS(pids); err != nil {
			t.Errorf("resetPeakRSS: %v", err)
		}
	}
	if kb := peakRSSKB(pids); kb <= 0 {
		t.Errorf("peak RSS %d kB, want some", kb)
	}
	child := pids[1]
	p.stop(time.Second)
	if done, _ := p.exited(); !done {
		t.Error("the process did not exit")
	}
	// The child is in the group and goes too (it may linger as a zombie of init briefly).
	for range 100 {
		if data, err := os.ReadFile("/proc/" + strconv.Itoa(child) + "/stat"); err != nil || slices.Contains([]string{"Z", "X"}, stateOf(data)) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("child %d still running after stop", child)
}

func TestLastLines(t *testing.T) {
	if got := tool.LastLines("a\n\nb\nc\n  \nd\n", 2); got != "c | d" {
		t.Errorf("lastLines = %q", got)
	}
	if got := tool.LastLines("", 3); got != "" {
		t.Errorf("lastLines of nothing = %q", got)
	}
}

// stateOf is the state letter of a /proc/<pid>/stat line.
func stateOf(stat []byte) string {
	for i := len(stat) - 1; i >= 0; i-- {
		if stat[i] == ')' && i+2 < len(stat) {
			return string(stat[i+2])
		}
	}
	return ""
}
