// Command lab runs a whole Rampart network on this machine: a NATS
// super-cluster (3 regions × 2 nodes, gateways) booted from rendered
// nats.conf files, the control service, one edge per region on its own
// loopback address, two demo origins and a demo site. It prints what to run
// next and stops cleanly on Ctrl-C.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rampart-edge/rampart/scripts/labnet"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "lab:", err)
		os.Exit(1)
	}
}

func run() error {
	root := os.Geteuid() == 0
	defHTTP, defHTTPS, defDNS := 8080, 8443, 5353
	if root {
		defHTTP, defHTTPS, defDNS = 80, 443, 53
	}
	var (
		dir      = flag.String("dir", ".lab", "directory for configs, stores, snapshots and logs")
		fresh    = flag.Bool("fresh", false, "delete -dir first (new credentials, no snapshots)")
		regions  = flag.String("regions", "nyc3,ams3,syd1", "regions; the first is the control region")
		httpP    = flag.Int("http-port", defHTTP, "edge HTTP port (on each edge's own 127.0.1.x address)")
		httpsP   = flag.Int("https-port", defHTTPS, "edge HTTPS port")
		adminP   = flag.Int("edge-admin-port", 9100, "edge admin port (/healthz)")
		apiP     = flag.Int("api-port", 8090, "control API port on 127.0.0.1")
		originA  = flag.Int("origin-a-port", 8181, "demo origin A port on 127.0.0.1")
		originB  = flag.Int("origin-b-port", 8182, "demo origin B port on 127.0.0.1")
		duration = flag.Duration("for", 0, "stop after this long (0: until Ctrl-C)")
		dnsP     = flag.Int("dns-port", defDNS, "GeoDNS port (UDP and TCP) on each edge's own address")
		window   = flag.Duration("dns-window", 10*time.Second, "GeoDNS withdraws a region silent for this long")
		pebble   = flag.Bool("pebble", false, "issue certificates over ACME from an in-process Pebble (HTTP-01 answered by the second region's edge) instead of the lab CA")
		pebbleA  = flag.String("pebble-addr", "127.0.0.1:14000", "Pebble's ACME API address (with -pebble)")
		dashP    = flag.Int("dashboard-port", 8444, "dashboard port (HTTPS) on localhost")
	)
	flag.Parse()
	if *fresh {
		if err := os.RemoveAll(*dir); err != nil {
			return err
		}
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return err
	}
	logFile, err := os.OpenFile(filepath.Join(abs, "lab.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	fmt.Printf("starting the lab in %s (logs: %s) ...\n", abs, filepath.Join(abs, "lab.log"))
	started := time.Now()
	l, err := labnet.Start(ctx, labnet.Config{
		Dir:      abs,
		Regions:  strings.Split(*regions, ","),
		EdgeHTTP: *httpP, EdgeHTTPS: *httpsP, EdgeAdmin: *adminP, ControlAPI: *apiP, OriginA: *originA, OriginB: *originB,
		EdgeDNS: *dnsP, DNSWindow: *window,
		Pebble: *pebble, PebbleAPI: *pebbleA, Dashboard: *dashP,
		Logger: slog.New(slog.NewJSONHandler(logFile, nil)),
	})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Println("\nstopping the lab ...")
		l.Close()
		fmt.Println("stopped.")
	}()
	if err := l.CreateDemoSite(ctx); err != nil {
		return err
	}
	caPath, err := l.WriteCACert()
	if err != nil {
		return err
	}
	targetsPath, err := l.WriteTargets()
	if err != nil {
		return err
	}
	fmt.Printf("the lab is up (%.1fs)\n\n", time.Since(started).Seconds())
	fmt.Printf("edge specs against every region:\n  go run ./edgeagent/cmd/edgectl spec run --targets %s --region all specs/lab/demo.yaml\n\n", targetsPath)
	if l.Pebble != nil {
		fmt.Printf("certificates: ACME from Pebble at %s (root: %s); HTTP-01 is answered by %s\n\n",
			l.Pebble.DirectoryURL(), caPath, l.Edges()[min(1, len(l.Edges())-1)].Node)
	}
	printInstructions(l, caPath, *httpsP, *httpP)
	printDNS(l, *dnsP)
	go readCommands(ctx, l)
	<-ctx.Done()
	return nil
}

func printDNS(l *labnet.Lab, port int) {
	name := labnet.EdgeName(labnet.DemoHost)
	edges := l.Edges()
	e0 := edges[0]
	fmt.Printf("\nGeoDNS (zone %s, on every edge): the demo site's edge name is %s\n", labnet.EdgeZone, name)
	for i, e := range edges {
		fmt.Printf("  dig @%s -p %d %s A +subnet=%s +norec    # -> %s (%s)\n", e0.IP, port, name, labnet.ClientSubnet(i), e.IP, e.Region)
	}
	last := edges[len(edges)-1]
	fmt.Printf("  dig @%s -p %d -b 127.0.2.1 %s A +norec             # staff view -> %s\n", e0.IP, port, name, last.IP)
	fmt.Printf("  dig @%s -p %d %s A +tcp +norec                      # over TCP\n", e0.IP, port, name)
	fmt.Printf("  dig @%s -p %d %s NS +norec\n", e0.IP, port, labnet.EdgeZone)
	fmt.Println("type \"stop <region>\" or \"start <region>\" here to fail a region's edge and watch it leave the answers.")
}

// readCommands lets the person running the lab stop and start edges.
func readCommands(ctx context.Context, l *labnet.Lab) {
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 || (f[0] != "stop" && f[0] != "start") {
			fmt.Println("commands: stop <region>, start <region>")
			continue
		}
		var err error
		if f[0] == "stop" {
			err = l.StopEdge(f[1])
		} else {
			err = l.StartEdge(ctx, f[1])
		}
		if err != nil {
			fmt.Printf("%s %s: %v\n", f[0], f[1], err)
			continue
		}
		fmt.Printf("%s %s: done\n", f[0], f[1])
	}
}

func printInstructions(l *labnet.Lab, caPath string, httpsPort, httpPort int) {
	host := labnet.DemoHost
	fmt.Println("NATS super-cluster (configs rendered by cloudinit/natsconf):")
	for _, r := range l.Net.Regions() {
		fmt.Printf("  %-5s %s\n", r, strings.Join(l.Net.ClientURLs(r), " "))
	}
	fmt.Printf("\ncontrol API   %s   (token: %s)\n", l.APIURL(), l.Control.Token())
	fmt.Printf("dashboard     %s   (sign in with the token, then create a user; the certificate is the lab CA's: %s)\n",
		l.Control.DashboardURL(), l.Control.CACertPath())
	fmt.Printf("demo origins  %s  %s\n\n", l.OriginA.URL(), l.OriginB.URL())
	fmt.Println("the demo site, through each region's edge:")
	for _, e := range l.Edges() {
		fmt.Printf("  curl --cacert %s --resolve %s:%d:%s https://%s:%d/\n", caPath, host, httpsPort, e.IP, host, httpsPort)
	}
	e0 := l.Edges()[0]
	fmt.Printf("\nplain HTTP is redirected:\n  curl -i --resolve %s:%d:%s http://%s:%d/\n", host, httpPort, e0.IP, host, httpPort)
	fmt.Printf("an unknown host gets 421:\n  curl -i --resolve other.test:%d:%s http://other.test:%d/\n", httpPort, e0.IP, httpPort)
	fmt.Printf("edge health:\n  curl %s\n", "http://"+e0.Agent.Addr("admin")+"/healthz")
	fmt.Printf("\nadd a site (then curl it as above with its hostname):\n")
	fmt.Printf("  curl -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \\\n", l.Control.Token())
	fmt.Printf("    -d '{\"hostname\":\"shop.rampart.test\",\"origins\":[{\"url\":\"%s\"}]}' %s/api/v1/sites\n", l.OriginB.URL(), l.APIURL())
	fmt.Printf("list sites:\n  curl -H 'Authorization: Bearer %s' %s/api/v1/sites\n", l.Control.Token(), l.APIURL())
	fmt.Printf("purge a site's cache on every edge (the answer lists the edges that confirmed):\n")
	fmt.Printf("  curl -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' -d '{\"prefixes\":[\"/\"]}' %s/api/v1/sites/%s/purge\n",
		l.Control.Token(), l.APIURL(), host)
	fmt.Printf("\naccess logs: %s\n", filepath.Join(filepath.Dir(caPath), "edges", "*", "access.log"))
	fmt.Println("\nCtrl-C stops the lab.")
}
