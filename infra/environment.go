package main

import (
	"crypto/ecdh"
	"encoding/base64"
	"fmt"
	"sort"

	"github.com/pulumi/pulumi-digitalocean/sdk/v4/go/digitalocean"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi-tls/sdk/v5/go/tls"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/rampart-edge/rampart/cloudinit/wgconf"
)

// component is a pulumi.ComponentResource grouping the resources of one
// part of the architecture, so a preview reads like the design.
type component struct {
	pulumi.ResourceState
}

func newComponent(ctx *pulumi.Context, typ, name string, opts ...pulumi.ResourceOption) (*component, error) {
	c := &component{}
	if err := ctx.RegisterComponentResource("rampart:"+typ, name, c, opts...); err != nil {
		return nil, fmt.Errorf("%s %s: %w", typ, name, err)
	}
	return c, nil
}

// environment is what the environment stack builds.
type environment struct {
	// Exports are the stack outputs, by name.
	Exports map[string]pulumi.Output
}

// keyPair is a WireGuard or sealing key pair derived from stored random bytes.
type keyPair struct {
	Private pulumi.StringOutput // secret
	Public  pulumi.StringOutput // not secret
}

// x25519 derives a key pair from a random.RandomBytes of 32 bytes. The bytes
// live in the stack's state as a secret and are never regenerated, so the
// keys are stable across runs; wireguard clamps them as wg genkey does.
func x25519(ctx *pulumi.Context, name string, wireguard bool, parent pulumi.Resource) (keyPair, error) {
	rb, err := random.NewRandomBytes(ctx, name, &random.RandomBytesArgs{Length: pulumi.Int(32)},
		pulumi.Parent(parent), pulumi.AdditionalSecretOutputs([]string{"base64", "hex"}))
	if err != nil {
		return keyPair{}, err
	}
	pair := rb.Base64.ApplyT(func(b64 string) ([]string, error) {
		seed, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if wireguard {
			priv, pub, err := wgconf.KeyPair(seed)
			return []string{string(priv), string(pub)}, err
		}
		priv, err := ecdh.X25519().NewPrivateKey(seed)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return []string{b64, base64.StdEncoding.EncodeToString(priv.PublicKey().Bytes())}, nil
	}).(pulumi.StringArrayOutput)
	return keyPair{
		Private: pulumi.ToSecret(pair.Index(pulumi.Int(0))).(pulumi.StringOutput),
		// A public key is no secret; unwrapping it keeps the topology plain.
		Public: pulumi.Unsecret(pair.Index(pulumi.Int(1))).(pulumi.StringOutput),
	}, nil
}

// password is a random password kept in state, with its bcrypt hash (also
// kept, so a re-run renders the same nats.conf).
func password(ctx *pulumi.Context, name string, parent pulumi.Resource) (*random.RandomPassword, error) {
	return random.NewRandomPassword(ctx, name, &random.RandomPasswordArgs{
		Length:  pulumi.Int(32),
		Special: pulumi.Bool(false),
	}, pulumi.Parent(parent))
}

// tlsKey is an ECDSA P-256 private key.
func tlsKey(ctx *pulumi.Context, name string, parent pulumi.Resource) (*tls.PrivateKey, error) {
	return tls.NewPrivateKey(ctx, name, &tls.PrivateKeyArgs{Algorithm: pulumi.String("ECDSA"), EcdsaCurve: pulumi.String("P256")},
		pulumi.Parent(parent))
}

// ca is a self-signed CA.
type ca struct {
	Key  *tls.PrivateKey
	Cert *tls.SelfSignedCert
}

func newCA(ctx *pulumi.Context, name, commonName string, parent pulumi.Resource) (ca, error) {
	key, err := tlsKey(ctx, name+"-key", parent)
	if err != nil {
		return ca{}, err
	}
	cert, err := tls.NewSelfSignedCert(ctx, name, &tls.SelfSignedCertArgs{
		PrivateKeyPem:       key.PrivateKeyPem,
		IsCaCertificate:     pulumi.Bool(true),
		ValidityPeriodHours: pulumi.Int(10 * 365 * 24),
		Subject:             &tls.SelfSignedCertSubjectArgs{CommonName: pulumi.String(commonName), Organization: pulumi.String("Rampart")},
		AllowedUses:         pulumi.ToStringArray([]string{"cert_signing", "crl_signing", "digital_signature"}),
	}, pulumi.Parent(parent))
	return ca{Key: key, Cert: cert}, err
}

// issue signs a certificate for commonName (and ips) with authority.
func (authority ca) issue(ctx *pulumi.Context, name, commonName string, ips []string, uses []string, parent pulumi.Resource) (*tls.PrivateKey, *tls.LocallySignedCert, error) {
	key, err := tlsKey(ctx, name+"-key", parent)
	if err != nil {
		return nil, nil, err
	}
	csr, err := tls.NewCertRequest(ctx, name+"-csr", &tls.CertRequestArgs{
		PrivateKeyPem: key.PrivateKeyPem,
		Subject:       &tls.CertRequestSubjectArgs{CommonName: pulumi.String(commonName), Organization: pulumi.String("Rampart")},
		IpAddresses:   pulumi.ToStringArray(ips),
		DnsNames:      pulumi.ToStringArray([]string{commonName}),
	}, pulumi.Parent(parent))
	if err != nil {
		return nil, nil, err
	}
	cert, err := tls.NewLocallySignedCert(ctx, name, &tls.LocallySignedCertArgs{
		CertRequestPem:      csr.CertRequestPem,
		CaCertPem:           authority.Cert.CertPem,
		CaPrivateKeyPem:     authority.Key.PrivateKeyPem,
		ValidityPeriodHours: pulumi.Int(5 * 365 * 24),
		EarlyRenewalHours:   pulumi.Int(90 * 24),
		AllowedUses:         pulumi.ToStringArray(uses),
	}, pulumi.Parent(parent))
	return key, cert, err
}

// runEnvironment builds the environment stack: per node a WireGuard key, a
// reserved IP and a NATS certificate; the NATS credentials; the origin-pull
// CA; the DNS zone with the GeoDNS delegation. Reserved IPs and keys exist
// before any droplet, which breaks the "every peer needs every other peer"
// cycle of a mesh.
func runEnvironment(ctx *pulumi.Context, cfg EnvConfig) (*environment, error) {
	mesh, err := newComponent(ctx, "environment:Mesh", "mesh")
	if err != nil {
		return nil, err
	}
	natsC, err := newComponent(ctx, "environment:NatsCluster", "nats")
	if err != nil {
		return nil, err
	}
	natsCA, err := newCA(ctx, "nats-ca", "Rampart NATS CA", natsC)
	if err != nil {
		return nil, err
	}

	type nodeOut struct {
		name, mesh string
		ip         pulumi.StringOutput
		wg         keyPair
		tlsKey     pulumi.StringOutput
		tlsCert    pulumi.StringOutput
	}
	type regionOut struct {
		cfg   RegionConfig
		nodes []nodeOut
	}
	var regions []regionOut
	for _, r := range cfg.Regions {
		addrs, err := newComponent(ctx, "environment:RegionAddresses", r.Name)
		if err != nil {
			return nil, err
		}
		ro := regionOut{cfg: r}
		for i := 1; i <= r.Nodes; i++ {
			name := NodeName(r.Name, i)
			meshAddr := MeshAddress(r.ID, i).String()
			ip, err := digitalocean.NewReservedIp(ctx, name, &digitalocean.ReservedIpArgs{Region: pulumi.String(r.Name)},
				pulumi.Parent(addrs), pulumi.Protect(false))
			if err != nil {
				return nil, err
			}
			wg, err := x25519(ctx, "wg-"+name, true, mesh)
			if err != nil {
				return nil, err
			}
			key, cert, err := natsCA.issue(ctx, "nats-"+name, name, []string{meshAddr},
				[]string{"digital_signature", "key_encipherment", "server_auth", "client_auth"}, natsC)
			if err != nil {
				return nil, err
			}
			ro.nodes = append(ro.nodes, nodeOut{name: name, mesh: meshAddr, ip: ip.IpAddress, wg: wg,
				tlsKey: key.PrivateKeyPem, tlsCert: cert.CertPem})
		}
		if err := addrs.register(ctx, nil); err != nil {
			return nil, err
		}
		regions = append(regions, ro)
	}
	if err := mesh.register(ctx, nil); err != nil {
		return nil, err
	}

	// NATS credentials: client passwords with stored bcrypt hashes.
	pw := map[string]*random.RandomPassword{}
	for _, n := range []string{"control", "sys", "route", "gateway", "admin-token"} {
		if pw[n], err = password(ctx, "nats-"+n, natsC); err != nil {
			return nil, err
		}
	}
	for _, r := range cfg.Regions {
		if pw["edge-"+r.Name], err = password(ctx, "nats-edge-"+r.Name, natsC); err != nil {
			return nil, err
		}
	}
	if err := natsC.register(ctx, nil); err != nil {
		return nil, err
	}
	seal, err := x25519(ctx, "edge-seal", false, natsC)
	if err != nil {
		return nil, err
	}

	origin, err := newComponent(ctx, "environment:OriginPull", "origin-pull")
	if err != nil {
		return nil, err
	}
	originCA, err := newCA(ctx, "origin-pull-ca", "Rampart origin-pull CA", origin)
	if err != nil {
		return nil, err
	}
	originKey, originCert, err := originCA.issue(ctx, "origin-pull-client", "edge."+cfg.Zone, nil,
		[]string{"digital_signature", "key_encipherment", "client_auth"}, origin)
	if err != nil {
		return nil, err
	}
	if err := origin.register(ctx, pulumi.Map{"caPem": originCA.Cert.CertPem}); err != nil {
		return nil, err
	}

	// Topology (plain) and secrets, each one output.
	var ins []any
	for _, r := range regions {
		for _, n := range r.nodes {
			ins = append(ins, n.ip, n.wg.Public)
		}
	}
	topology := pulumi.All(ins...).ApplyT(func(vs []any) (map[string]any, error) {
		t := Topology{ControlRegion: cfg.ControlRegion, SSHKeys: cfg.SSHKeys, Image: cfg.Image}
		for _, p := range cfg.AdminCIDRs {
			t.AdminCIDRs = append(t.AdminCIDRs, p.String())
		}
		k := 0
		for _, r := range regions {
			tr := TopologyRegion{Name: r.cfg.Name, ID: r.cfg.ID, Size: r.cfg.Size}
			for _, n := range r.nodes {
				tr.Nodes = append(tr.Nodes, TopologyNode{Name: n.name, MeshAddress: n.mesh,
					PublicIP: vs[k].(string), WireGuardPublicKey: vs[k+1].(string)})
				k += 2
			}
			t.Regions = append(t.Regions, tr)
		}
		var m map[string]any
		return m, roundTrip(t, &m)
	}).(pulumi.MapOutput)

	ins = nil // a new slice: All reads its arguments later
	for _, r := range regions {
		for _, n := range r.nodes {
			ins = append(ins, n.wg.Private, n.tlsCert, n.tlsKey)
		}
	}
	pwNames := make([]string, 0, len(pw))
	for n := range pw {
		pwNames = append(pwNames, n)
	}
	sort.Strings(pwNames)
	for _, n := range pwNames {
		ins = append(ins, pw[n].Result, pw[n].BcryptHash)
	}
	ins = append(ins, natsCA.Cert.CertPem, seal.Private, seal.Public, originCert.CertPem, originKey.PrivateKeyPem)
	secrets := pulumi.All(ins...).ApplyT(func(vs []any) (map[string]any, error) {
		s := Secrets{Nodes: map[string]NodeSecrets{}}
		k := 0
		next := func() string { k++; return vs[k-1].(string) }
		for _, r := range regions {
			for _, n := range r.nodes {
				s.Nodes[n.name] = NodeSecrets{WireGuardPrivateKey: next(), TLSCertPEM: next(), TLSKeyPEM: next()}
			}
		}
		plain, hash := map[string]string{}, map[string]string{}
		for _, n := range pwNames {
			plain[n], hash[n] = next(), next()
		}
		c := &s.NATS.Credentials
		c.ControlPassword, c.SysPassword = plain["control"], plain["sys"]
		c.RouteUser, c.RoutePassword = "route", plain["route"]
		c.GatewayUser, c.GatewayPassword = "gateway", plain["gateway"]
		c.EdgePasswords = map[string]string{}
		s.NATS.Hashes = map[string]string{"control_password": hash["control"], "sys_password": hash["sys"]}
		for _, r := range cfg.Regions {
			c.EdgePasswords[r.Name] = plain["edge-"+r.Name]
			s.NATS.Hashes["edge_passwords."+r.Name] = hash["edge-"+r.Name]
		}
		s.AdminToken = plain["admin-token"]
		s.NATS.CAPEM = next()
		s.EdgeSealKey, s.EdgeSealPublicKey = next(), next()
		s.OriginPullCertPEM, s.OriginPullKeyPEM = next(), next()
		var m map[string]any
		return m, roundTrip(s, &m)
	}).(pulumi.MapOutput)

	var ips []nodeIP
	for _, r := range regions {
		for _, n := range r.nodes {
			ips = append(ips, nodeIP{Region: r.cfg.Name, Node: n.name, IP: n.ip})
		}
	}
	dns, err := newDNS(ctx, cfg, ips)
	if err != nil {
		return nil, err
	}

	edgeIPs := pulumi.Map{}
	for _, r := range regions {
		var ips pulumi.StringArray
		for _, n := range r.nodes {
			ips = append(ips, n.ip)
		}
		edgeIPs[r.cfg.Name] = ips
	}
	env := &environment{Exports: map[string]pulumi.Output{
		"topology":        topology,
		"secrets":         pulumi.ToSecret(secrets),
		"edgeIps":         edgeIPs.ToMapOutput(),
		"nameservers":     dns.Nameservers,
		"edgeZone":        pulumi.String(cfg.EdgeSubdomain + "." + cfg.Zone).ToStringOutput(),
		"dashboardUrl":    pulumi.String("https://" + cfg.Dashboard + "." + cfg.Zone + "/").ToStringOutput(),
		"originPullCaPem": originCA.Cert.CertPem,
	}}
	for k, v := range env.Exports {
		ctx.Export(k, v)
	}
	return env, nil
}

// register finishes a component with its outputs.
func (c *component) register(ctx *pulumi.Context, outputs pulumi.Map) error {
	if outputs == nil {
		outputs = pulumi.Map{}
	}
	return ctx.RegisterResourceOutputs(c, outputs)
}

// nodeIP is a node's name and reserved IP, in region order.
type nodeIP struct {
	Region, Node string
	IP           pulumi.StringOutput
}
