package main

import (
	"fmt"
	"net/netip"

	"github.com/rampart-edge/rampart/cloudinit/fleet"
	"github.com/rampart-edge/rampart/cloudinit/natsconf"
	"github.com/rampart-edge/rampart/cloudinit/wgconf"
)

// Topology is the environment stack's plain output "topology": what region
// stacks need to create and connect their droplets. It holds no secret, so
// a region stack can create resources from it at program time.
type Topology struct {
	ControlRegion string           `json:"controlRegion"`
	Regions       []TopologyRegion `json:"regions"`
	AdminCIDRs    []string         `json:"adminCidrs"`
	SSHKeys       []string         `json:"sshKeys"`
	Image         string           `json:"image"`
}

// TopologyRegion is one region of the topology.
type TopologyRegion struct {
	Name  string         `json:"name"`
	ID    int            `json:"id"`
	Size  string         `json:"size"`
	Nodes []TopologyNode `json:"nodes"`
}

// TopologyNode is one node: its mesh address, reserved IP and public key.
type TopologyNode struct {
	Name               string `json:"name"`
	MeshAddress        string `json:"meshAddress"`
	PublicIP           string `json:"publicIp"`
	WireGuardPublicKey string `json:"wireguardPublicKey"`
}

// Secrets is the environment stack's secret output "secrets".
type Secrets struct {
	Nodes map[string]NodeSecrets `json:"nodes"`
	NATS  struct {
		Credentials natsconf.Credentials `json:"credentials"`
		Hashes      map[string]string    `json:"hashes"`
		CAPEM       string               `json:"caPem"`
	} `json:"nats"`
	EdgeSealKey       string `json:"edgeSealKey"`
	EdgeSealPublicKey string `json:"edgeSealPublicKey"`
	OriginPullCertPEM string `json:"originPullCertPem"`
	OriginPullKeyPEM  string `json:"originPullKeyPem"`
	AdminToken        string `json:"adminToken"`
}

// NodeSecrets are one node's keys.
type NodeSecrets struct {
	WireGuardPrivateKey string `json:"wireguardPrivateKey"`
	TLSCertPEM          string `json:"tlsCertPem"`
	TLSKeyPEM           string `json:"tlsKeyPem"`
}

// Region finds a region of the topology.
func (t Topology) Region(name string) (TopologyRegion, bool) {
	for _, r := range t.Regions {
		if r.Name == name {
			return r, true
		}
	}
	return TopologyRegion{}, false
}

// MeshAddress is node n (from 1) of the region with id: 10.77.<id>.<n>.
func MeshAddress(regionID, n int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 77, byte(regionID), byte(n)})
}

// VPCRange is the region's VPC: 10.<100+id>.0.0/20, apart from the mesh.
func VPCRange(regionID int) string { return fmt.Sprintf("10.%d.0.0/20", 100+regionID) }

// NodeName is node n (from 1) of region.
func NodeName(region string, n int) string { return fmt.Sprintf("%s-%d", region, n) }

// Fleet joins the topology and the secrets into what the renderers take.
func (t Topology) Fleet(s Secrets) (fleet.Fleet, error) {
	f := fleet.Fleet{
		ControlRegion:     t.ControlRegion,
		EdgeSealKey:       s.EdgeSealKey,
		EdgeSealPublicKey: s.EdgeSealPublicKey,
		OriginPullCertPEM: s.OriginPullCertPEM,
		OriginPullKeyPEM:  s.OriginPullKeyPEM,
		AdminToken:        s.AdminToken,
		NATS: fleet.NATS{
			Credentials: s.NATS.Credentials,
			Hashes:      s.NATS.Hashes,
			CAPEM:       s.NATS.CAPEM,
		},
	}
	for _, r := range t.Regions {
		fr := fleet.Region{Name: r.Name}
		for _, n := range r.Nodes {
			mesh, err := netip.ParseAddr(n.MeshAddress)
			if err != nil {
				return f, fmt.Errorf("topology %s.meshAddress: %w", n.Name, err)
			}
			pub, err := netip.ParseAddr(n.PublicIP)
			if err != nil {
				return f, fmt.Errorf("topology %s.publicIp: %w", n.Name, err)
			}
			ns := s.Nodes[n.Name]
			fr.Nodes = append(fr.Nodes, fleet.Node{
				Name: n.Name, MeshAddress: mesh, PublicIP: pub,
				WireGuardPublicKey: wgconf.Key(n.WireGuardPublicKey),
				TLSCertPEM:         ns.TLSCertPEM, TLSKeyPEM: ns.TLSKeyPEM,
			})
		}
		f.Regions = append(f.Regions, fr)
	}
	return f, f.Validate()
}
