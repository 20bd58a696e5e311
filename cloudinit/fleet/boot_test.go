package fleet

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rampart-edge/rampart/cloudinit/natsconf"
	"golang.org/x/crypto/bcrypt"
)

// testCA issues real certificates, as the pulumi-tls CA does in production.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string
}

func newTestCA(t *testing.T) testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return testCA{cert: cert, key: key, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

func (ca testCA) issue(t *testing.T, name string, ip netip.Addr) (certPEM, keyPEM string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:    []string{name}, IPAddresses: []net.IP{ip.AsSlice()}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}

// handedOut holds the ports freePort returned: the kernel readily hands a
// just-closed port out again, and a test's ports must differ.
var handedOut = map[int]bool{}

// freePort finds a port free on every one of hosts, not returned before.
func freePort(t *testing.T, hosts ...string) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", hosts[0]+":0")
		if err != nil {
			t.Skipf("cannot listen on %s: %v", hosts[0], err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		ok := true
		var others []net.Listener
		for _, h := range hosts[1:] {
			o, err := net.Listen("tcp", net.JoinHostPort(h, itoa(port)))
			if err != nil {
				ok = false
				break
			}
			others = append(others, o)
		}
		l.Close()
		for _, o := range others {
			o.Close()
		}
		if ok && !handedOut[port] {
			handedOut[port] = true
			return port
		}
	}
	t.Fatal("no common free port")
	return 0
}

func itoa(i int) string { return port(i) }

// TestRegionNATSBoots boots the nats.conf files the NATS push script installs
// for two regions of two nodes (on loopback mesh addresses), with real TLS on
// routes and gateways and bcrypt-hashed client passwords, and checks that the
// routes and gateways come up, JetStream answers and the control user works.
func TestRegionNATSBoots(t *testing.T) {
	hosts := []string{"127.0.77.1", "127.0.77.2", "127.0.77.3", "127.0.77.4"}
	f, _ := testFleet(t)
	ca := newTestCA(t)
	f.NATS.CAPEM = ca.pem
	f.Regions = f.Regions[:2]
	f.Regions[0].Nodes[0].MeshAddress = netip.MustParseAddr(hosts[0])
	f.Regions[0].Nodes[1].MeshAddress = netip.MustParseAddr(hosts[1])
	f.Regions[1].Nodes[0].MeshAddress = netip.MustParseAddr(hosts[2])
	f.Regions[1].Nodes[1].MeshAddress = netip.MustParseAddr(hosts[3])
	f.NATSPorts = NATSPorts{Client: freePort(t, hosts...), Cluster: freePort(t, hosts...), Gateway: freePort(t, hosts...), HTTP: freePort(t, hosts...)}
	delete(f.NATS.Credentials.EdgePasswords, "syd1")
	for field, pw := range map[string]string{"control_password": "control-pw", "sys_password": "sys-pw",
		"edge_passwords.nyc3": "edge-nyc3-pw", "edge_passwords.ams3": "edge-ams3-pw"} {
		h, _ := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		f.NATS.Hashes[field] = string(h)
	}
	for i := range f.Regions {
		for j := range f.Regions[i].Nodes {
			n := &f.Regions[i].Nodes[j]
			n.TLSCertPEM, n.TLSKeyPEM = ca.issue(t, n.Name, n.MeshAddress)
		}
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var servers []*server.Server
	for _, n := range append(f.Regions[0].Nodes, f.Regions[1].Nodes...) {
		script, err := f.NATSScript(n.Name)
		if err != nil {
			t.Fatal(err)
		}
		root := filepath.Join(dir, n.Name)
		// Install what the script installs, under root instead of /.
		for _, p := range []string{NATSCAFile, NATSCertFile, NATSKeyFile, NATSConfFile} {
			content := scriptFile(t, script, p)
			if p == NATSConfFile {
				content = []byte(strings.NewReplacer("/etc/nats/", root+"/etc/nats/", NATSStoreRoot+"/", root+NATSStoreRoot+"/").Replace(string(content)))
			}
			if err := os.MkdirAll(filepath.Dir(root+p), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(root+p, content, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		opts, err := server.ProcessConfigFile(root + NATSConfFile)
		if err != nil {
			t.Fatalf("%s: %v", n.Name, err)
		}
		if opts.Cluster.TLSConfig == nil || opts.Gateway.TLSConfig == nil {
			t.Fatalf("%s: routes or gateways without TLS", n.Name)
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
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		servers = append(servers, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, s := range servers {
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatalf("%s not ready", s.Name())
		}
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			select {
			case <-ctx.Done():
				t.Fatalf("waiting for %s", what)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	// TLS with verified certificates is configured on both, so only TLS
	// routes and gateways can come up.
	wait("routes and gateways", func() bool {
		for _, s := range servers {
			if s.NumRoutes() == 0 || s.NumOutboundGateways() == 0 {
				return false
			}
		}
		return true
	})
	nc, err := nats.Connect(natsconf.ClientURL(natsconf.Node{Host: hosts[1], ClientPort: f.NATSPorts.Client}),
		nats.UserInfo(natsconf.ControlUser, "control-pw"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var lastErr error
	wait("the JetStream API", func() bool {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, lastErr = js.AccountInfo(rctx)
		if lastErr != nil {
			t.Log(lastErr)
		}
		return lastErr == nil
	})
	if !servers[0].JetStreamEnabled() {
		t.Error("JetStream not enabled")
	}
	if _, err := nats.Connect(natsconf.ClientURL(natsconf.Node{Host: hosts[0], ClientPort: f.NATSPorts.Client}),
		nats.UserInfo(natsconf.ControlUser, "wrong")); err == nil {
		t.Error("a wrong password was accepted")
	}
}
