package wgconf

import (
	"errors"
	"fmt"
	"net/netip"
)

// Node is one member of a mesh.
type Node struct {
	Name string
	// Address is the node's mesh address (a host, e.g. 10.77.1.1).
	Address netip.Addr
	// PublicKey is the node's WireGuard public key.
	PublicKey Key
	// Endpoint is the public address peers send to (a reserved IP).
	Endpoint netip.Addr
}

// Mesh describes a full mesh: every node peers with every other node.
type Mesh struct {
	Nodes []Node
	// Port is every node's listen port; 0 means DefaultPort.
	Port int
	// PrivateKeyFile is where every node keeps its private key.
	PrivateKeyFile string
	// Keepalive in seconds keeps NAT and firewall state open; 0 disables it.
	Keepalive int
}

// Configs builds the wg0.conf of every node, keyed by node name. Each node
// lists every other node, in the order of Nodes, with AllowedIPs its /32.
func (m Mesh) Configs() (map[string]Config, error) {
	if len(m.Nodes) == 0 {
		return nil, errors.New("mesh.nodes: at least one node is required")
	}
	port := m.Port
	if port == 0 {
		port = DefaultPort
	}
	names := map[string]bool{}
	for i, n := range m.Nodes {
		if n.Name == "" || names[n.Name] {
			return nil, fmt.Errorf("mesh.nodes[%d].name: %q is empty or repeated", i, n.Name)
		}
		names[n.Name] = true
		if !n.Address.IsValid() {
			return nil, fmt.Errorf("mesh.nodes[%d].address: required", i)
		}
		if !n.Endpoint.IsValid() {
			return nil, fmt.Errorf("mesh.nodes[%d].endpoint: required", i)
		}
	}
	configs := make(map[string]Config, len(m.Nodes))
	for i, n := range m.Nodes {
		c := Config{Interface: Interface{
			Address:        netip.PrefixFrom(n.Address, n.Address.BitLen()),
			ListenPort:     port,
			PrivateKeyFile: m.PrivateKeyFile,
		}}
		for j, p := range m.Nodes {
			if i == j {
				continue
			}
			c.Peers = append(c.Peers, Peer{
				Name:                p.Name,
				PublicKey:           p.PublicKey,
				Endpoint:            netip.AddrPortFrom(p.Endpoint, uint16(port)),
				AllowedIPs:          []netip.Prefix{netip.PrefixFrom(p.Address, p.Address.BitLen())},
				PersistentKeepalive: m.Keepalive,
			})
		}
		if err := c.Validate(); err != nil {
			return nil, fmt.Errorf("node %s: %w", n.Name, err)
		}
		configs[n.Name] = c
	}
	return configs, nil
}
