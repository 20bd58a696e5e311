package fleet

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"github.com/rampart-edge/rampart/cloudinit/internal/golden"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rampart-edge/rampart/cloudinit/natsconf"
	"github.com/rampart-edge/rampart/cloudinit/wgconf"
)

// seed is a fixed 32-byte WireGuard seed per node, so golden files are stable.
func seed(i int) []byte { return bytes.Repeat([]byte{byte(i + 1)}, 32) }

const fakeCert = "-----BEGIN CERTIFICATE-----\nZml4dHVyZQ==\n-----END CERTIFICATE-----\n"
const fakeKey = "-----BEGIN PRIVATE KEY-----\nZml4dHVyZQ==\n-----END PRIVATE KEY-----\n"

// testFleet is three regions of two nodes with fixed keys and fake PEMs.
func testFleet(t *testing.T) (Fleet, map[string]wgconf.Key) {
	t.Helper()
	f := Fleet{
		ControlRegion: "nyc3",
		NATS: NATS{
			Credentials: natsconf.Credentials{
				ControlPassword: "control-pw", SysPassword: "sys-pw",
				RouteUser: "route", RoutePassword: "route-pw",
				GatewayUser: "gateway", GatewayPassword: "gateway-pw",
				EdgePasswords: map[string]string{},
			},
			Hashes: map[string]string{"control_password": fakeHash("control"), "sys_password": fakeHash("sys")},
			CAPEM:  fakeCert,
		},
		EdgeSealKey: "c2VhbC1wcml2YXRl", EdgeSealPublicKey: "c2VhbC1wdWJsaWM=",
		OriginPullCertPEM: fakeCert, OriginPullKeyPEM: fakeKey,
		AdminToken: "admin-token",
	}
	private := map[string]wgconf.Key{}
	i := 0
	for r, name := range []string{"nyc3", "ams3", "syd1"} {
		reg := Region{Name: name}
		for n := range 2 {
			node := fmt.Sprintf("%s-%d", name, n+1)
			priv, pub, err := wgconf.KeyPair(seed(i))
			if err != nil {
				t.Fatal(err)
			}
			private[node] = priv
			reg.Nodes = append(reg.Nodes, Node{
				Name:               node,
				MeshAddress:        netip.AddrFrom4([4]byte{10, 77, byte(r + 1), byte(n + 1)}),
				PublicIP:           netip.AddrFrom4([4]byte{203, 0, 113, byte(10*r + n + 1)}),
				WireGuardPublicKey: pub,
				TLSCertPEM:         fakeCert, TLSKeyPEM: fakeKey,
			})
			i++
		}
		f.Regions = append(f.Regions, reg)
		f.NATS.Credentials.EdgePasswords[name] = "edge-" + name + "-pw"
		f.NATS.Hashes["edge_passwords."+name] = fakeHash("edge-" + name)
	}
	return f, private
}

// fakeHash looks like a bcrypt hash; golden renders never verify passwords.
func fakeHash(s string) string {
	return "$2a$10$" + (s + strings.Repeat("x", 53))[:53]
}

// scriptFile decodes the content a push script installs at path.
func scriptFile(t *testing.T, script []byte, path string) []byte {
	t.Helper()
	re := regexp.MustCompile(`(?s)put ` + regexp.QuoteMeta(path) + ` \S+ \S+ \S+ <<'(RAMPART_EOF_\d+)'\n(.*?)\n(RAMPART_EOF_\d+)\n`)
	m := re.FindSubmatch(script)
	if m == nil {
		t.Fatalf("script does not install %s:\n%s", path, script)
	}
	b, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(string(m[2]), "\n", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGolden(t *testing.T) {
	f, private := testFleet(t)
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	ud, err := Boot{Node: "nyc3-1", WireGuardPrivateKey: private["nyc3-1"]}.RenderUserData()
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "user-data-nyc3-1.golden", ud)

	mesh, err := f.MeshScript("ams3-2")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "wg0-ams3-2.golden", scriptFile(t, mesh, WireGuardConfFile))
	golden.Check(t, "mesh-script-ams3-2.golden", mesh)

	nats, err := f.NATSScript("ams3-2")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "nats-ams3-2.golden", scriptFile(t, nats, NATSConfFile))

	svc, err := f.ServicesScript("nyc3-2")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "edge-nyc3-2.golden", scriptFile(t, svc, EdgeConfigFile))
	golden.Check(t, "control-nyc3-2.golden", scriptFile(t, svc, ControlConfigFile))
	for _, u := range []struct{ name, path string }{
		{"nats-server.service", UnitDir + "/nats-server.service"},
	} {
		golden.Check(t, u.name+".golden", scriptFile(t, nats, u.path))
	}
	golden.Check(t, "edgeagent.service.golden", scriptFile(t, svc, UnitDir+"/edgeagent.service"))
	golden.Check(t, "controlsvc.service.golden", scriptFile(t, svc, UnitDir+"/controlsvc.service"))
	// Only the control region runs the control service.
	if edgeOnly, err := f.ServicesScript("ams3-1"); err != nil {
		t.Fatal(err)
	} else if bytes.Contains(edgeOnly, []byte(ControlConfigFile)) {
		t.Error("ams3-1 gets a control service config")
	}

	roll, err := RolloutScript(EdgeService, strings.Repeat("ab", 32))
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "rollout-edgeagent.golden", roll)
}

// TestUserDataCarriesOnlyTheNode shows what the user-data depends on: the
// node name and its own key, nothing about peers, NATS or binaries.
func TestUserDataCarriesOnlyTheNode(t *testing.T) {
	f, private := testFleet(t)
	ud, err := Boot{Node: "ams3-1", WireGuardPrivateKey: private["ams3-1"]}.RenderUserData()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(ud, []byte(private["ams3-1"])) {
		t.Error("user-data lacks the node's own private key")
	}
	for _, r := range f.Regions {
		for _, n := range r.Nodes {
			if bytes.Contains(ud, []byte(n.WireGuardPublicKey)) || bytes.Contains(ud, []byte(n.PublicIP.String())) {
				t.Errorf("user-data mentions %s", n.Name)
			}
			if n.Name != "ams3-1" && bytes.Contains(ud, []byte(private[n.Name])) {
				t.Errorf("user-data holds %s's private key", n.Name)
			}
		}
	}
	for _, secret := range []string{"route-pw", "gateway-pw", "control-pw", "nats.conf"} {
		if bytes.Contains(ud, []byte(secret)) {
			t.Errorf("user-data mentions %q", secret)
		}
	}
}

// TestCloudInitSchema runs Debian's cloud-init schema check on the user-data.
func TestCloudInitSchema(t *testing.T) {
	bin, err := exec.LookPath("cloud-init")
	if err != nil {
		t.Fatal("cloud-init is not installed: the user-data schema check needs Debian's cloud-init package " +
			"(apt-get install cloud-init; scripts/test installs it)")
	}
	_, private := testFleet(t)
	ud, err := Boot{Node: "syd1-2", WireGuardPrivateKey: private["syd1-2"]}.RenderUserData()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "user-data")
	if err := os.WriteFile(path, ud, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "schema", "--config-file", path).CombinedOutput()
	if err != nil {
		t.Fatalf("cloud-init schema: %v\n%s\n%s", err, out, ud)
	}
	if !bytes.Contains(out, []byte("Valid")) {
		t.Fatalf("cloud-init schema did not say valid:\n%s", out)
	}
	// The check is real: a wrong type fails it.
	bad := bytes.Replace(ud, []byte("package_update: true"), []byte("package_update: [yes]"), 1)
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "schema", "--config-file", path).CombinedOutput(); err == nil {
		t.Fatalf("cloud-init schema accepted a wrong type:\n%s", out)
	}
}

func TestValidateNamesTheField(t *testing.T) {
	tests := []struct {
		name   string
		modify func(f *Fleet)
		want   string
	}{
		{"no regions", func(f *Fleet) { f.Regions = nil }, "regions: at least one"},
		{"region name", func(f *Fleet) { f.Regions[1].Name = "AMS" }, "regions[1].name"},
		{"mesh address public", func(f *Fleet) { f.Regions[0].Nodes[1].MeshAddress = netip.MustParseAddr("8.8.8.8") }, "regions[0].nodes[1].mesh_address"},
		{"mesh address twice", func(f *Fleet) { f.Regions[2].Nodes[0].MeshAddress = f.Regions[0].Nodes[0].MeshAddress }, "regions[2].nodes[0].mesh_address: 10.77.1.1 is also nyc3-1's"},
		{"public ip private", func(f *Fleet) { f.Regions[0].Nodes[0].PublicIP = netip.MustParseAddr("10.1.1.1") }, "regions[0].nodes[0].public_ip"},
		{"public ip twice", func(f *Fleet) { f.Regions[1].Nodes[1].PublicIP = f.Regions[1].Nodes[0].PublicIP }, "regions[1].nodes[1].public_ip"},
		{"wireguard key", func(f *Fleet) { f.Regions[0].Nodes[0].WireGuardPublicKey = "short" }, "regions[0].nodes[0].wireguard_public_key"},
		{"node cert", func(f *Fleet) { f.Regions[0].Nodes[0].TLSCertPEM = "" }, "regions[0].nodes[0].tls_cert_pem"},
		{"ca", func(f *Fleet) { f.NATS.CAPEM = "" }, "nats.ca_pem"},
		{"hash missing", func(f *Fleet) { delete(f.NATS.Hashes, "edge_passwords.syd1") }, "credentials.edge_passwords.syd1: no precomputed hash"},
		{"control region", func(f *Fleet) { f.ControlRegion = "sfo3" }, "control_region"},
		{"admin token", func(f *Fleet) { f.AdminToken = "" }, "admin_token: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := testFleet(t)
			tt.modify(&f)
			err := f.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestMeshIsComplete(t *testing.T) {
	f, private := testFleet(t)
	configs, err := f.WireGuard()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range f.Regions {
		for _, n := range r.Nodes {
			c := configs[n.Name]
			if len(c.Peers) != 5 {
				t.Fatalf("%s has %d peers, want 5", n.Name, len(c.Peers))
			}
			pub, err := wgconf.PublicKey(private[n.Name])
			if err != nil || pub != n.WireGuardPublicKey {
				t.Fatalf("%s: public key of its private key = %v (%v), want %v", n.Name, pub, err, n.WireGuardPublicKey)
			}
			for _, p := range c.Peers {
				peer, _, _ := f.Node(p.Name)
				if p.Name == n.Name || p.PublicKey != peer.WireGuardPublicKey || p.Endpoint.Addr() != peer.PublicIP ||
					len(p.AllowedIPs) != 1 || p.AllowedIPs[0] != netip.PrefixFrom(peer.MeshAddress, 32) {
					t.Errorf("%s: peer %+v does not match node %+v", n.Name, p, peer)
				}
			}
		}
	}
}
