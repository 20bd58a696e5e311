package fleet

import (
	"strconv"

	"github.com/rampart-edge/rampart/cloudinit/systemd"
)

// Service accounts. Created at first boot by the user-data.
const (
	NATSUser    = "nats"
	RampartUser = "rampart"
)

// Services and their binaries.
const (
	NATSService    = "nats-server"
	EdgeService    = "edgeagent"
	ControlService = "controlsvc"
	// AnchorService routes outbound traffic through the reserved IP.
	AnchorService = "rampart-anchor-route"
)

// NATSUnit runs nats-server from the pushed nats.conf on the mesh address;
// a reload (SIGHUP) applies a new nats.conf without dropping connections.
func NATSUnit() systemd.Unit {
	return systemd.Unit{
		Name:        NATSService + ".service",
		Description: "NATS server (Rampart super-cluster)",
		After:       []string{"network-online.target", "wg-quick@wg0.service"},
		Wants:       []string{"network-online.target", "wg-quick@wg0.service"},
		Service: systemd.Service{
			User: NATSUser, Group: NATSUser,
			ExecStart:   []string{BinDir + "/nats-server", "-c", NATSConfFile},
			ExecReload:  []string{"/bin/kill", "-HUP", "$MAINPID"},
			Restart:     "always",
			RestartSec:  "2s",
			LimitNOFILE: 65536,
			Hardening:   true,
			// ReadWritePaths is implied by StateDirectory under ProtectSystem=strict.
			StateDirectory: "nats",
		},
	}
}

// EdgeUnit runs the edge agent; it binds 53, 80 and 443 without root.
func EdgeUnit() systemd.Unit {
	return systemd.Unit{
		Name:        EdgeService + ".service",
		Description: "Rampart edge agent",
		After:       []string{"network-online.target", NATSService + ".service"},
		Wants:       []string{"network-online.target"},
		Service: systemd.Service{
			User: RampartUser, Group: RampartUser,
			ExecStart:           []string{BinDir + "/edgeagent", "-config", EdgeConfigFile},
			Restart:             "always",
			RestartSec:          "1s",
			AmbientCapabilities: []string{"CAP_NET_BIND_SERVICE"},
			LimitNOFILE:         1 << 20,
			StateDirectory:      "rampart/edge",
			Hardening:           true,
		},
	}
}

// ControlUnit runs the control service (control region only).
func ControlUnit() systemd.Unit {
	return systemd.Unit{
		Name:        ControlService + ".service",
		Description: "Rampart control service",
		After:       []string{"network-online.target", NATSService + ".service"},
		Wants:       []string{"network-online.target"},
		Service: systemd.Service{
			User: RampartUser, Group: RampartUser,
			ExecStart:      []string{BinDir + "/controlsvc", "-config", ControlConfigFile},
			Restart:        "always",
			RestartSec:     "2s",
			StateDirectory: "rampart/control",
			Hardening:      true,
		},
	}
}

// anchorScript makes the reserved IP the source of every outbound
// connection, so mesh peers and origins see one stable address per node (the
// firewall admits WireGuard from reserved IPs only). Replies to connections
// made to the droplet's own address keep leaving through the droplet's
// gateway, by a rule on their source address.
const anchorScript = `#!/bin/sh
# Rendered by rampart cloudinit/fleet; do not edit.
set -eu
md=http://169.254.169.254/metadata/v1
gw=$(curl -fsS "$md/interfaces/public/0/ipv4/gateway")
self=$(curl -fsS "$md/interfaces/public/0/ipv4/address")
anchor=$(curl -fsS "$md/interfaces/public/0/anchor_ipv4/address")
anchor_gw=$(curl -fsS "$md/interfaces/public/0/anchor_ipv4/gateway")
ip rule del from "$self" table 100 2>/dev/null || true
ip rule add from "$self" table 100
ip route replace default via "$gw" dev eth0 table 100
ip route replace default via "$anchor_gw" dev eth0 src "$anchor"
`

// AnchorUnit applies anchorScript at every boot.
func AnchorUnit() systemd.Unit {
	return systemd.Unit{
		Name:        AnchorService + ".service",
		Description: "Route outbound traffic through the reserved IP",
		After:       []string{"network-online.target"},
		Wants:       []string{"network-online.target"},
		Service: systemd.Service{
			Type:            "oneshot",
			ExecStart:       []string{"/usr/local/sbin/" + AnchorService},
			RemainAfterExit: true,
		},
	}
}

func port(p int) string { return strconv.Itoa(p) }
