// Command infra is Rampart's Pulumi program. One program serves two kinds of
// stack (see Pulumi.yaml and stacks/):
//
//   - an environment stack ("dev") holds what every region shares: the
//     WireGuard keys, the reserved IPs, the NATS credentials and CA, the
//     origin-pull CA, the DNS zone and its delegation;
//   - a region stack ("dev-nyc3", with rampart:region set) reads the
//     environment stack through a StackReference and holds the droplets, the
//     firewall, and the remote commands that configure and roll out nodes.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func main() { pulumi.Run(program) }

// program reads the stack's configuration once and builds the stack kind it
// describes.
func program(ctx *pulumi.Context) error {
	if isRegionStack(ctx) {
		cfg, err := loadRegionConfig(ctx)
		if err != nil {
			return err
		}
		_, err = runRegion(ctx, cfg)
		return err
	}
	cfg, err := loadEnvConfig(ctx)
	if err != nil {
		return err
	}
	_, err = runEnvironment(ctx, cfg)
	return err
}
