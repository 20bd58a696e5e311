// Command edgeagent runs one edge node. Configuration comes from a JSON file
// (-config) and/or flags; flags override the file.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent"
	"github.com/rampart-edge/rampart/edgeagent/originconf"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// defaultGCPercent is the garbage collector's target when GOGC is not set.
// The edge's live heap is mostly its compiled WAF rules (~65 MiB with the
// CRS), which do not change between requests: at Go's default of 100 every
// 65 MiB of request garbage costs a full mark of the rules. At 200 the
// collector runs half as often, for ~65 MiB more memory; measured on the
// bench's WAF GET, ~4% more requests per second (docs/bench.md).
const defaultGCPercent = 200

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if len(os.Args) > 1 && os.Args[1] == "origin-snippet" {
		if err := originSnippet(os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "origin-snippet:", err)
			os.Exit(2)
		}
		return
	}
	if err := run(log); err != nil {
		log.Error("edgeagent", "err", err)
		os.Exit(1)
	}
}

// originSnippet prints the nginx and Apache configuration an origin needs
// behind Rampart: edge-only access, the client address, mTLS origin pull.
func originSnippet(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("origin-snippet", flag.ContinueOnError)
	ips := fs.String("edge-ips", "", "comma-separated edge addresses or CIDRs (pulumi stack output edgeIps)")
	ca := fs.String("pull-ca", "/etc/ssl/rampart-origin-pull-ca.pem", "where the origin-pull CA (stack output originPullCaPem) is installed on the origin")
	server := fs.String("server", "both", "nginx, apache or both")
	if err := fs.Parse(args); err != nil {
		return err
	}
	p := originconf.Params{PullCAPath: *ca}
	for ip := range strings.SplitSeq(*ips, ",") {
		if ip = strings.TrimSpace(ip); ip != "" {
			p.EdgeIPs = append(p.EdgeIPs, ip)
		}
	}
	if err := p.Validate(); err != nil {
		return err
	}
	switch *server {
	case "nginx":
		_, err := io.WriteString(out, originconf.Nginx(p))
		return err
	case "apache":
		_, err := io.WriteString(out, originconf.Apache(p))
		return err
	case "both":
		_, err := io.WriteString(out, "# ---- nginx ----\n"+originconf.Nginx(p)+"\n# ---- Apache ----\n"+originconf.Apache(p))
		return err
	}
	return fmt.Errorf("server: want nginx, apache or both, not %q", *server)
}

func run(log *slog.Logger) error {
	var (
		configPath = flag.String("config", "", "JSON configuration file")
		static     = flag.String("static", "", "serve sites and certificates from this file instead of NATS")
		httpAddr   = flag.String("http", "", "plain HTTP listen address")
		httpsAddr  = flag.String("https", "", "HTTPS listen address")
		adminAddr  = flag.String("admin", "", "admin listen address (/healthz)")
		accessLog  = flag.String("access-log", "", "access log: a path, or - for stdout")
		region     = flag.String("region", "", "region name")
		node       = flag.String("node", "", "node name")
		dataDir    = flag.String("data-dir", "", "directory for the last-known-good snapshot")
		natsURLs   = flag.String("nats", "", "comma-separated NATS URLs of this region")
		natsUser   = flag.String("nats-user", "", "NATS user (password from RAMPART_NATS_PASSWORD)")
		sealFile   = flag.String("seal-key-file", "", "file holding the base64 X25519 seal key")
		pprofOn    = flag.Bool("pprof", false, "serve /debug/pprof on the admin listener")
		wafLog     = flag.String("waf-match-log", "", "file receiving every logged WAF rule match (ModSecurity error-log format, unredacted)")
		private    = flag.Bool("allow-private-origins", false, "let origins resolve to loopback/private addresses")
		trusted    = flag.String("trusted-proxies", "", "comma-separated addresses/CIDRs of proxies in front of the edge, whose X-Forwarded-For is believed")
	)
	flag.Parse()
	var cfg edgeagent.Config
	if *configPath != "" {
		data, err := os.ReadFile(*configPath)
		if err != nil {
			return err
		}
		if err := api.DecodeStrict(data, 1<<20, &cfg); err != nil {
			return fmt.Errorf("config %s: %w", *configPath, err)
		}
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&cfg.StaticFile, *static)
	set(&cfg.WAFMatchLog, *wafLog)
	set(&cfg.HTTPAddr, *httpAddr)
	set(&cfg.HTTPSAddr, *httpsAddr)
	set(&cfg.AdminAddr, *adminAddr)
	set(&cfg.AccessLog, *accessLog)
	set(&cfg.Region, *region)
	set(&cfg.Node, *node)
	set(&cfg.DataDir, *dataDir)
	set(&cfg.NATS.User, *natsUser)
	set(&cfg.NATS.Password, os.Getenv("RAMPART_NATS_PASSWORD"))
	if *natsURLs != "" {
		cfg.NATS.URLs = strings.Split(*natsURLs, ",")
	}
	if *trusted != "" {
		cfg.TrustedProxies = strings.Split(*trusted, ",")
	}
	if *sealFile != "" {
		b, err := os.ReadFile(*sealFile)
		if err != nil {
			return err
		}
		cfg.SealKey = strings.TrimSpace(string(b))
	}
	if *pprofOn {
		cfg.Pprof = true
	}
	if *private {
		cfg.AllowPrivateOrigins = true
	}
	cfg.Version = version

	a, err := edgeagent.New(cfg, log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := a.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	log.Info("shutting down")
	return a.Close()
}
