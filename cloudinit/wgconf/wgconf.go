// Package wgconf renders WireGuard wg-quick files (wg0.conf) from typed
// structs and builds Rampart's full mesh: every node lists every other node
// with its public key, endpoint and one /32 of the mesh.
//
// The private key is not part of wg0.conf: it is written once, at boot, to
// its own file (see Interface.PrivateKeyFile), so the file that changes when
// a node joins carries no secret and can be pushed and diffed freely.
package wgconf

import (
	"crypto/ecdh"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// DefaultPort is WireGuard's listen port on every node.
const DefaultPort = 51820

// Key is a Curve25519 key in WireGuard's base64 form.
type Key string

// KeyPair derives a WireGuard key pair from 32 random bytes (for example a
// stored random.RandomBytes value): the bytes are clamped as wg genkey does,
// so the same seed always yields the same keys.
func KeyPair(seed []byte) (private, public Key, err error) {
	if len(seed) != 32 {
		return "", "", fmt.Errorf("wireguard seed: %d bytes, want 32", len(seed))
	}
	k := make([]byte, 32)
	copy(k, seed)
	k[0] &= 248
	k[31] = (k[31] & 127) | 64
	priv, err := ecdh.X25519().NewPrivateKey(k)
	if err != nil {
		return "", "", fmt.Errorf("wireguard seed: %w", err)
	}
	return Key(base64.StdEncoding.EncodeToString(k)), Key(base64.StdEncoding.EncodeToString(priv.PublicKey().Bytes())), nil
}

// PublicKey derives the public key of a base64 private key.
func PublicKey(private Key) (Key, error) {
	b, err := private.bytes()
	if err != nil {
		return "", err
	}
	priv, err := ecdh.X25519().NewPrivateKey(b)
	if err != nil {
		return "", err
	}
	return Key(base64.StdEncoding.EncodeToString(priv.PublicKey().Bytes())), nil
}

// Validate checks that k is 32 bytes in base64.
func (k Key) Validate() error {
	_, err := k.bytes()
	return err
}

func (k Key) bytes() ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(string(k))
	if err != nil || len(b) != 32 {
		return nil, errors.New("want 32 bytes in base64")
	}
	return b, nil
}

// Config is one wg-quick interface file.
type Config struct {
	Interface Interface
	Peers     []Peer
}

// Interface is the [Interface] section.
type Interface struct {
	// Address is this node's mesh address, a single host (/32 or /128).
	Address netip.Prefix
	// ListenPort is the UDP port; DefaultPort on every Rampart node.
	ListenPort int
	// PrivateKeyFile is where the node's private key lives; wg-quick loads it
	// with a PostUp hook, and wg syncconf leaves a key it is not given alone.
	PrivateKeyFile string
	// MTU, if not 0, overrides wg-quick's choice.
	MTU int
}

// Peer is one [Peer] section.
type Peer struct {
	// Name is written as a comment so a reader sees which node this is.
	Name      string
	PublicKey Key
	// Endpoint is the peer's public address and port.
	Endpoint netip.AddrPort
	// AllowedIPs are the mesh addresses routed to the peer.
	AllowedIPs []netip.Prefix
	// PersistentKeepalive in seconds; 0 disables it.
	PersistentKeepalive int
}

// Validate checks c, naming the first bad field. AllowedIPs may not overlap
// each other or the interface address: WireGuard routes by them, and an
// overlap would silently send one node's traffic to another.
func (c Config) Validate() error {
	in := c.Interface
	if !in.Address.IsValid() {
		return errors.New("interface.address: required")
	}
	if in.Address.Bits() != in.Address.Addr().BitLen() {
		return fmt.Errorf("interface.address: %s is not a single host", in.Address)
	}
	if in.ListenPort < 1 || in.ListenPort > 65535 {
		return fmt.Errorf("interface.listen_port: %d is not in 1-65535", in.ListenPort)
	}
	if !strings.HasPrefix(in.PrivateKeyFile, "/") || strings.ContainsAny(in.PrivateKeyFile, " \t\n'\"$") {
		return fmt.Errorf("interface.private_key_file: %q is not a plain absolute path", in.PrivateKeyFile)
	}
	if in.MTU != 0 && (in.MTU < 1280 || in.MTU > 9000) {
		return fmt.Errorf("interface.mtu: %d is not in 1280-9000", in.MTU)
	}
	taken := []struct {
		p     netip.Prefix
		owner string
	}{{in.Address, "interface.address"}}
	keys := map[Key]string{}
	for i, p := range c.Peers {
		path := fmt.Sprintf("peers[%d]", i)
		if strings.ContainsAny(p.Name, "\n\r") {
			return fmt.Errorf("%s.name: contains a line break", path)
		}
		if _, err := p.PublicKey.bytes(); err != nil {
			return fmt.Errorf("%s.public_key: %w", path, err)
		}
		if other, dup := keys[p.PublicKey]; dup {
			return fmt.Errorf("%s.public_key: same key as %s", path, other)
		}
		keys[p.PublicKey] = path
		if !p.Endpoint.IsValid() || p.Endpoint.Port() == 0 {
			return fmt.Errorf("%s.endpoint: required, with a port", path)
		}
		if len(p.AllowedIPs) == 0 {
			return fmt.Errorf("%s.allowed_ips: at least one prefix is required", path)
		}
		for j, a := range p.AllowedIPs {
			apath := fmt.Sprintf("%s.allowed_ips[%d]", path, j)
			if !a.IsValid() || a != a.Masked() {
				return fmt.Errorf("%s: %s is not a masked prefix", apath, a)
			}
			for _, t := range taken {
				if a.Overlaps(t.p) {
					return fmt.Errorf("%s: %s overlaps %s (%s)", apath, a, t.p, t.owner)
				}
			}
			taken = append(taken, struct {
				p     netip.Prefix
				owner string
			}{a, apath})
		}
		if p.PersistentKeepalive < 0 || p.PersistentKeepalive > 65535 {
			return fmt.Errorf("%s.persistent_keepalive: %d is not in 0-65535", path, p.PersistentKeepalive)
		}
	}
	return nil
}

// Render validates c and writes it in wg-quick syntax.
func (c Config) Render() ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("wireguard config: %w", err)
	}
	var b strings.Builder
	b.WriteString("# WireGuard mesh interface rendered by rampart cloudinit/wgconf; do not edit.\n")
	b.WriteString("[Interface]\n")
	b.WriteString("Address = " + c.Interface.Address.String() + "\n")
	b.WriteString("ListenPort = " + strconv.Itoa(c.Interface.ListenPort) + "\n")
	if c.Interface.MTU != 0 {
		b.WriteString("MTU = " + strconv.Itoa(c.Interface.MTU) + "\n")
	}
	b.WriteString("PostUp = wg set %i private-key " + c.Interface.PrivateKeyFile + "\n")
	for _, p := range c.Peers {
		b.WriteString("\n")
		if p.Name != "" {
			b.WriteString("# " + p.Name + "\n")
		}
		b.WriteString("[Peer]\n")
		b.WriteString("PublicKey = " + string(p.PublicKey) + "\n")
		b.WriteString("Endpoint = " + p.Endpoint.String() + "\n")
		ips := make([]string, len(p.AllowedIPs))
		for i, a := range p.AllowedIPs {
			ips[i] = a.String()
		}
		b.WriteString("AllowedIPs = " + strings.Join(ips, ", ") + "\n")
		if p.PersistentKeepalive != 0 {
			b.WriteString("PersistentKeepalive = " + strconv.Itoa(p.PersistentKeepalive) + "\n")
		}
	}
	return []byte(b.String()), nil
}
