// Package acme is the certs.Issuer that gets certificates from an ACME CA
// (Let's Encrypt, or Pebble in the lab) through acmez, the ACME client
// certmagic is built on. HTTP-01 key authorizations go to the "acme" KV
// bucket, so whichever edge the CA reaches answers the challenge; the ACME
// account key lives in the control-only state bucket and is never logged.
package acme

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/mholt/acmez/v3"
	acmeproto "github.com/mholt/acmez/v3/acme"
	"github.com/nats-io/nats.go/jetstream"
)

// Config configures an Issuer.
type Config struct {
	// DirectoryURL is the CA's ACME directory, e.g. Let's Encrypt's
	// production or staging URL, or Pebble's https://127.0.0.1:14000/dir.
	DirectoryURL string
	// Email is the account's contact address (optional).
	Email string
	// CARootsPEM, when set, are the only roots trusted for the CA's API
	// (Pebble's self-signed API certificate); the system roots otherwise.
	CARootsPEM []byte
	// Challenges is the writable api.BucketACME bucket: token → key authorization.
	Challenges jetstream.KeyValue
	// Copies are the region copies of Challenges; a challenge is only
	// answered once every copy holds its token. Optional.
	Copies []jetstream.KeyValue
	// State is the control-only bucket that keeps the account.
	State jetstream.KeyValue
	// Logger receives order events; slog.Default when nil.
	Logger *slog.Logger
}

// Validate names the first bad field.
func (c Config) Validate() error {
	u, err := url.Parse(c.DirectoryURL)
	switch {
	case c.DirectoryURL == "":
		return errors.New("acme directory_url: required")
	case err != nil:
		return fmt.Errorf("acme directory_url: %w", err)
	case u.Scheme != "https" || u.Host == "":
		return fmt.Errorf("acme directory_url: want https://host/path, not %q", c.DirectoryURL)
	case c.Challenges == nil:
		return errors.New("acme: challenges bucket is required")
	case c.State == nil:
		return errors.New("acme: state bucket is required")
	}
	if len(c.CARootsPEM) > 0 && !x509.NewCertPool().AppendCertsFromPEM(c.CARootsPEM) {
		return errors.New("acme ca_roots: no PEM certificate")
	}
	return nil
}

// Issuer obtains certificates over ACME. Safe for concurrent use.
type Issuer struct {
	cfg    Config
	log    *slog.Logger
	client *acmez.Client

	mu      sync.Mutex
	account *acmeproto.Account // registered, nil until first use
}

// New checks cfg and returns an Issuer. Nothing is contacted until Issue.
func New(cfg Config) (*Issuer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if len(cfg.CARootsPEM) > 0 {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(cfg.CARootsPEM)
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	iss := &Issuer{cfg: cfg, log: log}
	iss.client = &acmez.Client{
		Client: &acmeproto.Client{
			Directory:    cfg.DirectoryURL,
			HTTPClient:   &http.Client{Transport: tr, Timeout: 30 * time.Second},
			UserAgent:    "rampart-controlsvc",
			PollInterval: 100 * time.Millisecond,
			PollTimeout:  90 * time.Second,
		},
		ChallengeSolvers: map[string]acmez.Solver{acmeproto.ChallengeTypeHTTP01: &solver{iss: iss}},
	}
	return iss, nil
}

// Issue runs one ACME order for hostname with a fresh P-256 key.
func (iss *Issuer) Issue(ctx context.Context, hostname string) (chainPEM, keyPEM []byte, err error) {
	acct, err := iss.ensureAccount(ctx)
	if err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("acme %q: key: %w", hostname, err)
	}
	start := time.Now()
	certs, err := iss.client.ObtainCertificateForSANs(ctx, acct, key, []string{hostname})
	if err != nil {
		return nil, nil, fmt.Errorf("acme order for %q: %w", hostname, err)
	}
	if len(certs) == 0 {
		return nil, nil, fmt.Errorf("acme order for %q: no certificate returned", hostname)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("acme %q: key: %w", hostname, err)
	}
	iss.log.Info("acme certificate obtained", "site", hostname, "action", "acme_order",
		"ca", iss.cfg.DirectoryURL, "duration_ms", time.Since(start).Milliseconds())
	return certs[0].ChainPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// accountRecord is the stored account; the key is PKCS#8 PEM.
type accountRecord struct {
	V         int    `json:"v"`
	Directory string `json:"directory"`
	Location  string `json:"location"`
	KeyPEM    string `json:"key_pem"`
}

// accountKey names the account of a CA in the state bucket.
func (iss *Issuer) accountKey() string {
	u, _ := url.Parse(iss.cfg.DirectoryURL)
	return "acme-account." + safeKey(u.Host+u.Path)
}

func safeKey(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// ensureAccount loads the account from the state bucket, or registers one
// and stores it. Two replicas registering at once each store theirs; the
// first write wins and the other adopts it.
func (iss *Issuer) ensureAccount(ctx context.Context) (acmeproto.Account, error) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	if iss.account != nil {
		return *iss.account, nil
	}
	key := iss.accountKey()
	if e, err := iss.cfg.State.Get(ctx, key); err == nil {
		acct, err := parseAccount(e.Value())
		if err != nil {
			return acmeproto.Account{}, fmt.Errorf("acme account %s: %w", key, err)
		}
		iss.account = &acct
		return acct, nil
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return acmeproto.Account{}, fmt.Errorf("acme account: %w", err)
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return acmeproto.Account{}, fmt.Errorf("acme account key: %w", err)
	}
	acct := acmeproto.Account{TermsOfServiceAgreed: true, PrivateKey: priv}
	if iss.cfg.Email != "" {
		acct.Contact = []string{"mailto:" + iss.cfg.Email}
	}
	acct, err = iss.client.NewAccount(ctx, acct)
	if err != nil {
		return acmeproto.Account{}, fmt.Errorf("acme register account: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return acmeproto.Account{}, fmt.Errorf("acme account key: %w", err)
	}
	data, _ := json.Marshal(accountRecord{V: 1, Directory: iss.cfg.DirectoryURL, Location: acct.Location,
		KeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))})
	if _, err := iss.cfg.State.Create(ctx, key, data); errors.Is(err, jetstream.ErrKeyExists) {
		// Another replica registered first: use its account.
		e, gerr := iss.cfg.State.Get(ctx, key)
		if gerr != nil {
			return acmeproto.Account{}, fmt.Errorf("acme account: %w", gerr)
		}
		if acct, err = parseAccount(e.Value()); err != nil {
			return acmeproto.Account{}, fmt.Errorf("acme account %s: %w", key, err)
		}
	} else if err != nil {
		return acmeproto.Account{}, fmt.Errorf("store acme account: %w", err)
	}
	iss.log.Info("acme account ready", "action", "acme_account", "ca", iss.cfg.DirectoryURL, "account", acct.Location)
	iss.account = &acct
	return acct, nil
}

func parseAccount(data []byte) (acmeproto.Account, error) {
	var rec accountRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return acmeproto.Account{}, err
	}
	b, _ := pem.Decode([]byte(rec.KeyPEM))
	if b == nil {
		return acmeproto.Account{}, errors.New("no PEM key")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return acmeproto.Account{}, err
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return acmeproto.Account{}, errors.New("key cannot sign")
	}
	return acmeproto.Account{Status: "valid", Location: rec.Location, TermsOfServiceAgreed: true, PrivateKey: signer}, nil
}

// solver presents HTTP-01 challenges through the acme bucket.
type solver struct{ iss *Issuer }

// Present stores the key authorization under its token.
func (s *solver) Present(ctx context.Context, chal acmeproto.Challenge) error {
	if _, err := s.iss.cfg.Challenges.Put(ctx, chal.Token, []byte(chal.KeyAuthorization)); err != nil {
		return fmt.Errorf("store challenge token: %w", err)
	}
	return nil
}

// copyWait bounds how long Wait waits for one region's copy: a region that
// is down must not stop issuance, the CA may reach another one.
const copyWait = 5 * time.Second

// Wait returns once every region copy holds the token (or copyWait has
// passed for a copy), so the edge the CA reaches can answer.
func (s *solver) Wait(ctx context.Context, chal acmeproto.Challenge) error {
	for _, kv := range s.iss.cfg.Copies {
		if err := waitCopy(ctx, kv, chal); err != nil {
			if ctx.Err() != nil {
				return err
			}
			s.iss.log.Warn("acme challenge token not in a region copy; going on", "action", "acme_challenge",
				"site", chal.Identifier.Value, "bucket", kv.Bucket(), "err", err)
		}
	}
	return nil
}

func waitCopy(ctx context.Context, kv jetstream.KeyValue, chal acmeproto.Challenge) error {
	ctx, cancel := context.WithTimeout(ctx, copyWait)
	defer cancel()
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 250*time.Millisecond) {
		e, err := kv.Get(ctx, chal.Token)
		if err == nil && string(e.Value()) == chal.KeyAuthorization {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("token not copied to %s: %w", kv.Bucket(), ctx.Err())
		case <-t.C:
		}
	}
}

// CleanUp removes the token.
func (s *solver) CleanUp(ctx context.Context, chal acmeproto.Challenge) error {
	if err := s.iss.cfg.Challenges.Delete(ctx, chal.Token); err != nil {
		return fmt.Errorf("delete challenge token: %w", err)
	}
	return nil
}
