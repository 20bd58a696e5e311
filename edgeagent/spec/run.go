package spec

import (
	"context"
	"fmt"
	"time"
)

// Result is the outcome of one matcher of one check.
type Result struct {
	File    string
	Check   string
	Matcher string
	Pass    bool
	// Expected and Actual describe the matcher's expectation and what the
	// edge did; set for failures and passes alike.
	Expected string
	Actual   string
	Duration time.Duration
}

// Report is every result of a run, in spec order.
type Report struct {
	Results []Result
	Elapsed time.Duration
}

// Failed counts the failed results.
func (r *Report) Failed() int {
	n := 0
	for _, res := range r.Results {
		if !res.Pass {
			n++
		}
	}
	return n
}

// Passed reports whether every matcher passed (and there was at least one).
func (r *Report) Passed() bool { return len(r.Results) > 0 && r.Failed() == 0 }

// Merge appends another report's results.
func (r *Report) Merge(o *Report) {
	r.Results = append(r.Results, o.Results...)
	r.Elapsed += o.Elapsed
}

// CacheName is the cache whose Cache-Status member the cache matchers read.
const CacheName = "rampart"

// Run checks every file against the live edge that opts point at. It
// returns an error only when the options are unusable; failed matchers are
// in the report.
func Run(ctx context.Context, files []*File, opts Options) (*Report, error) {
	res, err := parseResolve(opts.Resolve)
	if err != nil {
		return nil, err
	}
	r := &runner{opts: opts, res: res}
	r.http = res.client(opts)
	start := time.Now()
	rep := &Report{}
	for _, f := range files {
		for i := range f.Checks {
			c := &f.Checks[i]
			name := c.displayName()
			if opts.Label != "" {
				name = opts.Label + ": " + name
			}
			var out []Result
			if c.DNS != nil {
				out = r.runDNS(ctx, c)
			} else {
				out = r.runHTTP(ctx, c)
			}
			for _, o := range out {
				o.File, o.Check = f.Name, name
				rep.Results = append(rep.Results, o)
			}
			if ctx.Err() != nil {
				rep.Elapsed = time.Since(start)
				return rep, nil
			}
		}
	}
	rep.Elapsed = time.Since(start)
	return rep, nil
}

func (c *Check) displayName() string {
	if c.Name != "" {
		return c.Name
	}
	if c.DNS != nil {
		return fmt.Sprintf("%s %s @%s", c.DNS.Name, c.DNS.Type, c.DNS.Nameserver)
	}
	return c.URL
}

// timed runs fn and stamps its duration on the results it returns.
func timed(fn func() Result) Result {
	start := time.Now()
	r := fn()
	r.Duration = time.Since(start)
	return r
}
