// Package fleet is Rampart's node layout: which files every node of the edge
// network carries and how they change. It renders, through the generic
// renderers next to it (userdata, wgconf, natsconf, systemd, push):
//
//   - the user-data a droplet boots with, which holds only what never changes
//     (packages, users, the outbound route, the node's own WireGuard key), so
//     that adding a node or a region replaces no droplet;
//   - the scripts remote commands push afterwards: the WireGuard peers, the
//     NATS configuration and its TLS files, the service units and configs;
//   - the rollout script that installs an uploaded binary, restarts its
//     service and waits until the node is healthy.
package fleet

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/rampart-edge/rampart/cloudinit/natsconf"
	"github.com/rampart-edge/rampart/cloudinit/wgconf"
	"github.com/rampart-edge/rampart/controlsvc/api"
)

// Where things live on a node.
const (
	WireGuardKeyFile  = "/etc/wireguard/wg0.key"
	WireGuardConfFile = "/etc/wireguard/wg0.conf"
	NATSConfFile      = "/etc/nats/nats.conf"
	NATSCAFile        = "/etc/nats/tls/ca.pem"
	NATSCertFile      = "/etc/nats/tls/node.pem"
	NATSKeyFile       = "/etc/nats/tls/node-key.pem"
	NATSStoreRoot     = "/var/lib/nats"
	EdgeConfigFile    = "/etc/rampart/edge.json"
	ControlConfigFile = "/etc/rampart/control.json"
	OriginPullCert    = "/etc/rampart/origin-pull.pem"
	OriginPullKey     = "/etc/rampart/origin-pull-key.pem"
	UnitDir           = "/etc/systemd/system"
	BinDir            = "/usr/local/bin"
	// UploadDir receives binaries before they are installed.
	UploadDir = "/var/lib/rampart/upload"
)

// Ports every node uses. NATS listens only on the node's mesh address.
const (
	NATSClientPort  = 4222
	NATSClusterPort = 6222
	NATSGatewayPort = 7222
	NATSHTTPPort    = 8222
	EdgeAdminPort   = 9100
	ControlPort     = 8480
)

// Fleet is the whole edge network as the nodes see it.
type Fleet struct {
	// ControlRegion runs the control service and holds the writable buckets.
	ControlRegion string
	Regions       []Region
	NATS          NATS
	// EdgeSealKey is the edges' base64 X25519 private key that opens
	// certificate keys; EdgeSealPublicKey is what the control service seals to.
	EdgeSealKey, EdgeSealPublicKey string
	// OriginPullCertPEM and OriginPullKeyPEM are the client certificate edges
	// present to origins that require mTLS.
	OriginPullCertPEM, OriginPullKeyPEM string
	// AdminToken is the control service's bearer token.
	AdminToken string
	// NATSPorts, if set, replaces the default NATS ports, so that several
	// nodes can share one host in a test or a lab.
	NATSPorts NATSPorts
}

// NATSPorts are a node's NATS ports; zero fields take the defaults.
type NATSPorts struct {
	Client, Cluster, Gateway, HTTP int
}

func (f Fleet) natsPorts() NATSPorts {
	p := f.NATSPorts
	for _, d := range []struct {
		v   *int
		def int
	}{{&p.Client, NATSClientPort}, {&p.Cluster, NATSClusterPort}, {&p.Gateway, NATSGatewayPort}, {&p.HTTP, NATSHTTPPort}} {
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	return p
}

// Region is one cluster of nodes.
type Region struct {
	Name  string
	Nodes []Node
}

// Node is one droplet: a NATS server and an edge agent, plus the control
// service in the control region.
type Node struct {
	Name string
	// MeshAddress is the node's WireGuard address; NATS listens there.
	MeshAddress netip.Addr
	// PublicIP is the node's reserved IP: its WireGuard endpoint, its
	// nameserver address and the source of its outbound traffic.
	PublicIP netip.Addr
	// WireGuardPublicKey is derived from the node's private key.
	WireGuardPublicKey wgconf.Key
	// TLSCertPEM and TLSKeyPEM are the node's certificate for NATS routes and
	// gateways, issued for MeshAddress by NATS.CAPEM.
	TLSCertPEM, TLSKeyPEM string
}

// NATS holds the super-cluster's credentials.
type NATS struct {
	Credentials natsconf.Credentials
	// Hashes are bcrypt hashes of the client passwords keyed by natsconf
	// field ("control_password", "edge_passwords.<region>", "sys_password"),
	// generated once and kept, so renders are stable across runs.
	Hashes map[string]string
	// CAPEM verifies route and gateway peers.
	CAPEM string
	// MaxFileStore caps JetStream's disk use per server; 0 lets it choose.
	MaxFileStore int64
}

// Validate checks f, naming the first bad field.
func (f Fleet) Validate() error {
	if len(f.Regions) == 0 {
		return errors.New("regions: at least one region is required")
	}
	mesh := map[netip.Addr]string{}
	public := map[netip.Addr]string{}
	for i, r := range f.Regions {
		if err := api.ValidateRegion(r.Name); err != nil {
			return fmt.Errorf("regions[%d].name: %w", i, err)
		}
		for j, n := range r.Nodes {
			path := fmt.Sprintf("regions[%d].nodes[%d]", i, j)
			if err := api.ValidateNode(n.Name); err != nil {
				return fmt.Errorf("%s.name: %w", path, err)
			}
			if !n.MeshAddress.Is4() || !(n.MeshAddress.IsPrivate() || n.MeshAddress.IsLoopback()) {
				return fmt.Errorf("%s.mesh_address: %v is not a private (or, in a lab, loopback) IPv4 address", path, n.MeshAddress)
			}
			if other, dup := mesh[n.MeshAddress]; dup {
				return fmt.Errorf("%s.mesh_address: %v is also %s's", path, n.MeshAddress, other)
			}
			mesh[n.MeshAddress] = n.Name
			if !n.PublicIP.IsValid() || n.PublicIP.IsPrivate() || n.PublicIP.IsLoopback() {
				return fmt.Errorf("%s.public_ip: %v is not a public address", path, n.PublicIP)
			}
			if other, dup := public[n.PublicIP]; dup {
				return fmt.Errorf("%s.public_ip: %v is also %s's", path, n.PublicIP, other)
			}
			public[n.PublicIP] = n.Name
			if err := n.WireGuardPublicKey.Validate(); err != nil {
				return fmt.Errorf("%s.wireguard_public_key: %w", path, err)
			}
			if !strings.Contains(n.TLSCertPEM, "BEGIN CERTIFICATE") {
				return fmt.Errorf("%s.tls_cert_pem: not a PEM certificate", path)
			}
			if !strings.Contains(n.TLSKeyPEM, "PRIVATE KEY") {
				return fmt.Errorf("%s.tls_key_pem: not a PEM private key", path)
			}
		}
	}
	if !strings.Contains(f.NATS.CAPEM, "BEGIN CERTIFICATE") {
		return errors.New("nats.ca_pem: not a PEM certificate")
	}
	if f.EdgeSealKey == "" {
		return errors.New("edge_seal_key: required")
	}
	if f.EdgeSealPublicKey == "" {
		return errors.New("edge_seal_public_key: required")
	}
	if f.AdminToken == "" {
		return errors.New("admin_token: required")
	}
	if !strings.Contains(f.OriginPullCertPEM, "BEGIN CERTIFICATE") {
		return errors.New("origin_pull_cert_pem: not a PEM certificate")
	}
	if !strings.Contains(f.OriginPullKeyPEM, "PRIVATE KEY") {
		return errors.New("origin_pull_key_pem: not a PEM private key")
	}
	// The NATS layout checks the rest: names, regions, credentials.
	if _, err := f.natsSpec().ValidateAndHash(); err != nil {
		return err
	}
	return nil
}

// Node finds a node and its region by name.
func (f Fleet) Node(name string) (Node, Region, bool) {
	for _, r := range f.Regions {
		for _, n := range r.Nodes {
			if n.Name == name {
				return n, r, true
			}
		}
	}
	return Node{}, Region{}, false
}

// WireGuard is the wg0.conf of every node: the full mesh over public IPs.
func (f Fleet) WireGuard() (map[string]wgconf.Config, error) {
	m := wgconf.Mesh{PrivateKeyFile: WireGuardKeyFile, Keepalive: 25}
	for _, r := range f.Regions {
		for _, n := range r.Nodes {
			m.Nodes = append(m.Nodes, wgconf.Node{Name: n.Name, Address: n.MeshAddress, PublicKey: n.WireGuardPublicKey, Endpoint: n.PublicIP})
		}
	}
	return m.Configs()
}

// natsSpec lays the super-cluster over the mesh addresses.
func (f Fleet) natsSpec() natsSpec {
	s := natsconf.Spec{
		ControlRegion: f.ControlRegion,
		StoreRoot:     NATSStoreRoot,
		MaxFileStore:  f.NATS.MaxFileStore,
		Credentials:   f.NATS.Credentials,
		Hash:          natsconf.HashesFrom(f.NATS.Hashes),
	}
	tls := &natsconf.TLS{CertFile: NATSCertFile, KeyFile: NATSKeyFile, CAFile: NATSCAFile, Verify: true}
	s.ClusterTLS, s.GatewayTLS = tls, tls
	p := f.natsPorts()
	for _, r := range f.Regions {
		nr := natsconf.Region{Name: r.Name}
		for _, n := range r.Nodes {
			nr.Nodes = append(nr.Nodes, natsconf.Node{
				Name: n.Name, Host: n.MeshAddress.String(),
				ClientPort: p.Client, ClusterPort: p.Cluster, GatewayPort: p.Gateway, HTTPPort: p.HTTP,
			})
		}
		s.Regions = append(s.Regions, nr)
	}
	return natsSpec{s}
}

type natsSpec struct{ natsconf.Spec }

// ValidateAndHash builds every node's config, which validates the spec and
// checks that every client password has its hash.
func (s natsSpec) ValidateAndHash() (map[string]natsconf.Config, error) {
	return natsconf.Rampart(s.Spec)
}

// NATSConfigs is the nats.conf of every node, keyed by node name.
func (f Fleet) NATSConfigs() (map[string]natsconf.Config, error) {
	return f.natsSpec().ValidateAndHash()
}

// ClientURLs are the NATS URLs of a region's nodes, for its edges.
func (f Fleet) ClientURLs(r Region) []string {
	var urls []string
	for _, n := range r.Nodes {
		urls = append(urls, natsconf.ClientURL(natsconf.Node{Host: n.MeshAddress.String(), ClientPort: f.natsPorts().Client}))
	}
	return urls
}
