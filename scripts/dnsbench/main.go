// Command dnsbench measures GeoDNS queries per second: Rampart's geodns
// server against PowerDNS Authoritative with its GeoIP backend (Debian's
// pdns-server and pdns-backend-geoip), both answering the same zone from
// the same MaxMind-format database, loaded by dnsperf on this machine.
// Both servers run as their own processes on 127.0.3.x; PowerDNS runs in
// the foreground from a config in a temporary directory, never as the
// system service. Runs alternate A/B/A/B and the report gives medians.
//
//	go run ./scripts/dnsbench [-duration 10s] [-rounds 3]
//
// The configs are committed next to this file: geodns.json, pdns.conf,
// zones.yaml (the PowerDNS GeoIP zone) and queries.txt (dnsperf input).
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/miekg/dns"
	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/catalog"
	"github.com/rampart-edge/rampart/edgeagent/geodns"
)

var (
	//go:embed geodns.json
	geodnsJSON []byte
	//go:embed pdns.conf
	pdnsConf string
	//go:embed zones.yaml
	zonesYAML []byte
	//go:embed queries.txt
	queries []byte
)

const (
	pdnsAddr    = "127.0.3.1"
	rampartAddr = "127.0.3.2"
	port        = "5300"
	sites       = 20 // site1..site20.bench.test, as in zones.yaml and queries.txt
)

// networks is the GeoIP database both servers read: network → country,
// continent. 127/8 is placed too, so queries without ECS (from dnsperf on
// 127.0.0.1) take the same database path.
var networks = []struct{ cidr, country, continent string }{
	{"127.0.0.0/8", "US", "NA"},
	{"81.2.69.0/24", "GB", "EU"},
	{"89.160.20.0/24", "SE", "EU"},
	{"175.16.199.0/24", "CN", "AS"},
	{"1.128.0.0/11", "AU", "OC"},
	{"216.160.83.0/24", "US", "NA"},
	{"2a02:cf40::/32", "NO", "EU"},
}

// workloads: dnsperf arguments and the answer every query must get.
var workloads = []struct {
	name, want string
	args       []string
}{
	// ECS 81.2.69.0/24 (GB, Europe) on every query: EDNS option 8 =
	// family 1, source /24, scope 0, address 81.2.69.
	{"ecs", "192.0.2.2", []string{"-E", "8:00011800510245"}},
	// No EDNS: the resolver's own address (127.0.0.1, North America).
	{"plain", "192.0.2.1", nil},
}

func main() {
	var (
		serve    = flag.String("serve", "", "internal: run the geodns server from this config file")
		duration = flag.Duration("duration", 10*time.Second, "length of one dnsperf run")
		rounds   = flag.Int("rounds", 3, "A/B rounds per workload")
		clients  = flag.Int("clients", 4, "dnsperf -c (sockets)")
		maxLoad  = flag.Float64("max-load", 1.5, "wait (up to a minute) for the 1-minute load average to drop below this")
	)
	flag.Parse()
	var err error
	if *serve != "" {
		err = runServer(*serve)
	} else {
		err = run(*duration, *rounds, *clients, *maxLoad)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dnsbench:", err)
		os.Exit(1)
	}
}

// runServer is the child process: the geodns server with the bench sites.
func runServer(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var cfg geodns.Config
	if err := json.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	cat := catalog.New(nil, nil)
	entries := map[string][]byte{}
	for i := 1; i <= sites; i++ {
		host := fmt.Sprintf("site%d.bench.test", i)
		b, _ := json.Marshal(api.Site{V: api.Version, Hostname: host, Origins: []api.Origin{{URL: "http://origin.bench.test"}}})
		entries[host] = b
	}
	if errs := cat.Replace(catalog.KindSite, entries); len(errs) > 0 {
		return errors.Join(errs...)
	}
	srv, err := geodns.New(cfg, cat, slog.Default())
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return srv.Run(ctx)
}

func run(duration time.Duration, rounds, clients int, maxLoad float64) error {
	for _, tool := range []string{"dnsperf", "pdns_server"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found: apt-get install dnsperf pdns-server pdns-backend-geoip", tool)
		}
	}
	dir, err := os.MkdirTemp("", "dnsbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := writeGeoDB(filepath.Join(dir, "geo.mmdb")); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "zones.yaml"), zonesYAML, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "queries.txt"), queries, 0o644); err != nil {
		return err
	}
	threads := strconv.Itoa(runtime.NumCPU())
	conf := strings.NewReplacer("{{DIR}}", dir, "{{ADDR}}", pdnsAddr, "{{PORT}}", port, "{{THREADS}}", threads).Replace(pdnsConf)
	if err := os.WriteFile(filepath.Join(dir, "pdns.conf"), []byte(conf), 0o644); err != nil {
		return err
	}
	var cfg map[string]any
	if err := json.Unmarshal(geodnsJSON, &cfg); err != nil {
		return err
	}
	cfg["addr"] = net.JoinHostPort(rampartAddr, port)
	cfg["geoip_db"] = filepath.Join(dir, "geo.mmdb")
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, "geodns.json"), b, 0o644); err != nil {
		return err
	}

	self, err := os.Executable()
	if err != nil {
		return err
	}
	servers := []struct {
		name, addr string
		cmd        *exec.Cmd
	}{
		{"rampart", rampartAddr, exec.Command(self, "-serve", filepath.Join(dir, "geodns.json"))},
		{"powerdns", pdnsAddr, exec.Command("pdns_server", "--config-dir="+dir)},
	}
	for _, s := range servers {
		s.cmd.Stdout, s.cmd.Stderr = nil, nil
		if f, err := os.Create(filepath.Join(dir, s.name+".log")); err == nil {
			s.cmd.Stdout, s.cmd.Stderr = f, f
		}
		if err := s.cmd.Start(); err != nil {
			return fmt.Errorf("start %s: %w", s.name, err)
		}
		defer func() {
			s.cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { s.cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				s.cmd.Process.Kill()
				<-done
			}
		}()
	}
	// Both must be up and give the same answers before anything is timed.
	for _, s := range servers {
		for _, w := range workloads {
			if err := waitAnswer(s.addr, w.want, w.name == "ecs", 20*time.Second); err != nil {
				log, _ := os.ReadFile(filepath.Join(dir, s.name+".log"))
				return fmt.Errorf("%s (%s): %w\n%s", s.name, w.name, err, tail(string(log), 2000))
			}
		}
	}
	waitLoad(maxLoad)
	fmt.Printf("dnsperf %s per run, %d rounds A/B, -c %d; %d cores; load before: %s\n", duration, rounds, clients, runtime.NumCPU(), loadavg())
	for _, w := range workloads {
		results := map[string][]float64{}
		for r := 0; r < rounds; r++ {
			for _, s := range servers {
				qps, lost, err := dnsperf(s.addr, filepath.Join(dir, "queries.txt"), duration, clients, w.args)
				if err != nil {
					return fmt.Errorf("%s %s: %w", s.name, w.name, err)
				}
				fmt.Printf("  %-6s round %d %-8s %9.0f qps  (lost %.2f%%, load %s)\n", w.name, r+1, s.name, qps, lost, loadavg())
				results[s.name] = append(results[s.name], qps)
			}
		}
		a, b := median(results["rampart"]), median(results["powerdns"])
		fmt.Printf("%s: rampart median %.0f qps, powerdns median %.0f qps: %.2f× PowerDNS\n", w.name, a, b, a/b)
	}
	return nil
}

func writeGeoDB(path string) error {
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-Country", RecordSize: 24, IncludeReservedNetworks: true})
	if err != nil {
		return err
	}
	for _, n := range networks {
		_, ipn, err := net.ParseCIDR(n.cidr)
		if err != nil {
			return err
		}
		rec := mmdbtype.Map{
			"country":   mmdbtype.Map{"iso_code": mmdbtype.String(n.country)},
			"continent": mmdbtype.Map{"code": mmdbtype.String(n.continent)},
		}
		if err := w.Insert(ipn, rec); err != nil {
			return err
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := w.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// waitAnswer polls addr until site1's edge name answers want.
func waitAnswer(addr, want string, ecs bool, timeout time.Duration) error {
	q := new(dns.Msg)
	q.SetQuestion("site1.bench.test.edge.bench.test.", dns.TypeA)
	q.RecursionDesired = false
	if ecs {
		q.SetEdns0(1232, false)
		q.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.ParseIP("81.2.69.0").To4()}}
	}
	c := &dns.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		resp, _, err := c.Exchange(q, net.JoinHostPort(addr, port))
		if err == nil && len(resp.Answer) == 1 {
			if a, ok := resp.Answer[0].(*dns.A); ok && a.A.String() == want {
				return nil
			}
		}
		last = fmt.Sprint(resp, err)
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("no answer %s within %v; last: %s", want, timeout, last)
}

var (
	qpsRE  = regexp.MustCompile(`Queries per second:\s+([0-9.]+)`)
	lostRE = regexp.MustCompile(`Queries lost:\s+\d+ \(([0-9.]+)%\)`)
)

// dnsperf runs one bounded dnsperf and returns queries per second and the
// share of lost queries.
func dnsperf(addr, queryFile string, d time.Duration, clients int, extra []string) (float64, float64, error) {
	args := []string{"-s", addr, "-p", port, "-d", queryFile, "-l", strconv.Itoa(int(d.Seconds())),
		"-c", strconv.Itoa(clients), "-T", "1", "-q", "200", "-t", "2"}
	args = append(args, extra...)
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "dnsperf", args...).CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("dnsperf: %w\n%s", err, out)
	}
	return parseDnsperf(string(out))
}

func parseDnsperf(out string) (qps, lost float64, err error) {
	m := qpsRE.FindStringSubmatch(out)
	if m == nil {
		return 0, 0, fmt.Errorf("no qps in dnsperf output:\n%s", out)
	}
	qps, _ = strconv.ParseFloat(m[1], 64)
	if m := lostRE.FindStringSubmatch(out); m != nil {
		lost, _ = strconv.ParseFloat(m[1], 64)
	}
	return qps, lost, nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

// waitLoad waits up to a minute for the 1-minute load average to fall
// below max: other builds share this machine.
func waitLoad(max float64) {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		f := strings.Fields(loadavg())
		if v, err := strconv.ParseFloat(f[0], 64); err != nil || v < max {
			return
		}
		time.Sleep(2 * time.Second)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
