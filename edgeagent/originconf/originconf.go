// Package originconf renders the configuration an origin server needs to
// sit behind Rampart: accept connections from the edges only, restore the
// client address the edge saw, and require the edge's origin-pull client
// certificate. `edgeagent origin-snippet` prints it.
package originconf

import (
	"fmt"
	"net/netip"
	"strings"
)

// Params describe the edges an origin trusts.
type Params struct {
	// EdgeIPs are the edges' public addresses or prefixes (the
	// environment stack's edgeIps output).
	EdgeIPs []string
	// PullCAPath is where the origin-pull CA certificate is installed on
	// the origin (the stack's originPullCaPem output, saved to a file).
	PullCAPath string
}

// Validate checks the parameters, naming the bad one.
func (p Params) Validate() error {
	if len(p.EdgeIPs) == 0 {
		return fmt.Errorf("edge-ips: at least one edge address is required")
	}
	for i, s := range p.EdgeIPs {
		if _, err := netip.ParsePrefix(s); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(s); err != nil {
			return fmt.Errorf("edge-ips[%d]: %q is not an address or CIDR prefix", i, s)
		}
	}
	if p.PullCAPath == "" || strings.ContainsAny(p.PullCAPath, " \t\n\";'") {
		return fmt.Errorf("pull-ca: a file path without spaces or quotes is required")
	}
	return nil
}

// Nginx returns directives for an nginx server block.
func Nginx(p Params) string {
	var b strings.Builder
	b.WriteString("# Rampart origin protection (inside the server { listen 443 ssl; ... } block)\n")
	b.WriteString("# 1. Only Rampart edges may connect.\n")
	for _, ip := range p.EdgeIPs {
		fmt.Fprintf(&b, "allow %s;\n", ip)
	}
	b.WriteString("deny all;\n\n")
	b.WriteString("# 2. The client address: X-Real-IP holds the one client the edge saw, and is\n")
	b.WriteString("#    only believed from an edge.\n")
	for _, ip := range p.EdgeIPs {
		fmt.Fprintf(&b, "set_real_ip_from %s;\n", ip)
	}
	b.WriteString("real_ip_header X-Real-IP;\n\n")
	b.WriteString("# 3. Require the edge's origin-pull client certificate (mTLS).\n")
	fmt.Fprintf(&b, "ssl_client_certificate %s;\n", p.PullCAPath)
	b.WriteString("ssl_verify_client on;\nssl_verify_depth 2;\n")
	return b.String()
}

// Apache returns directives for an Apache <VirtualHost *:443> (mod_ssl,
// mod_remoteip and mod_authz_host).
func Apache(p Params) string {
	var b strings.Builder
	b.WriteString("# Rampart origin protection (inside <VirtualHost *:443>; needs mod_ssl and mod_remoteip)\n")
	b.WriteString("# 1. The client address: X-Real-IP, only believed from an edge.\n")
	b.WriteString("RemoteIPHeader X-Real-IP\n")
	for _, ip := range p.EdgeIPs {
		fmt.Fprintf(&b, "RemoteIPTrustedProxy %s\n", ip)
	}
	b.WriteString("\n# 2. Require the edge's origin-pull client certificate (mTLS).\n")
	fmt.Fprintf(&b, "SSLCACertificateFile %s\n", p.PullCAPath)
	b.WriteString("SSLVerifyClient require\nSSLVerifyDepth 2\n\n")
	b.WriteString("# 3. Only Rampart edges may connect (checked on the connection's address,\n")
	b.WriteString("#    not the restored client address).\n")
	b.WriteString("<Location \"/\">\n  <RequireAny>\n")
	for _, ip := range p.EdgeIPs {
		fmt.Fprintf(&b, "    Require expr \"%%{CONN_REMOTE_ADDR} -ipmatch '%s'\"\n", ip)
	}
	b.WriteString("  </RequireAny>\n</Location>\n")
	return b.String()
}
