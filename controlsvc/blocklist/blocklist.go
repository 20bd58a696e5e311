// Package blocklist stores the edges' network blocklist: one api.Blocklist
// document in the api.BucketBlocklist bucket, validated with the wire
// contract on every write so the bucket only holds what an edge accepts.
package blocklist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-edge/rampart/controlsvc/api"
)

// Errors a caller can act on; test with errors.Is.
var (
	// ErrConflict means the list changed since the revision the caller read.
	ErrConflict = errors.New("blocklist changed concurrently")
	// ErrCorrupt means the stored document does not pass the contract.
	ErrCorrupt = errors.New("stored blocklist is invalid")
)

// Entry is the list and the KV revision it was read or written at;
// revision 0 means none has been stored yet.
type Entry struct {
	List     api.Blocklist
	Revision uint64
}

// Store reads and writes the blocklist.
type Store struct {
	kv jetstream.KeyValue
}

// New returns a store over kv, the writable api.BucketBlocklist bucket.
func New(kv jetstream.KeyValue) *Store { return &Store{kv: kv} }

// Get returns the current list; an empty one at revision 0 if none was
// ever stored (or it was deleted).
func (s *Store) Get(ctx context.Context) (Entry, error) {
	e, err := s.kv.Get(ctx, api.BlocklistKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Entry{List: api.Blocklist{V: api.Version, Entries: []api.BlocklistEntry{}}}, nil
	}
	if err != nil {
		return Entry{}, fmt.Errorf("get blocklist: %w", err)
	}
	l, err := api.ParseBlocklist(e.Value())
	if err != nil {
		return Entry{}, fmt.Errorf("get blocklist: %w: %w", ErrCorrupt, err)
	}
	if l.Entries == nil {
		l.Entries = []api.BlocklistEntry{}
	}
	return Entry{List: l, Revision: e.Revision()}, nil
}

// Put replaces the list. With ifRevision 0 it replaces whatever is stored;
// otherwise only the list at that revision (ErrConflict if it changed).
// Invalid input returns api.FieldErrors. A missing schema version means
// the current one.
func (s *Store) Put(ctx context.Context, l api.Blocklist, ifRevision uint64) (Entry, error) {
	if l.V == 0 {
		l.V = api.Version
	}
	if l.Entries == nil {
		l.Entries = []api.BlocklistEntry{}
	}
	if err := l.Validate(); err != nil {
		return Entry{}, err
	}
	data, err := json.Marshal(l)
	if err != nil {
		return Entry{}, fmt.Errorf("encode blocklist: %w", err)
	}
	if len(data) > api.MaxBlocklistBytes {
		return Entry{}, api.FieldErrors{{Field: "entries", Msg: fmt.Sprintf("the list encodes to %d bytes, the limit is %d", len(data), api.MaxBlocklistBytes)}}
	}
	var rev uint64
	if ifRevision == 0 {
		rev, err = s.kv.Put(ctx, api.BlocklistKey, data)
	} else {
		rev, err = s.kv.Update(ctx, api.BlocklistKey, data, ifRevision)
		if errors.Is(err, jetstream.ErrKeyExists) || isWrongSequence(err) {
			return Entry{}, fmt.Errorf("put blocklist at revision %d: %w", ifRevision, ErrConflict)
		}
	}
	if err != nil {
		return Entry{}, fmt.Errorf("put blocklist: %w", err)
	}
	return Entry{List: l, Revision: rev}, nil
}

// isWrongSequence reports a JetStream "wrong last sequence" error, which an
// Update of a key that was deleted or never written returns.
func isWrongSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}
