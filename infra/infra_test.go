package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats-server/v2/conf"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/rampart-edge/rampart/cloudinit/fleet"
	"github.com/rampart-edge/rampart/cloudinit/wgconf"
)

const project = "rampart"

// world is an environment stack and its region stacks sharing one state.
type world struct {
	t        *testing.T
	st       *state
	regions  []RegionConfig
	env      *mocks
	envOut   map[string]any
	stacks   map[string]*mocks // by region
	binaries map[string]string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	dir := t.TempDir()
	bins := map[string]string{}
	for _, b := range binaryKeys {
		p := filepath.Join(dir, b)
		if err := os.WriteFile(p, []byte("binary "+b), 0o755); err != nil {
			t.Fatal(err)
		}
		bins[b] = p
	}
	return &world{t: t, st: newState(), binaries: bins, regions: []RegionConfig{
		{Name: "nyc3", ID: 1, Nodes: 3, Size: "s-2vcpu-4gb"},
		{Name: "ams3", ID: 2, Nodes: 2, Size: "s-2vcpu-4gb"},
		{Name: "syd1", ID: 3, Nodes: 2, Size: "s-2vcpu-4gb"},
	}}
}

func (w *world) envConfig() map[string]string {
	regions, _ := json.Marshal(w.regions)
	return map[string]string{
		"rampart:zone":          "rampart.example.net",
		"rampart:controlRegion": "nyc3",
		"rampart:regions":       string(regions),
		"rampart:adminCidrs":    `["198.51.100.0/24","2001:db8::/48"]`,
		"rampart:sshKeys":       `["ab:cd:ef"]`,
	}
}

func (w *world) regionConfig(region string) map[string]string {
	bins, _ := json.Marshal(w.binaries)
	return map[string]string{
		"rampart:environment":   "dev",
		"rampart:region":        region,
		"rampart:binaries":      string(bins),
		"rampart:sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nfixture\n-----END OPENSSH PRIVATE KEY-----\n",
	}
}

// run runs the program once as stack with config.
func run(st *state, stack string, config map[string]string, env map[string]any, prog func(*pulumi.Context) error) (*mocks, error) {
	m := &mocks{st: st, stack: stack, env: env, secretOutputs: map[string]bool{"secrets": true}}
	withConfig := func(info *pulumi.RunInfo) {
		info.Config = config
		info.ConfigSecretKeys = []string{"rampart:sshPrivateKey"}
	}
	err := pulumi.RunErr(prog, pulumi.WithMocks(project, stack, m), withConfig)
	return m, err
}

// runEnv runs the environment stack and keeps its outputs for the region stacks.
func (w *world) runEnv() {
	w.t.Helper()
	var mu sync.Mutex
	out := map[string]any{}
	m, err := run(w.st, "dev", w.envConfig(), nil, func(ctx *pulumi.Context) error {
		cfg, err := loadEnvConfig(ctx)
		if err != nil {
			return err
		}
		env, err := runEnvironment(ctx, cfg)
		if err != nil {
			return err
		}
		for k, v := range env.Exports {
			v.ApplyT(func(x any) any {
				var j any
				b, _ := json.Marshal(x)
				json.Unmarshal(b, &j)
				mu.Lock()
				out[k] = j
				mu.Unlock()
				return nil
			})
		}
		return nil
	})
	if err != nil {
		w.t.Fatalf("environment stack: %v", err)
	}
	w.env, w.envOut = m, out
}

// runRegions runs every region stack.
func (w *world) runRegions() {
	w.t.Helper()
	w.stacks = map[string]*mocks{}
	for _, r := range w.regions {
		m, err := run(w.st, "dev-"+r.Name, w.regionConfig(r.Name), w.envOut, program)
		if err != nil {
			w.t.Fatalf("region stack %s: %v", r.Name, err)
		}
		w.stacks[r.Name] = m
	}
}

func (w *world) topology() Topology {
	var t Topology
	if err := roundTrip(w.envOut["topology"], &t); err != nil {
		w.t.Fatal(err)
	}
	return t
}

// pushed decodes the file a push script (a remote command's stdin) installs.
func pushed(t *testing.T, script, path string) string {
	t.Helper()
	re := regexp.MustCompile(`(?s)put ` + regexp.QuoteMeta(path) + ` \S+ \S+ \S+ <<'RAMPART_EOF_\d+'\n(.*?)\nRAMPART_EOF_\d+\n`)
	m := re.FindStringSubmatch(script)
	if m == nil {
		t.Fatalf("script does not install %s", path)
	}
	b, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(m[1], "\n", ""))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const (
	tDroplet  = "digitalocean:index/droplet:Droplet"
	tVPC      = "digitalocean:index/vpc:Vpc"
	tFirewall = "digitalocean:index/firewall:Firewall"
	tAssign   = "digitalocean:index/reservedIpAssignment:ReservedIpAssignment"
	tCommand  = "command:remote:Command"
	tCopy     = "command:remote:CopyToRemote"
	tRecord   = "digitalocean:index/dnsRecord:DnsRecord"
	tBytes    = "random:index/randomBytes:RandomBytes"
)

func TestDropletsFirewallAndDNS(t *testing.T) {
	w := newWorld(t)
	w.runEnv()
	w.runRegions()
	topo := w.topology()
	var allIPs []string
	for _, r := range topo.Regions {
		for _, n := range r.Nodes {
			allIPs = append(allIPs, n.PublicIP+"/32")
		}
	}
	for _, r := range w.regions {
		m := w.stacks[r.Name]
		vpcs := m.byType(tVPC)
		if len(vpcs) != 1 || vpcs[0].str("region") != r.Name || vpcs[0].str("ipRange") != VPCRange(r.ID) {
			t.Fatalf("%s: vpcs %+v", r.Name, vpcs)
		}
		vpcID := w.st.ids["dev-"+r.Name+"/"+tVPC+"/vpc"]
		droplets := m.byType(tDroplet)
		if len(droplets) != r.Nodes {
			t.Fatalf("%s: %d droplets, want %d", r.Name, len(droplets), r.Nodes)
		}
		var ids []any
		for _, d := range droplets {
			if d.str("region") != r.Name || d.str("vpcUuid") != vpcID || d.str("image") != "debian-12-x64" {
				t.Errorf("%s: droplet %s in region %q vpc %q image %q, want %q %q", r.Name, d.Name, d.str("region"), d.str("vpcUuid"), d.str("image"), r.Name, vpcID)
			}
			if !strings.HasPrefix(d.str("userData"), "#cloud-config\n") {
				t.Errorf("%s: user-data is not a cloud-config", d.Name)
			}
			id := w.st.ids["dev-"+r.Name+"/"+tDroplet+"/"+d.Name]
			ids = append(ids, mustFloat(t, id))
			a, ok := m.named(tAssign, d.Name)
			if !ok || a.get("dropletId") != mustFloat(t, id) {
				t.Errorf("%s: reserved IP assignment %+v, want droplet %s", d.Name, a.Inputs, id)
			}
		}
		fws := m.byType(tFirewall)
		if len(fws) != 1 {
			t.Fatalf("%s: %d firewalls", r.Name, len(fws))
		}
		fw := fws[0]
		fwIDs := fw.get("dropletIds").([]any)
		byNum := func(a, b any) int { return int(a.(float64) - b.(float64)) }
		slices.SortFunc(fwIDs, byNum)
		slices.SortFunc(ids, byNum)
		if !slices.Equal(fwIDs, ids) {
			t.Errorf("%s: firewall droplets %v, want %v", r.Name, fw.get("dropletIds"), ids)
		}
		sawSSH, sawWG := false, false
		for _, rule := range fw.get("inboundRules").([]any) {
			rule := rule.(map[string]any)
			proto, _ := rule["protocol"].(string)
			ports, _ := rule["portRange"].(string)
			var from []string
			for _, s := range rule["sourceAddresses"].([]any) {
				from = append(from, s.(string))
			}
			public := slices.Contains(from, "0.0.0.0/0") || slices.Contains(from, "::/0")
			for _, p := range []struct {
				proto string
				port  int
			}{{"tcp", 4222}, {"tcp", 6222}, {"tcp", 7222}, {"tcp", 8222}, {"udp", 51820}, {"tcp", 22}} {
				if proto == p.proto && covers(ports, p.port) && public {
					t.Errorf("%s: rule %v exposes %s/%d to the internet", r.Name, rule, p.proto, p.port)
				}
			}
			if proto == "tcp" && covers(ports, 22) {
				sawSSH = true
				if !slices.Equal(from, topo.AdminCIDRs) {
					t.Errorf("%s: ssh open to %v, want only %v", r.Name, from, topo.AdminCIDRs)
				}
			}
			if proto == "udp" && covers(ports, 51820) {
				sawWG = true
				if !slices.Equal(from, allIPs) {
					t.Errorf("%s: wireguard open to %v, want the mesh %v", r.Name, from, allIPs)
				}
			}
		}
		if !sawSSH || !sawWG {
			t.Errorf("%s: firewall lacks the ssh (%v) or wireguard (%v) rule", r.Name, sawSSH, sawWG)
		}
		// Components make the preview read like the architecture.
		for _, c := range []string{"rampart:region:Region", "rampart:region:Mesh", "rampart:region:NatsCluster", "rampart:region:Rollout"} {
			if len(m.byType(c)) != 1 {
				t.Errorf("%s: %d %s components", r.Name, len(m.byType(c)), c)
			}
		}
	}
	for _, c := range []string{"rampart:environment:Mesh", "rampart:environment:NatsCluster", "rampart:environment:Dns", "rampart:environment:OriginPull"} {
		if len(w.env.byType(c)) != 1 {
			t.Errorf("environment: %d %s components", len(w.env.byType(c)), c)
		}
	}
	if n := len(w.env.byType("rampart:environment:RegionAddresses")); n != 3 {
		t.Errorf("environment: %d RegionAddresses components, want 3", n)
	}

	// DNS: NS delegation of the edge zone to every node, glue, dashboard.
	var ns, glue, dash []string
	for _, rec := range w.env.byType(tRecord) {
		switch {
		case rec.str("type") == "NS" && rec.str("name") == "edge":
			ns = append(ns, rec.str("value"))
		case rec.str("type") == "A" && strings.HasPrefix(rec.str("name"), "ns-"):
			glue = append(glue, rec.str("name")+"="+rec.str("value"))
		case rec.str("type") == "A" && rec.str("name") == "dashboard":
			dash = append(dash, rec.str("value"))
		}
	}
	var wantNS, wantGlue, wantDash []string
	for _, r := range topo.Regions {
		for _, n := range r.Nodes {
			wantNS = append(wantNS, "ns-"+n.Name+".rampart.example.net.")
			wantGlue = append(wantGlue, "ns-"+n.Name+"="+n.PublicIP)
			if r.Name == "nyc3" {
				wantDash = append(wantDash, n.PublicIP)
			}
		}
	}
	for _, c := range []struct {
		what      string
		got, want []string
	}{{"NS", ns, wantNS}, {"glue", glue, wantGlue}, {"dashboard", dash, wantDash}} {
		sort.Strings(c.got)
		sort.Strings(c.want)
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s records %v, want %v", c.what, c.got, c.want)
		}
	}
	// Stack outputs.
	if got := w.envOut["dashboardUrl"]; got != "https://dashboard.rampart.example.net/" {
		t.Errorf("dashboardUrl = %v", got)
	}
	if got := w.envOut["nameservers"].([]any); len(got) != 7 {
		t.Errorf("nameservers = %v", got)
	}
	if got := w.envOut["edgeIps"].(map[string]any)["ams3"].([]any); len(got) != 2 {
		t.Errorf("edgeIps.ams3 = %v", got)
	}
	if got, _ := w.envOut["originPullCaPem"].(string); !strings.Contains(got, "BEGIN CERTIFICATE") {
		t.Errorf("originPullCaPem = %q", got)
	}
}

// covers says whether a DigitalOcean port range ("22", "1-65535", "" for
// all) includes port.
func covers(ports string, port int) bool {
	if ports == "" || ports == "all" {
		return true
	}
	var lo, hi int
	if n, _ := fmt.Sscanf(ports, "%d-%d", &lo, &hi); n == 2 {
		return lo <= port && port <= hi
	}
	fmt.Sscanf(ports, "%d", &lo)
	return lo == port
}

func mustFloat(t *testing.T, id string) float64 {
	t.Helper()
	var f float64
	if _, err := fmt.Sscanf(id, "%g", &f); err != nil {
		t.Fatalf("droplet id %q is not numeric", id)
	}
	return f
}

func TestMeshAndNATSConfigsAreComplete(t *testing.T) {
	w := newWorld(t)
	w.runEnv()
	w.runRegions()
	topo := w.topology()
	byName := map[string]TopologyNode{}
	regionOf := map[string]TopologyRegion{}
	for _, r := range topo.Regions {
		for _, n := range r.Nodes {
			byName[n.Name] = n
			regionOf[n.Name] = r
		}
	}
	for _, r := range w.regions {
		m := w.stacks[r.Name]
		for _, d := range m.byType(tDroplet) {
			self := byName[d.Name]
			// The key in user-data is the one whose public key peers use.
			key := regexp.MustCompile(`(?m)^\s+([A-Za-z0-9+/]{43}=)$`).FindStringSubmatch(d.str("userData"))
			if key == nil {
				t.Fatalf("%s: no private key in user-data", d.Name)
			}
			if pub, err := wgconf.PublicKey(wgconf.Key(key[1])); err != nil || string(pub) != self.WireGuardPublicKey {
				t.Errorf("%s: user-data key's public key %s, topology has %s", d.Name, pub, self.WireGuardPublicKey)
			}

			mesh, ok := m.named(tCommand, "mesh-"+d.Name)
			if !ok {
				t.Fatalf("%s: no mesh command", d.Name)
			}
			wg := pushed(t, mesh.str("stdin"), fleet.WireGuardConfFile)
			if !strings.Contains(wg, "Address = "+self.MeshAddress+"/32\n") {
				t.Errorf("%s: wg0.conf address:\n%s", d.Name, wg)
			}
			peers := strings.Split(wg, "[Peer]\n")[1:]
			if len(peers) != len(byName)-1 {
				t.Errorf("%s: %d peers, want %d", d.Name, len(peers), len(byName)-1)
			}
			seen := map[string]bool{}
			for _, p := range peers {
				var peer TopologyNode
				for _, n := range byName {
					if strings.Contains(p, "PublicKey = "+n.WireGuardPublicKey+"\n") {
						peer = n
					}
				}
				if peer.Name == "" || peer.Name == d.Name || seen[peer.Name] {
					t.Fatalf("%s: peer section with an unknown, own or repeated key:\n%s", d.Name, p)
				}
				seen[peer.Name] = true
				if !strings.Contains(p, "Endpoint = "+peer.PublicIP+":51820\n") || !strings.Contains(p, "AllowedIPs = "+peer.MeshAddress+"/32\n") {
					t.Errorf("%s: peer %s:\n%s", d.Name, peer.Name, p)
				}
			}

			natsCmd, ok := m.named(tCommand, "nats-"+d.Name)
			if !ok {
				t.Fatalf("%s: no nats command", d.Name)
			}
			nc, err := conf.Parse(pushed(t, natsCmd.str("stdin"), fleet.NATSConfFile))
			if err != nil {
				t.Fatalf("%s: nats.conf does not parse: %v", d.Name, err)
			}
			cluster := nc["cluster"].(map[string]any)
			var routes []string
			for _, u := range cluster["routes"].([]any) {
				routes = append(routes, hostOf(u.(string)))
			}
			var want []string
			for _, n := range regionOf[d.Name].Nodes {
				want = append(want, n.MeshAddress+":6222")
			}
			if !slices.Equal(routes, want) || cluster["name"] != r.Name {
				t.Errorf("%s: cluster %v routes %v, want %s %v", d.Name, cluster["name"], routes, r.Name, want)
			}
			if tls, _ := cluster["tls"].(map[string]any); tls == nil || tls["verify"] != true {
				t.Errorf("%s: routes without verified TLS", d.Name)
			}
			gw := nc["gateway"].(map[string]any)
			var gws []string
			for _, g := range gw["gateways"].([]any) {
				g := g.(map[string]any)
				var urls []string
				for _, u := range g["urls"].([]any) {
					urls = append(urls, hostOf(u.(string)))
				}
				gws = append(gws, g["name"].(string)+"="+strings.Join(urls, ","))
			}
			var wantGW []string
			for _, tr := range topo.Regions {
				var urls []string
				for _, n := range tr.Nodes {
					urls = append(urls, n.MeshAddress+":7222")
				}
				wantGW = append(wantGW, tr.Name+"="+strings.Join(urls, ","))
			}
			if !slices.Equal(gws, wantGW) {
				t.Errorf("%s: gateways %v, want %v", d.Name, gws, wantGW)
			}
			if nc["listen"] != self.MeshAddress+":4222" {
				t.Errorf("%s: nats listens on %v, want the mesh address only", d.Name, nc["listen"])
			}
		}
	}
}

func hostOf(u string) string {
	_, rest, _ := strings.Cut(u, "@")
	return rest
}

func TestRolloutIsOneNodeAtATime(t *testing.T) {
	w := newWorld(t)
	w.runEnv()
	w.runRegions()
	m := w.stacks["nyc3"]
	urn := func(typ, name string) string {
		for _, r := range m.byType(typ) {
			if r.Name == name {
				return "urn:pulumi:dev-nyc3::rampart::rampart:region:Region$rampart:region:Rollout$" + typ + "::" + name
			}
		}
		t.Fatalf("no %s %s", typ, name)
		return ""
	}
	order := []string{"nats-server", "controlsvc", "edgeagent"}
	hash, _ := fileSHA256(w.binaries["edgeagent"])
	var prev string
	for i := 1; i <= 3; i++ {
		node := fmt.Sprintf("nyc3-%d", i)
		for _, bin := range order {
			up, _ := m.named(tCopy, "upload-"+bin+"-"+node)
			restart, _ := m.named(tCommand, "restart-"+bin+"-"+node)
			if prev != "" && !slices.Contains(up.Deps, prev) {
				t.Errorf("upload of %s to %s does not wait for %s (deps %v)", bin, node, prev, up.Deps)
			}
			if !slices.Contains(restart.Deps, urn(tCopy, "upload-"+bin+"-"+node)) {
				t.Errorf("restart of %s on %s does not wait for its upload", bin, node)
			}
			if !strings.Contains(restart.str("stdin"), "systemctl restart "+bin) {
				t.Errorf("restart of %s on %s does not restart it", bin, node)
			}
			prev = urn(tCommand, "restart-"+bin+"-"+node)
		}
		edge, _ := m.named(tCommand, "restart-edgeagent-"+node)
		if trig := edge.get("triggers").([]any); trig[0] != hash {
			t.Errorf("edgeagent rollout on %s is triggered by %v, want the binary's hash %s", node, trig, hash)
		}
		if !strings.Contains(edge.str("stdin"), "127.0.0.1:9100/healthz") {
			t.Errorf("edgeagent rollout on %s is not gated on /healthz", node)
		}
	}
	// Only the control region runs the control service.
	if _, ok := w.stacks["ams3"].named(tCommand, "restart-controlsvc-ams3-1"); ok {
		t.Error("ams3 rolls out controlsvc")
	}
}

// TestRerunKeepsKeys runs every stack twice on the same state: every
// resource's inputs, user-data and pushed files included, are identical, so
// Pulumi sees no change; the keys come from the stored random bytes, so a
// fresh state (a new environment) gets new keys.
func TestRerunKeepsKeys(t *testing.T) {
	w := newWorld(t)
	w.runEnv()
	w.runRegions()
	first := snapshot(w)
	firstTopo := w.topology()
	w.runEnv()
	w.runRegions()
	second := snapshot(w)
	if len(first) != len(second) {
		t.Fatalf("%d resources, then %d", len(first), len(second))
	}
	for k, v := range first {
		if second[k] != v {
			t.Errorf("%s changed on a re-run:\n%s\n%s", k, v, second[k])
		}
	}
	for i, r := range w.topology().Regions {
		for j, n := range r.Nodes {
			if n.WireGuardPublicKey != firstTopo.Regions[i].Nodes[j].WireGuardPublicKey {
				t.Errorf("%s: key changed on a re-run", n.Name)
			}
		}
	}
	fresh := newWorld(t)
	fresh.runEnv()
	if fresh.topology().Regions[0].Nodes[0].WireGuardPublicKey == firstTopo.Regions[0].Nodes[0].WireGuardPublicKey {
		t.Error("a new environment got the same WireGuard key: keys do not come from the stored random bytes")
	}
	if n := len(w.env.byType(tBytes)); n != 8 {
		t.Errorf("%d RandomBytes, want 7 WireGuard keys and the seal key", n)
	}
}

func snapshot(w *world) map[string]string {
	out := map[string]string{}
	add := func(stack string, m *mocks) {
		for _, r := range m.resources {
			out[stack+"/"+r.Type+"/"+r.Name] = r.json()
		}
	}
	add("dev", w.env)
	for r, m := range w.stacks {
		add("dev-"+r, m)
	}
	return out
}

// TestAddingARegionReplacesNothing adds a region: no existing droplet's
// inputs change (user-data included), only pushes and firewalls do.
func TestAddingARegionReplacesNothing(t *testing.T) {
	w := newWorld(t)
	w.runEnv()
	w.runRegions()
	before := snapshot(w)
	w.regions = append(w.regions, RegionConfig{Name: "sfo3", ID: 4, Nodes: 2, Size: "s-2vcpu-4gb"})
	w.runEnv()
	w.runRegions()
	after := snapshot(w)
	changed := map[string]bool{}
	for k, v := range before {
		if after[k] != v {
			changed[k] = true
		}
	}
	for k := range changed {
		stack, rest, _ := strings.Cut(k, "/")
		if stack == "dev" {
			continue // the environment's outputs grow; its resources are checked below
		}
		typ := rest[:strings.LastIndex(rest, "/")]
		name := rest[strings.LastIndex(rest, "/")+1:]
		ok := typ == tFirewall || (typ == tCommand && (strings.HasPrefix(name, "mesh-") || strings.HasPrefix(name, "nats-") || strings.HasPrefix(name, "services-")))
		if !ok {
			t.Errorf("adding a region changed %s", k)
		}
	}
	for k := range before {
		if strings.Contains(k, tDroplet) && changed[k] {
			t.Errorf("droplet %s changed (it would be replaced)", k)
		}
	}
	for _, k := range []string{"dev-nyc3/" + tCommand + "/mesh-nyc3-1", "dev-ams3/" + tCommand + "/nats-ams3-2"} {
		if !changed[k] {
			t.Errorf("%s did not change: existing nodes would not learn the new region", k)
		}
	}
	// In the environment, only new resources appear and the edge passwords' list grows.
	for k := range changed {
		if strings.HasPrefix(k, "dev/") && !strings.Contains(k, tRecord) && !strings.HasPrefix(k, "dev/rampart:") {
			t.Errorf("environment resource changed: %s", k)
		}
	}
	// The new region peers with the old ones.
	wg := pushed(t, mustNamed(t, w.stacks["sfo3"], tCommand, "mesh-sfo3-1").str("stdin"), fleet.WireGuardConfFile)
	if n := strings.Count(wg, "[Peer]"); n != 8 {
		t.Errorf("sfo3-1 has %d peers, want 8", n)
	}
	addr, _ := netip.ParseAddr(w.topology().Regions[3].Nodes[1].MeshAddress)
	if addr != MeshAddress(4, 2) {
		t.Errorf("sfo3-2 mesh address %v", addr)
	}
}

func mustNamed(t *testing.T, m *mocks, typ, name string) recorded {
	t.Helper()
	r, ok := m.named(typ, name)
	if !ok {
		t.Fatalf("no %s %s", typ, name)
	}
	return r
}

func TestBadConfigNamesTheKey(t *testing.T) {
	envTests := []struct {
		name   string
		modify func(c map[string]string)
		want   string
	}{
		{"zone missing", func(c map[string]string) { delete(c, "rampart:zone") }, "rampart:zone"},
		{"regions not a list", func(c map[string]string) { c["rampart:regions"] = `{"name":"nyc3"}` }, "rampart:regions"},
		{"region id", func(c map[string]string) {
			c["rampart:regions"] = `[{"name":"nyc3","id":0,"nodes":2,"size":"s-1vcpu-1gb"}]`
		}, "rampart:regions[0].id"},
		{"region twice", func(c map[string]string) {
			c["rampart:regions"] = `[{"name":"nyc3","id":1,"nodes":2,"size":"s"},{"name":"nyc3","id":2,"nodes":2,"size":"s"}]`
		}, "rampart:regions[1].name"},
		{"nodes", func(c map[string]string) { c["rampart:regions"] = `[{"name":"nyc3","id":1,"nodes":0,"size":"s"}]` }, "rampart:regions[0].nodes"},
		{"control region", func(c map[string]string) { c["rampart:controlRegion"] = "fra1" }, "rampart:controlRegion"},
		{"admin cidr parse", func(c map[string]string) { c["rampart:adminCidrs"] = `["10.0.0.1"]` }, "rampart:adminCidrs[0]"},
		{"admin cidr world", func(c map[string]string) { c["rampart:adminCidrs"] = `["0.0.0.0/0"]` }, "rampart:adminCidrs[0]: 0.0.0.0/0 opens SSH"},
		{"ssh keys", func(c map[string]string) { delete(c, "rampart:sshKeys") }, "rampart:sshKeys"},
	}
	for _, tt := range envTests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			c := w.envConfig()
			tt.modify(c)
			_, err := run(w.st, "dev", c, nil, program)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one naming %q", err, tt.want)
			}
		})
	}
	w := newWorld(t)
	w.runEnv()
	regionTests := []struct {
		name   string
		modify func(c map[string]string)
		want   string
	}{
		{"environment", func(c map[string]string) { delete(c, "rampart:environment") }, "rampart:environment"},
		{"region name", func(c map[string]string) { c["rampart:region"] = "NYC3" }, "rampart:region"},
		{"region unknown", func(c map[string]string) { c["rampart:region"] = "fra1" }, `rampart:region: "fra1" is not in the environment`},
		{"binary missing", func(c map[string]string) { c["rampart:binaries"] = `{"nats-server":"a","controlsvc":"b"}` }, "rampart:binaries.edgeagent: required"},
		{"binary unreadable", func(c map[string]string) {
			c["rampart:binaries"] = `{"nats-server":"/nonexistent/nats-server","controlsvc":"b","edgeagent":"c"}`
		}, "rampart:binaries.nats-server"},
		{"ssh key", func(c map[string]string) { delete(c, "rampart:sshPrivateKey") }, "rampart:sshPrivateKey"},
	}
	for _, tt := range regionTests {
		t.Run(tt.name, func(t *testing.T) {
			c := w.regionConfig("ams3")
			tt.modify(c)
			_, err := run(w.st, "dev-ams3", c, w.envOut, program)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one naming %q", err, tt.want)
			}
		})
	}
}
