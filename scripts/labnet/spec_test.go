package labnet

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rampart-edge/rampart/edgeagent/spec"
	"github.com/rampart-edge/rampart/edgeagent/zoneimport"
	"github.com/rampart-edge/rampart/edgeagent/zoneserve"
)

// labSpec is a committed spec file under specs/lab.
func labSpec(name string) string { return filepath.Join("..", "..", "specs", "lab", name) }

// specOptions aims the runner at one region's edge of the lab.
func specOptions(t *testing.T, l *Lab, roots *x509.CertPool, region string, nameservers map[string]string) spec.Options {
	t.Helper()
	opts, err := l.Targets().Apply(spec.Options{RootCAs: roots, Nameservers: nameservers, Timeout: 5 * time.Second}, region)
	if err != nil {
		t.Fatal(err)
	}
	return opts
}

// waitEdgeDNS waits until an edge's GeoDNS places loopback resolvers in
// the first region (every region's heartbeat has been seen).
func waitEdgeDNS(t *testing.T, l *Lab, e *Edge) {
	t.Helper()
	eventually(t, e.Node+" answering for the demo site", 30*time.Second, func() error {
		got, _, err := lookup("udp", e.Agent.Addr("dns"), "", EdgeName(DemoHost), "")
		if err != nil || !slices.Equal(got, []string{EdgeIP(0)}) {
			return fmt.Errorf("%v %v", got, err)
		}
		return nil
	})
}

// runLabSpecs runs committed spec files in-process and fails the test on
// every failed matcher, with what was expected and what happened.
func runLabSpecs(t *testing.T, opts spec.Options, names ...string) *spec.Report {
	t.Helper()
	var paths []string
	for _, n := range names {
		paths = append(paths, labSpec(n))
	}
	files, err := spec.Load(paths...)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := spec.Run(context.Background(), files, opts)
	if err != nil {
		t.Fatal(err)
	}
	var sum strings.Builder
	rep.WriteSummary(&sum, true)
	t.Logf("spec run against %s:\n%s", opts.Label, sum.String())
	for _, r := range rep.Results {
		if !r.Pass {
			t.Errorf("%s › %s › %s\n  expected: %s\n  actual:   %s", r.File, r.Check, r.Matcher, r.Expected, r.Actual)
		}
	}
	if len(rep.Results) == 0 {
		t.Fatal("no results")
	}
	return rep
}

// TestLabSpecMatchers boots the lab once and shows every matcher passing
// against it (the committed specs/lab files) and failing against a
// deliberately wrong expectation.
func TestLabSpecMatchers(t *testing.T) {
	ctx := context.Background()
	l, err := Start(ctx, Config{Dir: t.TempDir(), HeartbeatInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	static, err := StartStaticOrigin("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer static.Close()
	// The old DNS provider, serving the importer's sample zone.
	zf, err := os.Open(filepath.Join("..", "..", "edgeagent", "zoneimport", "testdata", "example.zone"))
	if err != nil {
		t.Fatal(err)
	}
	rrs, err := zoneimport.ParseBIND(zf, zf.Name(), "")
	zf.Close()
	if err != nil {
		t.Fatal(err)
	}
	provider := zoneserve.New(rrs)
	if err := provider.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer provider.Close()

	if err := l.CreateDemoSite(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.CreateSites(ctx, SpecSites(l.OriginA.URL(), static.URL())...); err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(l.RootPEM())
	// One region's edge, not the control region's.
	e := l.Edges()[1]
	for _, host := range []string{DemoHost, StrictHost, StaticHost, WAFHost, LimitsHost} {
		eventually(t, e.Node+" serving "+host, 30*time.Second, func() error {
			status, body, err := get(roots, e.Agent.Addr("https"), host, "/")
			if err != nil || status != http.StatusOK {
				return fmt.Errorf("%d %q %v", status, body, err)
			}
			return nil
		})
	}
	waitEdgeDNS(t, l, e)
	opts := specOptions(t, l, roots, e.Region, map[string]string{"provider": provider.Addr()})

	t.Run("the committed specs pass", func(t *testing.T) {
		rep := runLabSpecs(t, opts, "demo.yaml", "features.yaml")
		seen := map[string]bool{}
		for _, r := range rep.Results {
			seen[strings.TrimSuffix(strings.TrimSuffix(r.Matcher, " (udp)"), " (tcp)")] = r.Pass
		}
		for _, m := range []string{"redirects HTTP to HTTPS", "tls supports 1.3", "tls refuses 1.2", "status", "header Content-Type equals",
			"header X-Request-Id matches", "body contains", "browser cachable", "shared cachable", "waf blocks sqli", "waf blocks xss",
			"waf blocks traversal", "waf lets a benign request through", "rate limited after 5 requests", "rdata", "mx exchange and preference",
			"ttl", "rcode", "count"} {
			if _, ok := seen[m]; !ok {
				t.Errorf("no %q matcher ran", m)
			}
		}
	})

	t.Run("the cache specs pass", func(t *testing.T) {
		runLabSpecs(t, opts, "cache.yaml")
		// And the wrong expectation: a stored object's repeat is a hit.
		f, err := spec.Parse("wrong.yaml", []byte("checks:\n- url: https://static.rampart.test/public/again\n  expect: {cache_hit: false}\n"))
		if err != nil {
			t.Fatal(err)
		}
		rep, err := spec.Run(ctx, []*spec.File{f}, opts)
		if err != nil || len(rep.Results) != 1 || rep.Results[0].Pass || !strings.Contains(rep.Results[0].Actual, "rampart; hit") {
			t.Fatalf("cache_hit: false on a cached object: %+v %v", rep, err)
		}
	})

	t.Run("wrong expectations fail and say why", func(t *testing.T) {
		cases := []struct{ check, actual string }{
			{"url: https://demo.rampart.test/\n  expect: {redirects_to_https: false}", "status 301, Location: https://demo.rampart.test/"},
			{"url: https://strict.rampart.test/\n  expect: {tls_supports: ['1.2']}", "handshake failed"},
			{"url: https://demo.rampart.test/\n  expect: {tls_refuses: ['1.3']}", "completed with TLS 1.3"},
			{"url: https://demo.rampart.test/hello\n  expect: {status: 404}", "status 200"},
			{"url: https://demo.rampart.test/hello\n  expect: {headers: {Content-Type: text/html}}", "Content-Type: application/json"},
			{"url: https://demo.rampart.test/hello\n  expect: {header_matches: {X-Request-Id: '^nope$'}}", "X-Request-Id: "},
			{"url: https://demo.rampart.test/hello\n  expect: {body_contains: ['\"origin\":\"origin-z\"']}", `\"origin\":\"origin-a\"`},
			{"url: https://demo.rampart.test/hello\n  expect: {browser_cachable: true}", "no-store"},
			{"url: https://static.rampart.test/private/x\n  expect: {shared_cachable: true}", "Cache-Control: private"},
			{"url: https://demo.rampart.test/hello\n  expect: {cache_hit: true}", "second response: status 200"},
			{"url: https://demo.rampart.test/hello\n  expect: {serves_stale: {ttl: 300ms}}", "no stale hit"},
			{"url: https://demo.rampart.test/search\n  expect: {waf_blocks: [sqli]}", "status 200"},
			{"url: https://waf.rampart.test/search\n  expect: {waf_allows_benign: false}", "status 200"},
			{"url: https://limits.rampart.test/api/x\n  request: {headers: {X-Api-Key: wrong-later}}\n  expect: {rate_limited_after: 8}", "request 6 of 8 got 429"},
			{"url: https://limits.rampart.test/api/x\n  request: {headers: {X-Api-Key: wrong-sooner}}\n  expect: {rate_limited_after: 3}", "request 4 got status 200"},
			{"dns: {name: demo.rampart.test.edge.rampart.test., type: A, nameserver: edge}\n  expect: {rdata: [127.0.1.2]}", "NOERROR, 127.0.1.1"},
			{"dns: {name: demo.rampart.test.edge.rampart.test., type: A, nameserver: edge}\n  expect: {ttl: 60}", "TTL 20"},
			{"dns: {name: demo.rampart.test.edge.rampart.test., type: A, nameserver: edge}\n  expect: {rcode: NXDOMAIN}", "NOERROR"},
			{"dns: {name: edge.rampart.test., type: NS, nameserver: edge}\n  expect: {count: 2}", "3:"},
			{"dns: {name: example.test., type: MX, nameserver: provider}\n  expect: {mx: [{preference: 20, exchange: mx1.example.test.}, {preference: 10, exchange: mx2.mail.example.}]}",
				"10 mx1.example.test. | 20 mx2.mail.example."},
		}
		for _, c := range cases {
			f, err := spec.Parse("wrong.yaml", []byte("checks:\n- "+c.check+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			rep, err := spec.Run(ctx, []*spec.File{f}, opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Results) == 0 {
				t.Fatalf("%s: no results", c.check)
			}
			for _, r := range rep.Results {
				if r.Pass || r.Expected == "" || !strings.Contains(r.Actual, c.actual) {
					t.Errorf("%s: %s pass=%v\n  expected: %s\n  actual:   %s\n  (want a failure whose actual contains %q)", c.check, r.Matcher, r.Pass, r.Expected, r.Actual, c.actual)
				}
			}
		}
	})
}
