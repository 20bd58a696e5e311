package certs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Issuance is how getting a site's certificate went last, kept in the
// control-only state bucket under StatusKey(host).
type Issuance struct {
	// State is IssuanceOK or IssuanceFailing.
	State string `json:"state"`
	// Error is the last failure, e.g. the DNS record the customer must add.
	Error string `json:"error,omitempty"`
	// Failures counts consecutive failures; NextAttempt is the next retry.
	Failures    int       `json:"failures,omitempty"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	Updated     time.Time `json:"updated"`
}

// Issuance states.
const (
	IssuanceOK      = "ok"
	IssuanceFailing = "failing"
)

// StatusKey is where the Issuance of host is kept.
func StatusKey(host string) string { return "status." + host }

// ReadIssuance reads the Issuance of host from the state bucket; nil when
// there is none.
func ReadIssuance(ctx context.Context, kv jetstream.KeyValue, host string) (*Issuance, error) {
	e, err := kv.Get(ctx, StatusKey(host))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("issuance status of %q: %w", host, err)
	}
	var is Issuance
	if err := json.Unmarshal(e.Value(), &is); err != nil {
		return nil, fmt.Errorf("issuance status of %q: %w", host, err)
	}
	return &is, nil
}

// setIssuance records the outcome for host (nil deletes it); failures to
// record are logged, not returned: the status is informational.
func (m *Manager) setIssuance(ctx context.Context, host string, is *Issuance) {
	if m.cfg.Status == nil {
		return
	}
	var err error
	if is == nil {
		err = m.cfg.Status.Delete(ctx, StatusKey(host))
	} else {
		is.Updated = time.Now().UTC()
		data, _ := json.Marshal(is)
		_, err = m.cfg.Status.Put(ctx, StatusKey(host), data)
	}
	if err != nil && ctx.Err() == nil {
		m.log.Warn("recording issuance status failed", "site", host, "action", "status", "err", err)
	}
}
