package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rampart-edge/rampart/scripts/internal/tool"
)

// process is a server the harness started, in its own process group so that
// stopping it reaches its workers too.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	waitErr error         // set before done is closed
}

// startProcess starts argv in dir with its stdout and stderr in <dir>/<name>.out.
func startProcess(name, dir string, argv []string, env []string) (*process, error) {
	logPath := filepath.Join(dir, name+".out")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// pid is the process's own PID (its process group ID too).
func (p *process) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended, with its wait error.
func (p *process) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.waitErr
	default:
		return false, nil
	}
}

// outputTail is the last lines the process wrote, for error messages.
func (p *process) outputTail() string {
	return fileTail(p.logPath, 6)
}

// stop sends SIGTERM to the process group, and SIGKILL after grace.
func (p *process) stop(grace time.Duration) {
	if done, _ := p.exited(); done {
		return
	}
	pgid := p.pid()
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
}

// tree is the process and all its descendants, from /proc.
func (p *process) tree() []int {
	return descendants(p.pid())
}

// descendants returns root and every process below it.
func descendants(root int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return []int{root}
	}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		if ppid, ok := parentPID(stat); ok {
			children[ppid] = append(children[ppid], pid)
		}
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// parentPID reads the fourth field of /proc/<pid>/stat; the command name
// before it is in parentheses and may hold spaces.
func parentPID(stat []byte) (int, bool) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(fields[1])
	return ppid, err == nil
}

// cpuTicks sums user and system CPU time over pids, in clock ticks.
func cpuTicks(pids []int) int64 {
	var sum int64
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		// After the command name: state is field 3, utime 14, stime 15.
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 13 {
			continue
		}
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		sum += utime + stime
	}
	return sum
}

// clockTick is the unit of /proc/<pid>/stat's CPU times (USER_HZ, 100 on
// Linux whatever the kernel's own tick rate).
const clockTick = 10 * time.Millisecond

// cpuPerRequest is ticks of CPU time spread over requests, in µs; 0 when
// either is missing.
func cpuPerRequest(ticks, requests int64) float64 {
	if ticks <= 0 || requests <= 0 {
		return 0
	}
	return float64(ticks) * float64(clockTick/time.Microsecond) / float64(requests)
}

// resetPeakRSS resets VmHWM to the current RSS (proc(5), clear_refs "5").
func resetPeakRSS(pids []int) error {
	var errs []error
	for _, pid := range pids {
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// peakRSSKB sums VmHWM over pids. Shared pages (an nginx master's config,
// copied on write into its workers) count once per process, so for
// multi-process servers this is an upper bound.
func peakRSSKB(pids []int) int64 {
	var sum int64
	for _, pid := range pids {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		sum += statusKB(string(status), "VmHWM:")
	}
	return sum
}

// statusKB reads a "Key:   123 kB" line of /proc/<pid>/status.
func statusKB(status, key string) int64 {
	for line := range strings.Lines(status) {
		if rest, ok := strings.CutPrefix(line, key); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// fileTail returns the last n non-empty lines of a file, joined by " | ".
func fileTail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return tool.LastLines(string(data), n)
}
