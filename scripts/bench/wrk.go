package main

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// wrkResult is what one wrk run printed.
type wrkResult struct {
	Requests       int64
	Elapsed        time.Duration
	ReqPerSec      float64
	TransferPerSec float64 // bytes per second
	LatencyAvg     time.Duration
	P50, P75       time.Duration // --latency distribution
	P90, P99       time.Duration
	Non2xx         int64 // wrk's "Non-2xx or 3xx responses"
	ConnectErrors  int64
	ReadErrors     int64
	WriteErrors    int64
	Timeouts       int64
}

// Errors is every socket error wrk counted.
func (r wrkResult) Errors() int64 {
	return r.ConnectErrors + r.ReadErrors + r.WriteErrors + r.Timeouts
}

// parseWrk reads wrk 4's report. Requests/sec is required; the rest is read
// when present.
func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	var haveRate bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		f := strings.Fields(line)
		var err error
		switch {
		case len(f) == 0:
			continue
		case f[0] == "Requests/sec:" && len(f) == 2:
			r.ReqPerSec, err = strconv.ParseFloat(f[1], 64)
			haveRate = err == nil
		case f[0] == "Transfer/sec:" && len(f) == 2:
			r.TransferPerSec, err = parseSize(f[1])
		case f[0] == "Latency" && len(f) >= 4: // the thread stats line, not "Latency Distribution"
			r.LatencyAvg, err = parseWrkDuration(f[1])
		case len(f) == 2 && strings.HasSuffix(f[0], "%"):
			var d time.Duration
			d, err = parseWrkDuration(f[1])
			switch f[0] {
			case "50%":
				r.P50 = d
			case "75%":
				r.P75 = d
			case "90%":
				r.P90 = d
			case "99%":
				r.P99 = d
			}
		case len(f) >= 5 && f[1] == "requests" && f[2] == "in":
			r.Requests, err = strconv.ParseInt(f[0], 10, 64)
			if err == nil {
				r.Elapsed, err = parseWrkDuration(strings.TrimSuffix(f[3], ","))
			}
		case strings.HasPrefix(line, "Socket errors:"):
			// Socket errors: connect 0, read 0, write 0, timeout 0
			_, err = fmt.Sscanf(line, "Socket errors: connect %d, read %d, write %d, timeout %d",
				&r.ConnectErrors, &r.ReadErrors, &r.WriteErrors, &r.Timeouts)
		case strings.HasPrefix(line, "Non-2xx or 3xx responses:"):
			r.Non2xx, err = strconv.ParseInt(f[len(f)-1], 10, 64)
		}
		if err != nil {
			return wrkResult{}, fmt.Errorf("wrk output: %q: %w", line, err)
		}
	}
	if !haveRate {
		return wrkResult{}, errors.New("wrk output: no Requests/sec line")
	}
	return r, nil
}

// parseWrkDuration reads wrk's and h2load's durations: "812.00us", "1.63ms", "2.01s", "1.50m".
func parseWrkDuration(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"m", time.Minute}, {"h", time.Hour}, {"s", time.Second}}
	for _, u := range units {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return 0, fmt.Errorf("duration %q: %w", s, err)
		}
		return time.Duration(math.Round(v * float64(u.unit))), nil
	}
	return 0, fmt.Errorf("duration %q: no unit", s)
}

// parseSize reads wrk's and h2load's byte counts: "512.00B", "48.73MB", "1.10GB".
func parseSize(s string) (float64, error) {
	units := []struct {
		suffix string
		scale  float64
	}{{"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"TB", 1 << 40}, {"B", 1}}
	for _, u := range units {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return 0, fmt.Errorf("size %q: %w", s, err)
		}
		return v * u.scale, nil
	}
	return 0, fmt.Errorf("size %q: no unit", s)
}

// wrkArgs is the wrk command line for one run. Durations are whole seconds,
// as wrk takes them; every request carries the same headers whatever the
// target, so a WAF sees a browser-like request. The 10 s timeout (wrk's
// default is 2 s) lets a slow WAF be measured rather than time out: 64
// requests queued behind ModSecurity's 70-object POSTs wait seconds.
func wrkArgs(threads, conns int, d time.Duration, host, url, script string) []string {
	args := []string{
		"-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns),
		"-d", wholeSeconds(d), "--timeout", "10s", "--latency",
		"-H", "Host: " + host,
		"-H", "Accept: */*",
		"-H", "User-Agent: rampart-bench",
	}
	if script != "" {
		args = append(args, "-s", script)
	}
	return append(args, url)
}

// wholeSeconds rounds d to whole seconds, at least one, as "8s".
func wholeSeconds(d time.Duration) string {
	s := max(1, int(math.Round(d.Seconds())))
	return strconv.Itoa(s) + "s"
}

// wrkPostScript is a wrk Lua script that POSTs the file at bodyPath as JSON.
func wrkPostScript(bodyPath string) string {
	return fmt.Sprintf(`-- Written by scripts/bench: POST a JSON document on every request.
local f = assert(io.open(%q, "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
`, bodyPath)
}
