package main

import (
	"github.com/pulumi/pulumi-digitalocean/sdk/v4/go/digitalocean"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// dnsOut is what the DNS component exposes.
type dnsOut struct {
	Nameservers pulumi.StringArrayOutput
}

// nsLabel is the nameserver label of a node in the zone: ns-nyc3-1.
func nsLabel(node string) string { return "ns-" + node }

// newDNS creates the zone in DigitalOcean DNS and delegates the edge
// subdomain to the GeoDNS nameservers: every edge node answers for it on its
// reserved IP. The nameservers' address records live in the parent zone (the
// glue a resolver needs to reach them), so the delegation works without the
// edges answering for their own names. The dashboard points at the control
// region's nodes.
func newDNS(ctx *pulumi.Context, cfg EnvConfig, nodes []nodeIP) (dnsOut, error) {
	c, err := newComponent(ctx, "environment:Dns", cfg.Zone)
	if err != nil {
		return dnsOut{}, err
	}
	zone, err := digitalocean.NewDomain(ctx, "zone", &digitalocean.DomainArgs{Name: pulumi.String(cfg.Zone)}, pulumi.Parent(c))
	if err != nil {
		return dnsOut{}, err
	}
	var names pulumi.StringArray
	for _, n := range nodes {
		label := nsLabel(n.Node)
		fqdn := label + "." + cfg.Zone
		names = append(names, pulumi.String(fqdn))
		if _, err := digitalocean.NewDnsRecord(ctx, "glue-"+n.Node, &digitalocean.DnsRecordArgs{
			Domain: zone.Name, Type: pulumi.String("A"), Name: pulumi.String(label), Value: n.IP, Ttl: pulumi.Int(3600),
		}, pulumi.Parent(c)); err != nil {
			return dnsOut{}, err
		}
		if _, err := digitalocean.NewDnsRecord(ctx, "ns-"+n.Node, &digitalocean.DnsRecordArgs{
			Domain: zone.Name, Type: pulumi.String("NS"), Name: pulumi.String(cfg.EdgeSubdomain),
			Value: pulumi.String(fqdn + "."), Ttl: pulumi.Int(3600),
		}, pulumi.Parent(c)); err != nil {
			return dnsOut{}, err
		}
		if n.Region == cfg.ControlRegion {
			if _, err := digitalocean.NewDnsRecord(ctx, "dashboard-"+n.Node, &digitalocean.DnsRecordArgs{
				Domain: zone.Name, Type: pulumi.String("A"), Name: pulumi.String(cfg.Dashboard), Value: n.IP, Ttl: pulumi.Int(300),
			}, pulumi.Parent(c)); err != nil {
				return dnsOut{}, err
			}
		}
	}
	out := dnsOut{Nameservers: names.ToStringArrayOutput()}
	return out, c.register(ctx, pulumi.Map{"zone": zone.Name, "nameservers": out.Nameservers})
}
