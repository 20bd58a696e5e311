// Package heartbeat publishes the edge's health on edge.hb.<region>.<node>,
// which GeoDNS and the dashboard read.
package heartbeat

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rampart-edge/rampart/controlsvc/api"
)

// Source reports the numbers a heartbeat carries.
type Source func() api.Heartbeat

// Run publishes a heartbeat every interval until ctx is done. Beats are
// skipped, not queued, while NATS is disconnected: a stale beat is worse
// than none.
func Run(ctx context.Context, nc *nats.Conn, region, node string, interval time.Duration, src Source, log *slog.Logger) {
	subject := api.HeartbeatSubject(region, node)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if nc.IsConnected() {
			hb := src()
			hb.V, hb.Region, hb.Node, hb.Time, hb.NATS = api.Version, region, node, time.Now().UTC(), true
			data, err := json.Marshal(hb)
			if err == nil {
				err = nc.Publish(subject, data)
			}
			if err != nil {
				log.Warn("heartbeat", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
