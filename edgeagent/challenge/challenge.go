// Package challenge holds the ACME HTTP-01 key authorizations the edge
// answers with, keyed by token. The control service writes them to the
// "acme" KV bucket while an order is being validated; whichever edge the CA
// reaches answers from its region's copy. Readers take the current map with
// one atomic load; writers copy it.
package challenge

import (
	"maps"
	"regexp"
	"sync"
	"sync/atomic"
)

// PathPrefix is where HTTP-01 challenges are requested (RFC 8555 §8.3).
const PathPrefix = "/.well-known/acme-challenge/"

// tokenRE is the base64url alphabet RFC 8555 tokens are drawn from.
var tokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

// ValidToken reports whether token can be an ACME token (and a KV key).
func ValidToken(token string) bool { return tokenRE.MatchString(token) }

// Store maps tokens to key authorizations; safe for concurrent use.
type Store struct {
	mu  sync.Mutex // serialises writers
	cur atomic.Pointer[map[string]string]
}

// NewStore returns an empty store.
func NewStore() *Store {
	s := &Store{}
	s.cur.Store(&map[string]string{})
	return s
}

// KeyAuth returns the key authorization for token.
func (s *Store) KeyAuth(token string) (string, bool) {
	v, ok := (*s.cur.Load())[token]
	return v, ok
}

// Len returns the number of tokens held.
func (s *Store) Len() int { return len(*s.cur.Load()) }

// Replace swaps in a complete set of tokens.
func (s *Store) Replace(m map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := maps.Clone(m)
	if next == nil {
		next = map[string]string{}
	}
	s.cur.Store(&next)
}

// Set adds or replaces one token; an empty keyAuth deletes it.
func (s *Store) Set(token, keyAuth string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := maps.Clone(*s.cur.Load())
	if keyAuth == "" {
		delete(next, token)
	} else {
		next[token] = keyAuth
	}
	s.cur.Store(&next)
}
