package certs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Locker serialises work on one name across control replicas.
type Locker interface {
	// Lock blocks until the lock on name is held or ctx ends.
	Lock(ctx context.Context, name string) error
	// Unlock releases a lock Lock returned.
	Unlock(ctx context.Context, name string) error
}

// DefaultLockTTL bounds how long a crashed holder keeps a lock.
const DefaultLockTTL = 5 * time.Minute

// KVLock is a Locker over a KV bucket with per-key TTLs (LimitMarkerTTL
// set): a lock is an atomic Create of "lock.<name>" that expires by itself
// if its holder dies.
type KVLock struct {
	kv  jetstream.KeyValue
	ttl time.Duration
}

// NewKVLock returns a Locker over kv; ttl is DefaultLockTTL when zero.
func NewKVLock(kv jetstream.KeyValue, ttl time.Duration) *KVLock {
	if ttl <= 0 {
		ttl = DefaultLockTTL
	}
	return &KVLock{kv: kv, ttl: ttl}
}

func lockKey(name string) string { return "lock." + name }

// Lock creates the lock key, waiting for the holder's delete (or expiry)
// while it exists.
func (l *KVLock) Lock(ctx context.Context, name string) error {
	key := lockKey(name)
	for {
		_, err := l.kv.Create(ctx, key, []byte(time.Now().UTC().Format(time.RFC3339Nano)), jetstream.KeyTTL(l.ttl))
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("lock %s: %w", name, err)
		}
		if err := l.waitGone(ctx, key); err != nil {
			return fmt.Errorf("lock %s: %w", name, err)
		}
	}
}

// waitGone returns once key is deleted, purged or expired.
func (l *KVLock) waitGone(ctx context.Context, key string) error {
	w, err := l.kv.Watch(ctx, key)
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("watch closed")
			}
			if e == nil {
				continue
			}
			if e.Operation() != jetstream.KeyValuePut {
				return nil
			}
		}
	}
}

// Unlock deletes the lock key.
func (l *KVLock) Unlock(ctx context.Context, name string) error {
	if err := l.kv.Delete(ctx, lockKey(name)); err != nil {
		return fmt.Errorf("unlock %s: %w", name, err)
	}
	return nil
}
