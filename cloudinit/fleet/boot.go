package fleet

import (
	"fmt"

	"github.com/rampart-edge/rampart/cloudinit/userdata"
	"github.com/rampart-edge/rampart/cloudinit/wgconf"
	"github.com/rampart-edge/rampart/controlsvc/api"
)

// Boot is everything a droplet's user-data depends on. It is deliberately
// not the Fleet: on DigitalOcean a change of user-data replaces the droplet,
// so nothing about peers, regions, NATS or binaries may reach it.
type Boot struct {
	// Node is the host name.
	Node string
	// WireGuardPrivateKey is the node's own key, written once to
	// WireGuardKeyFile; wg0.conf (pushed later) loads it from there.
	WireGuardPrivateKey wgconf.Key
}

// Packages every node installs at first boot (Debian 12).
var Packages = []string{"wireguard-tools", "curl", "ca-certificates", "jq"}

// UserData is the node's cloud-config for Debian 12.
func (b Boot) UserData() (userdata.CloudConfig, error) {
	if err := api.ValidateNode(b.Node); err != nil {
		return userdata.CloudConfig{}, fmt.Errorf("node: %w", err)
	}
	if err := b.WireGuardPrivateKey.Validate(); err != nil {
		return userdata.CloudConfig{}, fmt.Errorf("wireguard_private_key: %w", err)
	}
	anchor, err := AnchorUnit().Render()
	if err != nil {
		return userdata.CloudConfig{}, err
	}
	system := func(name string) userdata.User {
		return userdata.User{Name: name, System: true, Shell: "/usr/sbin/nologin", LockPassword: true, NoCreateHome: true}
	}
	return userdata.CloudConfig{
		Hostname:      b.Node,
		PackageUpdate: true,
		Packages:      Packages,
		Users:         []userdata.User{userdata.DefaultUser, system(NATSUser), system(RampartUser)},
		WriteFiles: []userdata.File{
			{Path: WireGuardKeyFile, Content: string(b.WireGuardPrivateKey) + "\n", Owner: "root:root", Permissions: "0600"},
			{Path: "/usr/local/sbin/" + AnchorService, Content: anchorScript, Owner: "root:root", Permissions: "0755"},
			{Path: UnitDir + "/" + AnchorService + ".service", Content: string(anchor), Owner: "root:root", Permissions: "0644"},
			{Path: "/etc/sysctl.d/60-rampart.conf", Content: sysctl, Owner: "root:root", Permissions: "0644"},
		},
		RunCmd: [][]string{
			{"sysctl", "--system"},
			{"install", "-d", "-m", "0755", "/etc/nats", "/etc/nats/tls", "/etc/rampart", UploadDir},
			{"systemctl", "daemon-reload"},
			{"systemctl", "enable", "--now", AnchorService + ".service"},
		},
	}, nil
}

// sysctl sizes socket buffers for many connections and QUIC-free UDP (DNS,
// WireGuard) and widens the local port range for origin connections.
const sysctl = `# Rendered by rampart cloudinit/fleet; do not edit.
net.core.rmem_max = 7500000
net.core.wmem_max = 7500000
net.core.somaxconn = 8192
net.ipv4.ip_local_port_range = 10240 65000
`

// RenderUserData renders b's cloud-config.
func (b Boot) RenderUserData() ([]byte, error) {
	c, err := b.UserData()
	if err != nil {
		return nil, fmt.Errorf("user-data for %s: %w", b.Node, err)
	}
	out, err := c.Render()
	if err != nil {
		return nil, err
	}
	return out, userdata.CheckSize(out)
}
