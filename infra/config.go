package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
	"github.com/rampart-edge/rampart/controlsvc/api"
)

// configNamespace prefixes every key: "rampart:regions".
const configNamespace = "rampart"

// EnvConfig is the environment stack's configuration: what every region
// shares.
type EnvConfig struct {
	// Zone is the DigitalOcean DNS domain, e.g. "example.net".
	Zone string
	// EdgeSubdomain is delegated to the GeoDNS nameservers: "edge" makes
	// edge.example.net answered by the edges.
	EdgeSubdomain string
	// Dashboard is the label of the dashboard record in Zone.
	Dashboard     string
	ControlRegion string
	Regions       []RegionConfig
	// AdminCIDRs may reach SSH (22); nothing else is open to them.
	AdminCIDRs []netip.Prefix
	// SSHKeys are DigitalOcean SSH key ids or fingerprints put on droplets.
	SSHKeys []string
	// Image is the droplet image; Debian 12.
	Image string
}

// RegionConfig is one entry of rampart:regions.
type RegionConfig struct {
	// Name is the DigitalOcean region slug, also the NATS cluster name.
	Name string `json:"name"`
	// ID numbers the region in the mesh (10.77.<id>.<node>) and its VPC
	// (10.<100+id>.0.0/20); it never changes once a region exists.
	ID int `json:"id"`
	// Nodes is the number of droplets; 3 gives JetStream a quorum.
	Nodes int `json:"nodes"`
	// Size is the droplet size slug.
	Size string `json:"size"`
}

// RegionStackConfig is a region stack's configuration.
type RegionStackConfig struct {
	// Environment is the environment stack, "dev" or "org/rampart/dev".
	Environment string
	Region      string
	// Binaries are paths (relative to the project root) of the Linux
	// binaries the rollout installs, keyed by service name.
	Binaries map[string]string
	// SSHUser and SSHPrivateKey let remote commands reach the droplets.
	SSHUser       string
	SSHPrivateKey pulumi.StringOutput
}

// Binary keys in rampart:binaries.
var binaryKeys = []string{"nats-server", "edgeagent", "controlsvc"}

var (
	slugRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	labelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	zoneRE  = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
)

// keyErr names a configuration key in an error.
func keyErr(key string, err error) error {
	return fmt.Errorf("config %s:%s: %w", configNamespace, key, err)
}

// isRegionStack says which kind of stack this is: a region stack sets
// rampart:region, an environment stack does not.
func isRegionStack(ctx *pulumi.Context) bool {
	return config.New(ctx, configNamespace).Get("region") != ""
}

// loadEnvConfig reads and validates the environment stack's configuration.
func loadEnvConfig(ctx *pulumi.Context) (EnvConfig, error) {
	c := config.New(ctx, configNamespace)
	cfg := EnvConfig{
		Zone:          c.Get("zone"),
		EdgeSubdomain: c.Get("edgeSubdomain"),
		Dashboard:     c.Get("dashboard"),
		ControlRegion: c.Get("controlRegion"),
		Image:         c.Get("image"),
	}
	if cfg.EdgeSubdomain == "" {
		cfg.EdgeSubdomain = "edge"
	}
	if cfg.Dashboard == "" {
		cfg.Dashboard = "dashboard"
	}
	if cfg.Image == "" {
		cfg.Image = "debian-12-x64"
	}
	if err := c.TryObject("regions", &cfg.Regions); err != nil {
		return cfg, keyErr("regions", err)
	}
	var cidrs []string
	if err := c.TryObject("adminCidrs", &cidrs); err != nil {
		return cfg, keyErr("adminCidrs", err)
	}
	for i, s := range cidrs {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return cfg, keyErr(fmt.Sprintf("adminCidrs[%d]", i), err)
		}
		cfg.AdminCIDRs = append(cfg.AdminCIDRs, p)
	}
	if err := c.TryObject("sshKeys", &cfg.SSHKeys); err != nil {
		return cfg, keyErr("sshKeys", err)
	}
	return cfg, cfg.Validate()
}

// Validate checks the environment configuration, naming the key.
func (c EnvConfig) Validate() error {
	if !zoneRE.MatchString(c.Zone) {
		return keyErr("zone", fmt.Errorf("%q is not a DNS domain like example.net", c.Zone))
	}
	if !labelRE.MatchString(c.EdgeSubdomain) {
		return keyErr("edgeSubdomain", fmt.Errorf("%q is not one DNS label", c.EdgeSubdomain))
	}
	if !labelRE.MatchString(c.Dashboard) || c.Dashboard == c.EdgeSubdomain {
		return keyErr("dashboard", fmt.Errorf("%q is not one DNS label other than the edge subdomain", c.Dashboard))
	}
	if !slugRE.MatchString(c.Image) {
		return keyErr("image", fmt.Errorf("%q is not an image slug", c.Image))
	}
	if len(c.Regions) == 0 {
		return keyErr("regions", errors.New("at least one region is required"))
	}
	names, ids := map[string]bool{}, map[int]bool{}
	total := 0
	for i, r := range c.Regions {
		key := fmt.Sprintf("regions[%d]", i)
		if err := api.ValidateRegion(r.Name); err != nil {
			return keyErr(key+".name", err)
		}
		if names[r.Name] {
			return keyErr(key+".name", fmt.Errorf("region %q is listed twice", r.Name))
		}
		names[r.Name] = true
		if r.ID < 1 || r.ID > 150 {
			return keyErr(key+".id", fmt.Errorf("%d is not in 1-150", r.ID))
		}
		if ids[r.ID] {
			return keyErr(key+".id", fmt.Errorf("%d is used by another region", r.ID))
		}
		ids[r.ID] = true
		if r.Nodes < 1 || r.Nodes > 9 {
			return keyErr(key+".nodes", fmt.Errorf("%d is not in 1-9", r.Nodes))
		}
		if !slugRE.MatchString(r.Size) {
			return keyErr(key+".size", fmt.Errorf("%q is not a droplet size slug", r.Size))
		}
		total += r.Nodes
	}
	if total < 2 {
		return keyErr("regions", errors.New("NATS JetStream needs at least 2 nodes in all"))
	}
	if !names[c.ControlRegion] {
		return keyErr("controlRegion", fmt.Errorf("%q is not one of rampart:regions", c.ControlRegion))
	}
	if len(c.AdminCIDRs) == 0 {
		return keyErr("adminCidrs", errors.New("at least one CIDR is required (SSH is closed to everyone else)"))
	}
	for i, p := range c.AdminCIDRs {
		if p.Bits() == 0 {
			return keyErr(fmt.Sprintf("adminCidrs[%d]", i), fmt.Errorf("%s opens SSH to the whole internet", p))
		}
	}
	if len(c.SSHKeys) == 0 {
		return keyErr("sshKeys", errors.New("at least one DigitalOcean SSH key id or fingerprint is required"))
	}
	for i, k := range c.SSHKeys {
		if k == "" || strings.ContainsAny(k, " \n") {
			return keyErr(fmt.Sprintf("sshKeys[%d]", i), fmt.Errorf("%q is not a key id or fingerprint", k))
		}
	}
	return nil
}

// loadRegionConfig reads and validates a region stack's configuration.
func loadRegionConfig(ctx *pulumi.Context) (RegionStackConfig, error) {
	c := config.New(ctx, configNamespace)
	cfg := RegionStackConfig{
		Environment: c.Get("environment"),
		Region:      c.Get("region"),
		SSHUser:     c.Get("sshUser"),
	}
	if cfg.SSHUser == "" {
		cfg.SSHUser = "root"
	}
	if cfg.Environment == "" {
		return cfg, keyErr("environment", errors.New("required: the environment stack's name"))
	}
	if err := api.ValidateRegion(cfg.Region); err != nil {
		return cfg, keyErr("region", err)
	}
	if err := c.TryObject("binaries", &cfg.Binaries); err != nil {
		return cfg, keyErr("binaries", err)
	}
	for _, k := range binaryKeys {
		if cfg.Binaries[k] == "" {
			return cfg, keyErr("binaries."+k, errors.New("required: path of the linux binary"))
		}
	}
	for k := range cfg.Binaries {
		if !containsString(binaryKeys, k) {
			return cfg, keyErr("binaries."+k, fmt.Errorf("unknown binary; want one of %v", binaryKeys))
		}
	}
	key, err := c.TrySecret("sshPrivateKey")
	if err != nil {
		return cfg, keyErr("sshPrivateKey", errors.New("required (pulumi config set --secret rampart:sshPrivateKey < key)"))
	}
	cfg.SSHPrivateKey = key
	return cfg, nil
}

// binaryPath resolves a configured binary path against the project root.
func binaryPath(ctx *pulumi.Context, p string) string {
	if filepath.IsAbs(p) || ctx.RootDirectory() == "" {
		return p
	}
	return filepath.Join(ctx.RootDirectory(), p)
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// roundTrip converts a decoded stack output (maps and slices) into a typed value.
func roundTrip(in any, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}
