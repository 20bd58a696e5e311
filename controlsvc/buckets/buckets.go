// Package buckets creates the control plane's KV buckets and their per-region
// sourced copies in a NATS super-cluster.
package buckets

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rampart-edge/rampart/controlsvc/api"
)

// State is the control-only bucket (no region copies, not readable by
// edges) holding the ACME account and the issuance locks; its keys may
// carry a TTL.
const State = "control_state"

// Layout says where the buckets live.
type Layout struct {
	// ControlRegion is the cluster that holds the writable buckets.
	ControlRegion string
	// Regions are the clusters that each hold a sourced, read-only copy
	// (the control region included, so every edge reads the same way).
	Regions []string
	// Replicas per stream; 1 in the lab (2-node regions), 3 in production.
	Replicas int
	// Storage is file storage unless Memory is set (tests).
	Memory bool
}

// Validate checks the layout.
func (l Layout) Validate() error {
	if err := api.ValidateRegion(l.ControlRegion); err != nil {
		return fmt.Errorf("control_region: %w", err)
	}
	if len(l.Regions) == 0 {
		return fmt.Errorf("regions: at least one region is required")
	}
	for i, r := range l.Regions {
		if err := api.ValidateRegion(r); err != nil {
			return fmt.Errorf("regions[%d]: %w", i, err)
		}
	}
	if l.Replicas < 0 || l.Replicas > 5 {
		return fmt.Errorf("replicas: %d is not in 1-5", l.Replicas)
	}
	return nil
}

// Ensure creates or updates every origin bucket in the control region and a
// sourced copy of it in every region. It is idempotent.
func Ensure(ctx context.Context, js jetstream.JetStream, l Layout) error {
	if err := l.Validate(); err != nil {
		return fmt.Errorf("bucket layout: %w", err)
	}
	replicas := max(l.Replicas, 1)
	storage := jetstream.FileStorage
	if l.Memory {
		storage = jetstream.MemoryStorage
	}
	_, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:         State,
		Description:    "rampart control state: ACME account, issuance locks (control only)",
		History:        1,
		Replicas:       replicas,
		Storage:        storage,
		Placement:      &jetstream.Placement{Cluster: l.ControlRegion},
		LimitMarkerTTL: time.Second,
	})
	if err != nil {
		return fmt.Errorf("bucket %s: %w", State, err)
	}
	for _, b := range api.Buckets {
		var ttl time.Duration
		if b == api.BucketPurges {
			ttl = api.PurgeRetention
		}
		_, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      b,
			Description: "rampart " + b + " (writable, control region)",
			History:     1,
			TTL:         ttl,
			Replicas:    replicas,
			Storage:     storage,
			Placement:   &jetstream.Placement{Cluster: l.ControlRegion},
		})
		if err != nil {
			return fmt.Errorf("bucket %s: %w", b, err)
		}
		for _, r := range l.Regions {
			name := api.RegionBucket(b, r)
			_, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
				Bucket:      name,
				Description: "rampart " + b + " (sourced copy for region " + r + ")",
				History:     1,
				TTL:         ttl,
				Replicas:    replicas,
				Storage:     storage,
				Placement:   &jetstream.Placement{Cluster: r},
				Sources:     []*jetstream.StreamSource{{Name: b}},
			})
			if err != nil {
				return fmt.Errorf("bucket %s: %w", name, err)
			}
		}
	}
	return nil
}
