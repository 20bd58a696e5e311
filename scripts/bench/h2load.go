package main

import (
	"bufio"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// h2loadResult is what one h2load run printed.
type h2loadResult struct {
	Protocol    string // "Application protocol:", h2 when ALPN agreed on it
	ReqPerSec   float64
	Requests    int64 // done
	Succeeded   int64
	Failed      int64
	Errored     int64
	Timeout     int64
	Status2xx   int64
	StatusOther int64 // 3xx + 4xx + 5xx
	MeanRequest time.Duration
}

// parseH2load reads nghttp2 1.5x's h2load report. The "finished in" line is required.
func parseH2load(out string) (h2loadResult, error) {
	var r h2loadResult
	var finished bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		var err error
		switch {
		case strings.HasPrefix(line, "Application protocol:"):
			r.Protocol = strings.TrimSpace(strings.TrimPrefix(line, "Application protocol:"))
		case strings.HasPrefix(line, "finished in "):
			// finished in 8.00s, 33012.50 req/s, 38.34MB/s
			f := strings.Split(line, ", ")
			if len(f) < 2 {
				return h2loadResult{}, fmt.Errorf("h2load output: %q", line)
			}
			r.ReqPerSec, err = strconv.ParseFloat(strings.TrimSuffix(f[1], " req/s"), 64)
			finished = err == nil
		case strings.HasPrefix(line, "requests: "):
			// requests: 264100 total, 264164 started, 264100 done, 264100 succeeded, 0 failed, 0 errored, 0 timeout
			var total, started int64
			_, err = fmt.Sscanf(line, "requests: %d total, %d started, %d done, %d succeeded, %d failed, %d errored, %d timeout",
				&total, &started, &r.Requests, &r.Succeeded, &r.Failed, &r.Errored, &r.Timeout)
		case strings.HasPrefix(line, "status codes: "):
			var s3, s4, s5 int64
			_, err = fmt.Sscanf(line, "status codes: %d 2xx, %d 3xx, %d 4xx, %d 5xx", &r.Status2xx, &s3, &s4, &s5)
			r.StatusOther = s3 + s4 + s5
		case strings.HasPrefix(line, "time for request:"):
			// time for request:      364us     16.74ms      2.18ms      1.41ms    71.62%
			f := strings.Fields(strings.TrimPrefix(line, "time for request:"))
			if len(f) >= 3 {
				r.MeanRequest, err = parseWrkDuration(f[2])
			}
		}
		if err != nil {
			return h2loadResult{}, fmt.Errorf("h2load output: %q: %w", line, err)
		}
	}
	if !finished {
		return h2loadResult{}, errors.New("h2load output: no \"finished in\" line")
	}
	return r, nil
}

// h2loadArgs is the h2load command line for one run: TLS to addr with SNI
// and :authority host, HTTP/2 only.
func h2loadArgs(threads, conns, streams int, d time.Duration, host, addr, path string) []string {
	_, port, _ := strings.Cut(addr, ":")
	return []string{
		"-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "-m", strconv.Itoa(streams),
		"-D", wholeSeconds(d),
		"--npn-list", "h2",
		"--connect-to", addr,
		"-H", "accept: */*",
		"-H", "user-agent: rampart-bench",
		fmt.Sprintf("https://%s:%s%s", host, port, path),
	}
}
