// Command edgectl is the operator's tool for the edge: `edgectl spec run`
// checks a live edge against YAML specs, `edgectl import` turns an existing
// DNS zone into sites, records and a spec.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/rampart-edge/rampart/edgeagent/spec"
	"github.com/rampart-edge/rampart/edgeagent/zoneimport"
)

const usage = `usage:
  edgectl spec run [flags] <spec file or dir>...   check a live edge (exit 1 on any failure)
  edgectl import [flags] <zone file|export.json>    sites, records and a spec from a zone

edgectl spec run -h / edgectl import -h list the flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command, returning the exit status: 0 success, 1 a failed
// check, 2 bad usage or input.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) >= 2 && args[0] == "spec" && args[1] == "run":
		return specRun(ctx, args[2:], stdout, stderr)
	case len(args) >= 1 && args[0] == "import":
		return importZone(args[1:], stdout, stderr)
	default:
		fmt.Fprint(stderr, usage)
		return 2
	}
}

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

// parseInterspersed parses flags wherever they are among the arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func specRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("edgectl spec run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var resolve, nameservers list
	fs.Var(&resolve, "resolve", "`host:port:addr[:port]` send connections for host:port to addr (host may be *); repeatable")
	edge := fs.String("edge", "", "`addr` send every host's port 80 and 443 to this edge (like --resolve *:80:addr --resolve *:443:addr)")
	cacert := fs.String("cacert", "", "PEM `file` of the CA that issued the edge's certificates (default: system roots)")
	fs.Var(&nameservers, "nameserver", "`alias=host:port` for the nameserver aliases specs name (e.g. edge=127.0.1.1:5353); repeatable")
	targets := fs.String("targets", "", "targets `file` (regions' edge addresses and CA, e.g. .lab/targets.yaml)")
	region := fs.String("region", "", "region of --targets to check, or \"all\" for each in turn")
	junit := fs.String("junit", "", "write JUnit XML to `file`")
	timeout := fs.Duration("timeout", 10*time.Second, "per request and handshake")
	verbose := fs.Bool("v", false, "list passing matchers too")
	paths, err := parseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	if len(paths) == 0 {
		fmt.Fprintln(stderr, "edgectl spec run: give spec files or directories")
		return 2
	}
	files, err := spec.Load(paths...)
	if err != nil {
		fmt.Fprintln(stderr, "edgectl spec run:", err)
		return 2
	}
	opts := spec.Options{Resolve: resolve, Timeout: *timeout, Nameservers: map[string]string{}}
	if *edge != "" {
		opts.Resolve = append(opts.Resolve, "*:80:"+*edge, "*:443:"+*edge)
	}
	for _, n := range nameservers {
		k, v, ok := strings.Cut(n, "=")
		if !ok || k == "" || v == "" {
			fmt.Fprintf(stderr, "edgectl spec run: --nameserver %q: want alias=host:port\n", n)
			return 2
		}
		opts.Nameservers[k] = v
	}
	if *cacert != "" {
		if opts.RootCAs, err = spec.LoadCAFile(*cacert); err != nil {
			fmt.Fprintln(stderr, "edgectl spec run:", err)
			return 2
		}
	}
	runs := []spec.Options{opts}
	if *targets != "" || *region != "" {
		if *targets == "" || *region == "" {
			fmt.Fprintln(stderr, "edgectl spec run: --targets and --region go together")
			return 2
		}
		tg, err := spec.LoadTargets(*targets)
		if err != nil {
			fmt.Fprintln(stderr, "edgectl spec run:", err)
			return 2
		}
		regions := []string{*region}
		if *region == "all" {
			regions = tg.RegionNames()
		}
		runs = nil
		for _, r := range regions {
			o, err := tg.Apply(opts, r)
			if err != nil {
				fmt.Fprintln(stderr, "edgectl spec run:", err)
				return 2
			}
			runs = append(runs, o)
		}
	}
	rep := &spec.Report{}
	for _, o := range runs {
		r, err := spec.Run(ctx, files, o)
		if err != nil {
			fmt.Fprintln(stderr, "edgectl spec run:", err)
			return 2
		}
		rep.Merge(r)
	}
	rep.WriteSummary(stdout, *verbose)
	if *junit != "" {
		var b bytes.Buffer
		if err := rep.WriteJUnit(&b); err != nil {
			fmt.Fprintln(stderr, "edgectl spec run: junit:", err)
			return 2
		}
		if err := os.WriteFile(*junit, b.Bytes(), 0o644); err != nil {
			fmt.Fprintln(stderr, "edgectl spec run:", err)
			return 2
		}
	}
	if !rep.Passed() {
		return 1
	}
	return 0
}

func importZone(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("edgectl import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "", "`bind` or `json` (a DNS provider export); from the file name when empty")
	origin := fs.String("origin", "", "zone name for relative names in a BIND file without $ORIGIN")
	proxied := fs.String("proxied", "", "comma-separated hostnames to put behind the edge (added to a JSON export's proxied records)")
	edgeZone := fs.String("edge-zone", "", "edge zone: proxied names become CNAMEs to <host>.<edge-zone> (e.g. edge.example.net)")
	edgeIPs := fs.String("edge-ips", "", "comma-separated edge addresses, for proxied names that cannot be a CNAME (the apex)")
	scheme := fs.String("origin-scheme", "https", "scheme of the origins made from the proxied records")
	ns := fs.String("nameserver", "authoritative", "nameserver the spec's DNS checks ask: an alias to give to spec run, or host:port")
	out := fs.String("out", ".", "`dir` to write sites.json, records.zone and spec.yaml to")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "edgectl import: give one zone file or JSON export")
		return 2
	}
	path := pos[0]
	if *format == "" {
		*format = "bind"
		if strings.HasSuffix(strings.ToLower(path), ".json") {
			*format = "json"
		}
	}
	opts := zoneimport.Options{Proxied: splitList(*proxied), EdgeZone: *edgeZone, EdgeIPs: splitList(*edgeIPs),
		OriginScheme: *scheme, Nameserver: *ns}
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintln(stderr, "edgectl import:", err)
		return 2
	}
	defer f.Close()
	var rrs []dns.RR
	switch *format {
	case "bind":
		rrs, err = zoneimport.ParseBIND(f, path, *origin)
	case "json":
		var px []string
		rrs, px, err = zoneimport.ParseProviderJSON(f, path)
		opts.Proxied = append(opts.Proxied, px...)
	default:
		err = fmt.Errorf("--format %q: want bind or json", *format)
	}
	if err != nil {
		fmt.Fprintln(stderr, "edgectl", err)
		return 2
	}
	res, err := zoneimport.Build(rrs, opts)
	if err != nil {
		fmt.Fprintln(stderr, "edgectl import:", err)
		return 2
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(stderr, "edgectl import:", err)
		return 2
	}
	write := func(name string, fn func(io.Writer) error) error {
		var b bytes.Buffer
		if err := fn(&b); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(*out, name), b.Bytes(), 0o644)
	}
	if err := errors.Join(write("sites.json", res.WriteSites), write("records.zone", res.WriteRecords), write("spec.yaml", res.WriteSpec)); err != nil {
		fmt.Fprintln(stderr, "edgectl import:", err)
		return 2
	}
	fmt.Fprintf(stdout, "%d sites → %s, %d records → %s, %d checks → %s\n",
		len(res.Sites), filepath.Join(*out, "sites.json"), len(res.Records), filepath.Join(*out, "records.zone"),
		len(res.Spec.Checks), filepath.Join(*out, "spec.yaml"))
	return 0
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
