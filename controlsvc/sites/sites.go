// Package sites stores the site configurations in the "sites" KV bucket.
// Every write is normalised and validated with the wire contract, so the
// bucket only ever holds values an edge accepts.
package sites

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/waf"
)

// Errors a caller can act on; test with errors.Is.
var (
	ErrNotFound = errors.New("site not found")
	ErrExists   = errors.New("site already exists")
	// ErrConflict means the site changed since the revision the caller read.
	ErrConflict = errors.New("site changed concurrently")
	// ErrCorrupt means a stored value does not pass the contract: a fault
	// of the store, not of the caller's input, though it wraps FieldErrors.
	ErrCorrupt = errors.New("stored site is invalid")
)

// Entry is a stored site and the KV revision it was read or written at.
type Entry struct {
	Site     api.Site
	Revision uint64
}

// Store reads and writes sites in a KV bucket keyed by normalised hostname.
type Store struct {
	kv jetstream.KeyValue
}

// New returns a store over kv, the api.BucketSites bucket.
func New(kv jetstream.KeyValue) *Store {
	return &Store{kv: kv}
}

// Create stores a new site; ErrExists if its hostname is taken. Invalid
// input returns api.FieldErrors.
func (s *Store) Create(ctx context.Context, site api.Site) (Entry, error) {
	site, data, err := prepare(site)
	if err != nil {
		return Entry{}, err
	}
	rev, err := s.kv.Create(ctx, site.Hostname, data)
	switch {
	case errors.Is(err, jetstream.ErrKeyExists):
		return Entry{}, fmt.Errorf("create site %q: %w", site.Hostname, ErrExists)
	case err != nil:
		return Entry{}, fmt.Errorf("create site %q: %w", site.Hostname, err)
	}
	return Entry{Site: site, Revision: rev}, nil
}

// Update replaces an existing site; ErrNotFound if there is none.
//
// Writes are optimistic: with ifRevision 0 the site is replaced at whatever
// revision is current, otherwise only if it is still at ifRevision. Either
// way the write is conditional on the revision read, so an Update racing a
// Delete never brings the site back; a lost race returns ErrConflict.
func (s *Store) Update(ctx context.Context, site api.Site, ifRevision uint64) (Entry, error) {
	site, data, err := prepare(site)
	if err != nil {
		return Entry{}, err
	}
	cur, err := s.kv.Get(ctx, site.Hostname)
	if err != nil {
		return Entry{}, fmt.Errorf("update site %q: %w", site.Hostname, notFound(err))
	}
	if ifRevision != 0 && ifRevision != cur.Revision() {
		return Entry{}, fmt.Errorf("update site %q at revision %d (now %d): %w", site.Hostname, ifRevision, cur.Revision(), ErrConflict)
	}
	rev, err := s.kv.Update(ctx, site.Hostname, data, cur.Revision())
	switch {
	case errors.Is(err, jetstream.ErrKeyExists):
		return Entry{}, fmt.Errorf("update site %q: %w", site.Hostname, ErrConflict)
	case err != nil:
		return Entry{}, fmt.Errorf("update site %q: %w", site.Hostname, err)
	}
	return Entry{Site: site, Revision: rev}, nil
}

// Delete removes a site; ErrNotFound if there is none.
func (s *Store) Delete(ctx context.Context, hostname string) error {
	host, err := key(hostname)
	if err != nil {
		return fmt.Errorf("delete site: %w", err)
	}
	cur, err := s.kv.Get(ctx, host)
	if err != nil {
		return fmt.Errorf("delete site %q: %w", host, notFound(err))
	}
	err = s.kv.Delete(ctx, host, jetstream.LastRevision(cur.Revision()))
	switch {
	case errors.Is(err, jetstream.ErrKeyExists):
		return fmt.Errorf("delete site %q: %w", host, ErrConflict)
	case err != nil:
		return fmt.Errorf("delete site %q: %w", host, err)
	}
	return nil
}

// Get reads one site by hostname, which is normalised first.
func (s *Store) Get(ctx context.Context, hostname string) (Entry, error) {
	host, err := key(hostname)
	if err != nil {
		return Entry{}, fmt.Errorf("get site: %w", err)
	}
	e, err := s.kv.Get(ctx, host)
	if err != nil {
		return Entry{}, fmt.Errorf("get site %q: %w", host, notFound(err))
	}
	site, err := api.ParseSite(e.Value())
	if err != nil {
		return Entry{}, fmt.Errorf("get site %q: %w: %w", host, ErrCorrupt, err)
	}
	return Entry{Site: site, Revision: e.Revision()}, nil
}

// List returns every site, sorted by hostname.
func (s *Store) List(ctx context.Context) ([]api.Site, error) {
	// One watcher delivers every current value and then a nil marker:
	// a single round of messages instead of a Get per key.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("list sites: %w", err)
	}
	defer w.Stop()
	var out []api.Site
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("list sites: %w", ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("list sites: watcher closed")
			}
			if e == nil {
				slices.SortFunc(out, func(a, b api.Site) int { return strings.Compare(a.Hostname, b.Hostname) })
				return out, nil
			}
			site, err := api.ParseSite(e.Value())
			if err != nil {
				return nil, fmt.Errorf("list sites: %q: %w: %w", e.Key(), ErrCorrupt, err)
			}
			out = append(out, site)
		}
	}
}

// prepare normalises and validates a site for writing and encodes it. A
// missing schema version means the current one.
func prepare(site api.Site) (api.Site, []byte, error) {
	if site.V == 0 {
		site.V = api.Version
	}
	host, hostErr := NormalizeHostname(site.Hostname)
	site.Hostname = host
	if err := mergeHostnameError(site.Validate(), hostErr); err != nil {
		return api.Site{}, nil, err
	}
	// The contract checks what it can with the standard library; the WAF
	// policy's SecLang is compiled here, as the edge will, so a rule the
	// parser rejects never reaches an edge.
	if err := waf.Check(site.WAF); err != nil {
		return api.Site{}, nil, err
	}
	data, err := json.Marshal(site)
	if err != nil {
		return api.Site{}, nil, fmt.Errorf("encode site %q: %w", site.Hostname, err)
	}
	return site, data, nil
}

// mergeHostnameError puts the normalisation error, which says more than the
// contract's check of the unnormalised name, in place of any "hostname" error.
func mergeHostnameError(err, hostErr error) error {
	if hostErr == nil {
		return err
	}
	var out api.FieldErrors
	added := false
	for _, fe := range api.AsFieldErrors(err) {
		if fe.Field == "hostname" {
			continue
		}
		if !added && fe.Field != "v" {
			out = append(out, &api.FieldError{Field: "hostname", Msg: hostErr.Error()})
			added = true
		}
		out = append(out, fe)
	}
	if !added {
		out = append(out, &api.FieldError{Field: "hostname", Msg: hostErr.Error()})
	}
	return out
}

// key normalises a hostname given to Get or Delete.
func key(hostname string) (string, error) {
	host, err := NormalizeHostname(hostname)
	if err != nil {
		return "", api.FieldErrors{{Field: "hostname", Msg: err.Error()}}
	}
	if err := api.ValidateHostname(host); err != nil {
		return "", api.FieldErrors{{Field: "hostname", Msg: err.Error()}}
	}
	return host, nil
}

func notFound(err error) error {
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return ErrNotFound
	}
	return err
}
