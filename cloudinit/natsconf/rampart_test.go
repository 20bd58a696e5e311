package natsconf

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/rampart-edge/rampart/cloudinit/internal/golden"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rampart-edge/rampart/controlsvc/api"
	"golang.org/x/crypto/bcrypt"
)

// testSpec is two regions of two nodes on private addresses.
func testSpec() Spec {
	node := func(name, host string) Node {
		return Node{Name: name, Host: host, ClientPort: 4222, ClusterPort: 6222, GatewayPort: 7222}
	}
	return Spec{
		Regions: []Region{
			{Name: "nyc3", Nodes: []Node{node("nyc3-1", "10.8.1.1"), node("nyc3-2", "10.8.1.2")}},
			{Name: "ams3", Nodes: []Node{node("ams3-1", "10.8.2.1"), node("ams3-2", "10.8.2.2")}},
		},
		ControlRegion: "nyc3",
		StoreRoot:     "/var/lib/nats",
		MaxFileStore:  20 << 30,
		Credentials: Credentials{
			ControlPassword: "control-secret",
			EdgePasswords:   map[string]string{"nyc3": "edge-nyc3-secret", "ams3": "edge-ams3-secret"},
			RouteUser:       "route",
			RoutePassword:   "route-secret",
			GatewayUser:     "gateway",
			GatewayPassword: "gateway-secret",
			SysPassword:     "sys-secret",
		},
		BcryptCost: bcrypt.MinCost,
	}
}

var bcryptRE = regexp.MustCompile(`\$2a\$04\$[./A-Za-z0-9]{53}`)

func TestRampartGolden(t *testing.T) {
	spec := testSpec()
	spec.Regions[1].Nodes[0].HTTPPort = 8222
	configs, err := Rampart(spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(configs) != 4 {
		t.Fatalf("got %d configs, want 4", len(configs))
	}
	c := configs["ams3-1"]
	out, err := c.Render()
	if err != nil {
		t.Fatal(err)
	}
	// Hashes are salted at random; check them, then pin the rest.
	hashes := bcryptRE.FindAllString(string(out), -1)
	plain := []string{"control-secret", "edge-nyc3-secret", "edge-ams3-secret", "sys-secret"}
	if len(hashes) != len(plain) {
		t.Fatalf("found %d bcrypt hashes, want %d:\n%s", len(hashes), len(plain), out)
	}
	for i, h := range hashes {
		if err := bcrypt.CompareHashAndPassword([]byte(h), []byte(plain[i])); err != nil {
			t.Errorf("hash %d does not match %q: %v", i, plain[i], err)
		}
	}
	for _, p := range plain {
		if strings.Contains(string(out), `"`+p+`"`) {
			t.Errorf("client password %q rendered in plain text", p)
		}
	}
	golden.Check(t, "rampart-ams3-1.golden", bcryptRE.ReplaceAll(out, []byte("<bcrypt>")))

	// Every node shares the accounts (and so the hashes), not the rest.
	other := configs["nyc3-2"]
	if other.Cluster.Name != "nyc3" || other.ServerName != "nyc3-2" || other.JetStream.StoreDir != "/var/lib/nats/nyc3-2" {
		t.Errorf("nyc3-2: cluster %q, server %q, store %q", other.Cluster.Name, other.ServerName, other.JetStream.StoreDir)
	}
	if want := []string{RouteURL("10.8.1.1", 6222, "route", "route-secret"), RouteURL("10.8.1.2", 6222, "route", "route-secret")}; !slices.Equal(other.Cluster.Routes, want) {
		t.Errorf("nyc3-2 routes = %v, want %v", other.Cluster.Routes, want)
	}
	if other.HTTP != nil {
		t.Errorf("nyc3-2 has monitoring at %v", other.HTTP)
	}
	if other.Accounts[0].Users[0].Password != c.Accounts[0].Users[0].Password {
		t.Error("nodes carry different hashes of the control password")
	}
}

func TestSpecValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(s *Spec)
		want   string
	}{
		{"valid", func(s *Spec) {}, ""},
		{"no regions", func(s *Spec) { s.Regions = nil }, "regions: at least one region"},
		{"control region name", func(s *Spec) { s.ControlRegion = "NYC" }, "control_region: region \"NYC\""},
		{"control region unknown", func(s *Spec) { s.ControlRegion = "sfo3" }, "control_region: \"sfo3\" is not one of the regions"},
		{"region name", func(s *Spec) { s.Regions[1].Name = "ams-3" }, "regions[1].name: region \"ams-3\""},
		{"duplicate region", func(s *Spec) { s.Regions[1].Name = "nyc3" }, "regions[1].name: duplicate region"},
		{"no nodes", func(s *Spec) { s.Regions[0].Nodes = nil }, "regions[0].nodes: at least one node"},
		{"node name", func(s *Spec) { s.Regions[0].Nodes[1].Name = "Nyc3_2" }, "regions[0].nodes[1].name: node \"Nyc3_2\""},
		{"duplicate node", func(s *Spec) { s.Regions[1].Nodes[0].Name = "nyc3-1" }, "regions[1].nodes[0].name: duplicate node \"nyc3-1\""},
		{"node host", func(s *Spec) { s.Regions[0].Nodes[0].Host = "" }, "regions[0].nodes[0].host: required"},
		{"client port", func(s *Spec) { s.Regions[0].Nodes[0].ClientPort = 0 }, "regions[0].nodes[0].client_port: 0"},
		{"cluster port", func(s *Spec) { s.Regions[0].Nodes[0].ClusterPort = 65536 }, "regions[0].nodes[0].cluster_port: 65536"},
		{"gateway port", func(s *Spec) { s.Regions[0].Nodes[0].GatewayPort = -1 }, "regions[0].nodes[0].gateway_port: -1"},
		{"http port", func(s *Spec) { s.Regions[0].Nodes[0].HTTPPort = -1 }, "regions[0].nodes[0].http_port: -1"},
		{"edge password", func(s *Spec) { delete(s.Credentials.EdgePasswords, "ams3") }, "credentials.edge_passwords.ams3: required"},
		{"store root", func(s *Spec) { s.StoreRoot = "" }, "store_root: required"},
		{"control password", func(s *Spec) { s.Credentials.ControlPassword = "" }, "credentials.control_password: required"},
		{"route user", func(s *Spec) { s.Credentials.RouteUser = "" }, "credentials.route_user: required"},
		{"gateway password", func(s *Spec) { s.Credentials.GatewayPassword = "" }, "credentials.gateway_password: required"},
		{"sys password", func(s *Spec) { s.Credentials.SysPassword = "" }, "credentials.sys_password: required"},
		{"bcrypt cost", func(s *Spec) { s.BcryptCost = 3 }, "bcrypt_cost: 3"},
		{"negative file store", func(s *Spec) { s.MaxFileStore = -1 }, "node nyc3-1: jetstream.max_file_store: -1 is negative"},
		{"password too long for bcrypt", func(s *Spec) { s.Credentials.SysPassword = strings.Repeat("x", 73) }, "credentials.sys_password: bcrypt:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testSpec()
			tt.modify(&s)
			_, err := Rampart(s)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Rampart() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Rampart() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestRampartAccountLayout(t *testing.T) {
	spec := testSpec()
	spec.ClusterTLS = &TLS{CertFile: "/etc/nats/route.crt", KeyFile: "/etc/nats/route.key"}
	configs, err := Rampart(spec)
	if err != nil {
		t.Fatal(err)
	}
	c := configs["nyc3-1"]
	names := []string{}
	for _, a := range c.Accounts {
		names = append(names, a.Name)
	}
	if want := []string{api.AccountControl, api.AccountEdge, api.AccountSystem}; !slices.Equal(names, want) {
		t.Fatalf("accounts = %v, want %v", names, want)
	}
	edge := c.Accounts[1]
	var users []string
	for _, u := range edge.Users {
		users = append(users, u.User)
		region := strings.TrimPrefix(u.User, "edge-")
		if !slices.Equal(u.Permissions.Publish.Allow, api.EdgePublishAllow(region)) {
			t.Errorf("%s publish allow = %v", u.User, u.Permissions.Publish.Allow)
		}
	}
	if want := []string{"edge-nyc3", "edge-ams3"}; !slices.Equal(users, want) {
		t.Errorf("edge users = %v, want %v", users, want)
	}
	if c.SystemAccount != api.AccountSystem {
		t.Errorf("system_account = %q", c.SystemAccount)
	}
	var gws []string
	for _, g := range c.Gateway.Gateways {
		gws = append(gws, g.Name)
	}
	if want := []string{"nyc3", "ams3"}; !slices.Equal(gws, want) {
		t.Errorf("gateways = %v, want %v", gws, want)
	}
	if c.Cluster.TLS != spec.ClusterTLS || c.TLS != nil || c.Gateway.TLS != nil {
		t.Errorf("tls: client %v, cluster %v, gateway %v", c.TLS, c.Cluster.TLS, c.Gateway.TLS)
	}
}

// freePorts reserves n distinct ports on 127.0.0.1 and releases them.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// TestRampartBoots renders a one-region, two-node layout, boots it in
// embedded nats-servers and checks the accounts: the control user has
// JetStream, an edge user reaches it through the imported API and may not
// publish outside its allow list, a wrong password is refused.
func TestRampartBoots(t *testing.T) {
	ports := freePorts(t, 6)
	dir := t.TempDir()
	spec := testSpec()
	spec.Regions = []Region{{Name: "nyc3", Nodes: []Node{
		{Name: "nyc3-1", Host: "127.0.0.1", ClientPort: ports[0], ClusterPort: ports[1], GatewayPort: ports[2]},
		{Name: "nyc3-2", Host: "127.0.0.1", ClientPort: ports[3], ClusterPort: ports[4], GatewayPort: ports[5]},
	}}}
	spec.StoreRoot = filepath.Join(dir, "js")
	spec.MaxFileStore = 0
	configs, err := Rampart(spec)
	if err != nil {
		t.Fatal(err)
	}
	var servers []*server.Server
	for _, n := range spec.Regions[0].Nodes {
		c := configs[n.Name]
		out, err := c.Render()
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, n.Name+".conf")
		if err := os.WriteFile(path, out, 0o600); err != nil {
			t.Fatal(err)
		}
		opts, err := server.ProcessConfigFile(path)
		if err != nil {
			t.Fatalf("ProcessConfigFile: %v\n%s", err, out)
		}
		opts.NoSigs = true
		s, err := server.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		if os.Getenv("NATS_LOG") != "" {
			s.ConfigureLogger()
		}
		s.Start()
		t.Cleanup(func() {
			s.Shutdown()
			s.WaitForShutdown()
		})
		servers = append(servers, s)
	}
	for _, s := range servers {
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatalf("%s not ready", s.Name())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waitFor(ctx, t, "a JetStream meta leader", func() bool {
		return slices.ContainsFunc(servers, (*server.Server).JetStreamIsLeader)
	})
	url := ClientURL(spec.Regions[0].Nodes[0])

	control, err := nats.Connect(url, nats.UserInfo(ControlUser, "control-secret"))
	if err != nil {
		t.Fatal(err)
	}
	defer control.Close()
	js, err := jetstream.New(control)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AccountInfo(ctx); err != nil {
		t.Fatalf("control account info: %v", err)
	}

	if nc, err := nats.Connect(url, nats.UserInfo(ControlUser, "wrong")); err == nil {
		nc.Close()
		t.Fatal("connected with a wrong password")
	} else if !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("wrong password: %v, want an authorization error", err)
	}

	violations := make(chan error, 4)
	edge, err := nats.Connect(url,
		nats.UserInfo(EdgeUser("nyc3"), "edge-nyc3-secret"),
		nats.CustomInboxPrefix(api.EdgeInbox("nyc3")),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { violations <- err }),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer edge.Close()
	msg, err := edge.RequestWithContext(ctx, api.EdgeJSAPIPrefix+".INFO", nil)
	if err != nil {
		t.Fatalf("edge request to the imported JetStream API: %v", err)
	}
	var info struct {
		Type  string `json:"type"`
		Error *struct {
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &info); err != nil || info.Error != nil || info.Type != "io.nats.jetstream.api.v1.account_info_response" {
		t.Fatalf("edge account info via import: %s (%v)", msg.Data, err)
	}

	if err := edge.Publish("$KV.sites.x", []byte("nope")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-violations:
		if !errors.Is(err, nats.ErrPermissionViolation) {
			t.Fatalf("edge publish to $KV.sites.x: %v, want a permissions violation", err)
		}
	case <-ctx.Done():
		t.Fatal("edge publish to $KV.sites.x was not refused")
	}

	sys, err := nats.Connect(url, nats.UserInfo(SysUser, "sys-secret"))
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	if _, err := sys.RequestWithContext(ctx, "$SYS.REQ.SERVER.PING", nil); err != nil {
		t.Fatalf("sys ping: %v", err)
	}
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-tick.C:
		}
	}
}
