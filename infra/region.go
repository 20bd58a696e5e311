package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi-digitalocean/sdk/v4/go/digitalocean"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/rampart-edge/rampart/cloudinit/fleet"
	"github.com/rampart-edge/rampart/cloudinit/wgconf"
)

// Firewall ports.
const (
	wireGuardPort = "51820"
	sshPort       = "22"
)

var everywhere = []string{"0.0.0.0/0", "::/0"}

// regionStack is what a region stack builds.
type regionStack struct {
	Exports map[string]pulumi.Output
}

// runRegion builds one region from the environment stack's outputs: a VPC,
// a droplet per node with its reserved IP, a firewall, and the remote
// commands that push the mesh peers, the NATS config and the services, then
// roll the binaries out one node at a time.
func runRegion(ctx *pulumi.Context, cfg RegionStackConfig) (*regionStack, error) {
	ref, err := pulumi.NewStackReference(ctx, cfg.Environment, nil)
	if err != nil {
		return nil, keyErr("environment", err)
	}
	details, err := ref.GetOutputDetails("topology")
	if err != nil {
		return nil, keyErr("environment", err)
	}
	if details.Value == nil {
		return nil, keyErr("environment", fmt.Errorf("stack %q has no plain output \"topology\" (run pulumi up on it first)", cfg.Environment))
	}
	var topo Topology
	if err := roundTrip(details.Value, &topo); err != nil {
		return nil, keyErr("environment", fmt.Errorf("output topology: %w", err))
	}
	tr, ok := topo.Region(cfg.Region)
	if !ok {
		return nil, keyErr("region", fmt.Errorf("%q is not in the environment stack's rampart:regions", cfg.Region))
	}
	hashes := map[string]string{}
	for _, k := range binaryKeys {
		if hashes[k], err = fileSHA256(binaryPath(ctx, cfg.Binaries[k])); err != nil {
			return nil, keyErr("binaries."+k, err)
		}
	}
	// Everything rendered from secrets stays a secret output.
	secrets := ref.GetOutput(pulumi.String("secrets"))
	scripts := secrets.ApplyT(func(v any) (map[string]string, error) {
		var s Secrets
		if err := roundTrip(v, &s); err != nil {
			return nil, fmt.Errorf("environment output secrets: %w", err)
		}
		f, err := topo.Fleet(s)
		if err != nil {
			return nil, fmt.Errorf("environment outputs: %w", err)
		}
		out := map[string]string{}
		for _, n := range tr.Nodes {
			ud, err := fleet.Boot{Node: n.Name, WireGuardPrivateKey: wgconf.Key(s.Nodes[n.Name].WireGuardPrivateKey)}.RenderUserData()
			if err != nil {
				return nil, err
			}
			out["user-data/"+n.Name] = string(ud)
			for kind, render := range map[string]func(string) ([]byte, error){
				"mesh": f.MeshScript, "nats": f.NATSScript, "services": f.ServicesScript,
			} {
				b, err := render(n.Name)
				if err != nil {
					return nil, err
				}
				out[kind+"/"+n.Name] = string(b)
			}
		}
		return out, nil
	}).(pulumi.StringMapOutput)
	script := func(kind, node string) pulumi.StringOutput {
		return pulumi.ToSecret(scripts.MapIndex(pulumi.String(kind + "/" + node))).(pulumi.StringOutput)
	}

	region, err := newComponent(ctx, "region:Region", cfg.Region)
	if err != nil {
		return nil, err
	}
	vpc, err := digitalocean.NewVpc(ctx, "vpc", &digitalocean.VpcArgs{
		Name:        pulumi.String(fmt.Sprintf("rampart-%s-%s", ctx.Stack(), cfg.Region)),
		Region:      pulumi.String(cfg.Region),
		IpRange:     pulumi.String(VPCRange(tr.ID)),
		Description: pulumi.String("Rampart edge nodes"),
	}, pulumi.Parent(region))
	if err != nil {
		return nil, err
	}
	type node struct {
		name    string
		droplet *digitalocean.Droplet
		id      pulumi.IntOutput
		conn    remote.ConnectionArgs
	}
	var nodes []node
	var dropletIDs pulumi.IntArray
	var edgeIPs pulumi.StringArray
	for _, n := range tr.Nodes {
		d, err := digitalocean.NewDroplet(ctx, n.Name, &digitalocean.DropletArgs{
			Name:             pulumi.String(n.Name),
			Region:           pulumi.String(cfg.Region),
			Size:             pulumi.String(tr.Size),
			Image:            pulumi.String(topo.Image),
			VpcUuid:          vpc.ID(),
			SshKeys:          pulumi.ToStringArray(topo.SSHKeys),
			UserData:         script("user-data", n.Name),
			Monitoring:       pulumi.Bool(true),
			GracefulShutdown: pulumi.Bool(true),
			Tags:             pulumi.ToStringArray([]string{"rampart", "rampart-" + cfg.Region}),
		}, pulumi.Parent(region))
		if err != nil {
			return nil, err
		}
		id := d.ID().ApplyT(func(id pulumi.ID) (int, error) {
			v, err := strconv.Atoi(string(id))
			if err != nil {
				return 0, fmt.Errorf("droplet id %q: %w", id, err)
			}
			return v, nil
		}).(pulumi.IntOutput)
		if _, err := digitalocean.NewReservedIpAssignment(ctx, n.Name, &digitalocean.ReservedIpAssignmentArgs{
			IpAddress: pulumi.String(n.PublicIP),
			DropletId: id,
		}, pulumi.Parent(region)); err != nil {
			return nil, err
		}
		dropletIDs = append(dropletIDs, id)
		edgeIPs = append(edgeIPs, pulumi.String(n.PublicIP))
		nodes = append(nodes, node{name: n.Name, droplet: d, id: id, conn: remote.ConnectionArgs{
			Host:           d.Ipv4Address,
			User:           pulumi.String(cfg.SSHUser),
			PrivateKey:     cfg.SSHPrivateKey,
			DialErrorLimit: pulumi.Int(60),
		}})
	}
	if _, err := digitalocean.NewFirewall(ctx, "firewall", &digitalocean.FirewallArgs{
		Name:          pulumi.String(fmt.Sprintf("rampart-%s-%s", ctx.Stack(), cfg.Region)),
		DropletIds:    dropletIDs,
		InboundRules:  inboundRules(topo),
		OutboundRules: outboundRules(),
	}, pulumi.Parent(region)); err != nil {
		return nil, err
	}

	// Configuration pushes, per node and in parallel across nodes: they
	// reload, never restart, so no two nodes go down together.
	mesh, err := newComponent(ctx, "region:Mesh", cfg.Region, pulumi.Parent(region))
	if err != nil {
		return nil, err
	}
	nats, err := newComponent(ctx, "region:NatsCluster", cfg.Region, pulumi.Parent(region))
	if err != nil {
		return nil, err
	}
	rollout, err := newComponent(ctx, "region:Rollout", cfg.Region, pulumi.Parent(region))
	if err != nil {
		return nil, err
	}
	binaries := []string{fleet.NATSService}
	if cfg.Region == topo.ControlRegion {
		binaries = append(binaries, fleet.ControlService)
	}
	binaries = append(binaries, fleet.EdgeService)
	var previous pulumi.Resource // the last step of the previous node's rollout
	for _, n := range nodes {
		booted, err := remote.NewCommand(ctx, "booted-"+n.name, &remote.CommandArgs{
			Connection: n.conn,
			Create:     pulumi.String("cloud-init status --wait >/dev/null"),
			Triggers:   pulumi.Array{n.droplet.ID()},
		}, pulumi.Parent(region))
		if err != nil {
			return nil, err
		}
		push := func(parent pulumi.Resource, kind string, after pulumi.Resource) (*remote.Command, error) {
			s := script(kind, n.name)
			return remote.NewCommand(ctx, kind+"-"+n.name, &remote.CommandArgs{
				Connection: n.conn,
				Create:     pulumi.String("bash -s"),
				Stdin:      s,
				// The script's hash, so a change re-runs it (and a secret
				// change does not show up in the diff).
				Triggers: pulumi.Array{s.ApplyT(hashString).(pulumi.StringOutput), n.droplet.ID()},
			}, pulumi.Parent(parent), pulumi.DependsOn([]pulumi.Resource{after}))
		}
		wg, err := push(mesh, "mesh", booted)
		if err != nil {
			return nil, err
		}
		natsConf, err := push(nats, "nats", wg)
		if err != nil {
			return nil, err
		}
		services, err := push(rollout, "services", natsConf)
		if err != nil {
			return nil, err
		}
		deps := []pulumi.Resource{services}
		if previous != nil {
			deps = append(deps, previous)
		}
		for _, bin := range binaries {
			hash := hashes[bin]
			roll, err := fleet.RolloutScript(bin, hash)
			if err != nil {
				return nil, err
			}
			up, err := remote.NewCopyToRemote(ctx, "upload-"+bin+"-"+n.name, &remote.CopyToRemoteArgs{
				Connection: n.conn,
				Source:     pulumi.NewFileAsset(binaryPath(ctx, cfg.Binaries[bin])),
				RemotePath: pulumi.String(fleet.UploadPath(bin, hash)),
				Triggers:   pulumi.Array{pulumi.String(hash), n.droplet.ID()},
			}, pulumi.Parent(rollout), pulumi.DependsOn(deps))
			if err != nil {
				return nil, err
			}
			restart, err := remote.NewCommand(ctx, "restart-"+bin+"-"+n.name, &remote.CommandArgs{
				Connection: n.conn,
				Create:     pulumi.String("bash -s"),
				Stdin:      pulumi.String(string(roll)),
				Triggers:   pulumi.Array{pulumi.String(hash), n.droplet.ID()},
			}, pulumi.Parent(rollout), pulumi.DependsOn([]pulumi.Resource{up}))
			if err != nil {
				return nil, err
			}
			deps = []pulumi.Resource{restart}
			previous = restart
		}
	}
	for _, c := range []*component{mesh, nats, rollout} {
		if err := c.register(ctx, nil); err != nil {
			return nil, err
		}
	}
	if err := region.register(ctx, pulumi.Map{"edgeIps": edgeIPs, "vpc": vpc.ID()}); err != nil {
		return nil, err
	}
	rs := &regionStack{Exports: map[string]pulumi.Output{
		"region":     pulumi.String(cfg.Region).ToStringOutput(),
		"edgeIps":    edgeIPs.ToStringArrayOutput(),
		"dropletIds": dropletIDs.ToIntArrayOutput(),
		"binaries":   pulumi.ToStringMap(hashes).ToStringMapOutput(),
	}}
	for k, v := range rs.Exports {
		ctx.Export(k, v)
	}
	return rs, nil
}

// inboundRules: web and DNS from everywhere, WireGuard from the mesh's
// reserved IPs only, SSH from the admin CIDRs only. NATS (4222, 6222, 7222)
// is not opened at all: it listens on the mesh address, reached through
// WireGuard.
func inboundRules(t Topology) digitalocean.FirewallInboundRuleArray {
	var peers []string
	for _, r := range t.Regions {
		for _, n := range r.Nodes {
			peers = append(peers, n.PublicIP+"/32")
		}
	}
	rule := func(proto, port string, from []string) digitalocean.FirewallInboundRuleArgs {
		r := digitalocean.FirewallInboundRuleArgs{Protocol: pulumi.String(proto), SourceAddresses: pulumi.ToStringArray(from)}
		if port != "" {
			r.PortRange = pulumi.String(port)
		}
		return r
	}
	return digitalocean.FirewallInboundRuleArray{
		rule("tcp", "80", everywhere),
		rule("tcp", "443", everywhere),
		rule("udp", "443", everywhere),
		rule("udp", "53", everywhere),
		rule("tcp", "53", everywhere),
		rule("icmp", "", everywhere),
		rule("udp", wireGuardPort, peers),
		rule("tcp", sshPort, t.AdminCIDRs),
	}
}

func outboundRules() digitalocean.FirewallOutboundRuleArray {
	rule := func(proto, ports string) digitalocean.FirewallOutboundRuleArgs {
		r := digitalocean.FirewallOutboundRuleArgs{Protocol: pulumi.String(proto), DestinationAddresses: pulumi.ToStringArray(everywhere)}
		if ports != "" {
			r.PortRange = pulumi.String(ports)
		}
		return r
	}
	return digitalocean.FirewallOutboundRuleArray{rule("tcp", "1-65535"), rule("udp", "1-65535"), rule("icmp", "")}
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if st.Size() == 0 {
		return "", errors.New(path + " is empty")
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func hashString(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
