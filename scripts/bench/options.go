package main

import (
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Edge features a workload may need; the edge row of a workload that needs a
// feature the edge lacks says "not implemented yet" instead of measuring.
const (
	featureWAF   = "waf"
	featureCache = "cache"
)

// options is the validated command line.
type options struct {
	Smoke       bool
	Duration    time.Duration // measured time of one run
	Warmup      time.Duration // unmeasured run before the first round, per target
	Rounds      int
	Threads     int // wrk -t, h2load -t
	Connections int // wrk -c, h2load -c, concurrent handshakes
	Streams     int // h2load -m
	Timeout     time.Duration
	Install     bool
	Keep        bool
	Out         string // Markdown report
	JSONOut     string
	Workloads   []string // IDs to run; empty means all
	Features    []string // edge features that exist
}

// parseOptions parses and validates the command line.
func parseOptions(args []string) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var o options
	var workloads, features string
	fs.BoolVar(&o.Smoke, "smoke", false, "run each workload for about a second against what is installed, one round, no install (for the test suite)")
	fs.DurationVar(&o.Duration, "d", 8*time.Second, "measured duration of one run")
	fs.DurationVar(&o.Warmup, "warmup", 2*time.Second, "unmeasured run per target before the first round")
	fs.IntVar(&o.Rounds, "rounds", 3, "rounds; each round runs the edge, then every peer in a rotating order")
	fs.IntVar(&o.Threads, "t", 2, "load generator threads (wrk -t, h2load -t)")
	fs.IntVar(&o.Connections, "c", 64, "connections (wrk -c, h2load -c, concurrent TLS handshakes)")
	fs.IntVar(&o.Streams, "m", 4, "concurrent HTTP/2 streams per connection (h2load -m); h2load opens -c/-m connections, so as many requests are in flight as with wrk")
	fs.DurationVar(&o.Timeout, "timeout", 15*time.Minute, "bound on the whole run, install included")
	fs.BoolVar(&o.Install, "install", true, "apt-get install missing peers and load generators")
	fs.BoolVar(&o.Keep, "keep", false, "keep the temp dir (rendered configs, logs)")
	fs.StringVar(&o.Out, "out", "", "Markdown report (default .bench/bench.md, or .bench/smoke.md with -smoke); an existing file keeps everything outside its bench:results markers")
	fs.StringVar(&o.JSONOut, "json", "", "JSON results (default: the -out path with .json instead of .md, under .bench/)")
	fs.StringVar(&workloads, "workloads", "", "comma-separated workload IDs to run (default all): "+strings.Join(workloadIDs(), ","))
	fs.StringVar(&features, "edge-features", featureWAF+","+featureCache, "comma-separated edge features that exist (waf,cache); the edge rows of the other feature workloads say \"not implemented yet\"")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.Smoke {
		// Smoke mode proves the harness works end to end; explicit flags still win.
		if !set["d"] {
			o.Duration = time.Second
		}
		if !set["warmup"] {
			o.Warmup = 0 // the probe's requests are warm-up enough, and fill the caches
		}
		if !set["rounds"] {
			o.Rounds = 1
		}
		if !set["timeout"] {
			o.Timeout = 75 * time.Second
		}
		if !set["install"] {
			o.Install = false
		}
	}
	if o.Out == "" {
		o.Out = ".bench/bench.md"
		if o.Smoke {
			o.Out = ".bench/smoke.md"
		}
	}
	if o.JSONOut == "" {
		o.JSONOut = jsonPathFor(o.Out)
	}
	o.Workloads = splitList(workloads)
	o.Features = splitList(features)
	return o, o.Validate()
}

// jsonPathFor is where the JSON results go when -json is not given: beside a
// report under .bench/, and under .bench/ for a report elsewhere (docs/bench.md
// is committed; its JSON is a by-product).
func jsonPathFor(md string) string {
	base := strings.TrimSuffix(md, ".md") + ".json"
	if strings.HasPrefix(md, ".bench/") {
		return base
	}
	name := base[strings.LastIndex(base, "/")+1:]
	return ".bench/" + name
}

func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Validate names the first bad field.
func (o options) Validate() error {
	switch {
	case o.Duration < 100*time.Millisecond:
		return fmt.Errorf("-d %v: want at least 100ms", o.Duration)
	case o.Warmup < 0:
		return fmt.Errorf("-warmup %v: must not be negative", o.Warmup)
	case o.Rounds < 1 || o.Rounds > 20:
		return fmt.Errorf("-rounds %d: want 1 to 20", o.Rounds)
	case o.Threads < 1 || o.Threads > 64:
		return fmt.Errorf("-t %d: want 1 to 64", o.Threads)
	case o.Connections < o.Threads || o.Connections > 4096:
		return fmt.Errorf("-c %d: want -t (%d) to 4096", o.Connections, o.Threads)
	case o.Streams < 1 || o.Streams > o.Connections/o.Threads:
		return fmt.Errorf("-m %d: want 1 to -c/-t (%d), so each h2load thread has a connection", o.Streams, o.Connections/o.Threads)
	case o.Timeout <= 0:
		return errors.New("-timeout must be positive")
	case o.Out == "" || !strings.HasSuffix(o.Out, ".md"):
		return fmt.Errorf("-out %q: want a .md path", o.Out)
	}
	known := workloadIDs()
	for _, w := range o.Workloads {
		if !slices.Contains(known, w) {
			return fmt.Errorf("-workloads: unknown workload %q (known: %s)", w, strings.Join(known, ","))
		}
	}
	for _, f := range o.Features {
		if f != featureWAF && f != featureCache {
			return fmt.Errorf("-edge-features: unknown feature %q (known: %s,%s)", f, featureWAF, featureCache)
		}
	}
	return nil
}

// h2Connections is how many connections h2load opens: -c/-m, so that -c
// requests are in flight, as with wrk.
func (o options) h2Connections() int { return o.Connections / o.Streams }

// hasFeature reports whether the edge has feature f; "" (no feature needed) is always there.
func (o options) hasFeature(f string) bool {
	return f == "" || slices.Contains(o.Features, f)
}

// wants reports whether workload id is selected.
func (o options) wants(id string) bool {
	return len(o.Workloads) == 0 || slices.Contains(o.Workloads, id)
}
