// Package accounts holds the dashboard's admin users (bcrypt password
// hashes) and their browser sessions, both in the control-only bucket
// (buckets.State): users under "user.<name>", sessions under
// "session.<sha256 of the session id>" with a per-key TTL, so a session
// expires by itself and a stolen bucket entry cannot be replayed as a
// cookie.
package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"

	"github.com/rampart-edge/rampart/controlsvc/api"
)

// Limits and defaults.
const (
	// MinPasswordLength is the shortest password accepted.
	MinPasswordLength = 12
	// MaxPasswordLength is bcrypt's limit in bytes.
	MaxPasswordLength = 72
	// DefaultSessionTTL is how long a session lasts after sign-in.
	DefaultSessionTTL = 12 * time.Hour
	// BcryptCost is the work factor of stored hashes.
	BcryptCost = 12
	// TokenUser is the user name of a session opened with the admin token.
	TokenUser = "admin-token"
)

// Errors.
var (
	// ErrBadCredentials is a wrong user name or password (never which).
	ErrBadCredentials = errors.New("wrong user name or password")
	// ErrNoSession is a session id that is unknown or expired.
	ErrNoSession = errors.New("no such session")
	// ErrUserExists is a user name already taken.
	ErrUserExists = errors.New("user exists")
	// ErrNoUser is an unknown user name.
	ErrNoUser = errors.New("no such user")
)

var userName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// User is a stored account.
type User struct {
	Name    string    `json:"name"`
	Hash    string    `json:"hash,omitempty"`
	Created time.Time `json:"created"`
}

// Session is a signed-in browser. Its ID goes in the cookie; CSRF is the
// token the dashboard sends back in a header on every write.
type Session struct {
	ID      string    `json:"-"`
	User    string    `json:"user"`
	CSRF    string    `json:"csrf"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
}

// Store reads and writes users and sessions in kv.
type Store struct {
	kv   jetstream.KeyValue
	ttl  time.Duration
	now  func() time.Time
	cost int // bcrypt work factor (lowered by tests)
	// dummy is compared against when a user does not exist, so a wrong
	// name costs as much time as a wrong password.
	dummy []byte
}

// New returns a store over the control-state bucket (which must allow
// per-key TTLs); sessions last ttl (DefaultSessionTTL when zero).
func New(kv jetstream.KeyValue, ttl time.Duration) (*Store, error) {
	if kv == nil {
		return nil, errors.New("accounts: bucket is required")
	}
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("not a password of anyone"), BcryptCost)
	if err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	return &Store{kv: kv, ttl: ttl, now: time.Now, cost: BcryptCost, dummy: dummy}, nil
}

// SessionTTL is how long a new session lasts.
func (s *Store) SessionTTL() time.Duration { return s.ttl }

// ValidateUser checks a new user's name and password, naming each bad field.
func ValidateUser(name, password string) error {
	var errs api.FieldErrors
	if !userName.MatchString(name) {
		errs = append(errs, &api.FieldError{Field: "name", Msg: "1-63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"})
	}
	switch {
	case len(password) < MinPasswordLength:
		errs = append(errs, &api.FieldError{Field: "password", Msg: fmt.Sprintf("at least %d characters", MinPasswordLength)})
	case len(password) > MaxPasswordLength:
		errs = append(errs, &api.FieldError{Field: "password", Msg: fmt.Sprintf("at most %d bytes", MaxPasswordLength)})
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func userKey(name string) string { return "user." + name }

func sessionKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return "session." + hex.EncodeToString(sum[:])
}

// CreateUser stores a new user with a bcrypt hash of password.
func (s *Store) CreateUser(ctx context.Context, name, password string) (User, error) {
	if err := ValidateUser(name, password); err != nil {
		return User{}, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.cost)
	if err != nil {
		return User{}, fmt.Errorf("create user %q: %w", name, err)
	}
	u := User{Name: name, Hash: string(hash), Created: s.now().UTC()}
	data, err := json.Marshal(u)
	if err != nil {
		return User{}, err
	}
	if _, err := s.kv.Create(ctx, userKey(name), data); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return User{}, ErrUserExists
		}
		return User{}, fmt.Errorf("create user %q: %w", name, err)
	}
	u.Hash = ""
	return u, nil
}

// Users lists the users by name, without their hashes.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	lister, err := s.kv.ListKeysFiltered(ctx, "user.*")
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	out := []User{}
	for key := range lister.Keys() {
		u, err := s.user(ctx, strings.TrimPrefix(key, "user."))
		if errors.Is(err, ErrNoUser) {
			continue
		}
		if err != nil {
			return nil, err
		}
		u.Hash = ""
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// HasUsers reports whether any user exists.
func (s *Store) HasUsers(ctx context.Context) (bool, error) {
	us, err := s.Users(ctx)
	return len(us) > 0, err
}

// DeleteUser removes a user; their open sessions end at their expiry.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	if _, err := s.user(ctx, name); err != nil {
		return err
	}
	if err := s.kv.Delete(ctx, userKey(name)); err != nil {
		return fmt.Errorf("delete user %q: %w", name, err)
	}
	return nil
}

func (s *Store) user(ctx context.Context, name string) (User, error) {
	if !userName.MatchString(name) {
		return User{}, ErrNoUser
	}
	e, err := s.kv.Get(ctx, userKey(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return User{}, ErrNoUser
	}
	if err != nil {
		return User{}, fmt.Errorf("read user %q: %w", name, err)
	}
	var u User
	if err := json.Unmarshal(e.Value(), &u); err != nil {
		return User{}, fmt.Errorf("read user %q: %w", name, err)
	}
	return u, nil
}

// CheckPassword returns nil when password is the user's.
func (s *Store) CheckPassword(ctx context.Context, name, password string) error {
	u, err := s.user(ctx, name)
	if errors.Is(err, ErrNoUser) {
		_ = bcrypt.CompareHashAndPassword(s.dummy, []byte(password))
		return ErrBadCredentials
	}
	if err != nil {
		return err
	}
	if bcrypt.CompareHashAndPassword([]byte(u.Hash), []byte(password)) != nil {
		return ErrBadCredentials
	}
	return nil
}

// NewSession opens a session for user.
func (s *Store) NewSession(ctx context.Context, user string) (Session, error) {
	now := s.now().UTC()
	sess := Session{ID: randomToken(), User: user, CSRF: randomToken(), Created: now, Expires: now.Add(s.ttl)}
	data, err := json.Marshal(sess)
	if err != nil {
		return Session{}, err
	}
	if _, err := s.kv.Create(ctx, sessionKey(sess.ID), data, jetstream.KeyTTL(s.ttl)); err != nil {
		return Session{}, fmt.Errorf("new session: %w", err)
	}
	return sess, nil
}

// Session returns the live session with id.
func (s *Store) Session(ctx context.Context, id string) (Session, error) {
	if id == "" || len(id) > 128 {
		return Session{}, ErrNoSession
	}
	e, err := s.kv.Get(ctx, sessionKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, fmt.Errorf("read session: %w", err)
	}
	var sess Session
	if err := json.Unmarshal(e.Value(), &sess); err != nil {
		return Session{}, fmt.Errorf("read session: %w", err)
	}
	// The key's TTL removes it; this covers a clock step or a late purge.
	if !s.now().Before(sess.Expires) {
		return Session{}, ErrNoSession
	}
	sess.ID = id
	return sess, nil
}

// EndSession deletes a session (sign-out). An unknown id is not an error.
func (s *Store) EndSession(ctx context.Context, id string) error {
	if id == "" || len(id) > 128 {
		return nil
	}
	if err := s.kv.Purge(ctx, sessionKey(id)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

// CSRFMatches compares a presented CSRF token with the session's in
// constant time.
func (sess Session) CSRFMatches(token string) bool {
	a := sha256.Sum256([]byte(token))
	b := sha256.Sum256([]byte(sess.CSRF))
	return token != "" && subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}
