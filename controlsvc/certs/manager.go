package certs

import (
	"context"
	"crypto/ecdh"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-edge/rampart/controlsvc/api"
)

// Defaults for the Manager's timing.
const (
	DefaultCheckInterval = time.Hour
	DefaultRetryMin      = 5 * time.Second
	DefaultRetryMax      = 10 * time.Minute
	DefaultIssueTimeout  = 2 * time.Minute
)

// Config wires a Manager to its buckets and issuer.
type Config struct {
	// Sites is the api.BucketSites bucket, watched for hostnames.
	Sites jetstream.KeyValue
	// Certs is the api.BucketCerts bucket, written with api.CertRecord values.
	Certs jetstream.KeyValue
	// Issuer signs certificates.
	Issuer Issuer
	// SealKey is the edges' X25519 public key; private keys are stored
	// sealed to it and are never written or logged in the clear.
	SealKey *ecdh.PublicKey
	// CheckInterval is how often every site's certificate is re-checked
	// for renewal; DefaultCheckInterval when zero.
	CheckInterval time.Duration
	// RetryMin and RetryMax bound the exponential backoff after a failure.
	RetryMin, RetryMax time.Duration
	// IssueTimeout bounds one call to the Issuer.
	IssueTimeout time.Duration
	// Logger receives issuance, renewal and failure events; slog.Default when nil.
	Logger *slog.Logger
	// Now is the clock certificates are judged by; time.Now when nil.
	Now func() time.Time
	// Locker, when set, makes one replica at a time issue for a hostname;
	// the others find the fresh certificate after the lock and skip.
	Locker Locker
	// Onboarding, when set, must pass before a certificate is ordered
	// (the hostname points at the edge); a failure is retried like any.
	Onboarding Checker
	// Status, when set, is the control-only bucket that receives each
	// site's Issuance (last outcome, failures, next attempt).
	Status jetstream.KeyValue
}

// Checker is a check run before ordering a certificate for a hostname.
type Checker interface {
	Check(ctx context.Context, host string) error
}

// Manager reconciles the certs bucket with the sites bucket. A certificate
// is replaced when it is missing, does not cover its hostname, or has less
// than a third of its lifetime left; it is deleted with its site.
type Manager struct {
	cfg   Config
	log   *slog.Logger
	renew chan string
}

// New checks cfg and returns a Manager; Run starts it.
func New(cfg Config) (*Manager, error) {
	switch {
	case cfg.Sites == nil:
		return nil, errors.New("cert manager: sites bucket is required")
	case cfg.Certs == nil:
		return nil, errors.New("cert manager: certs bucket is required")
	case cfg.Issuer == nil:
		return nil, errors.New("cert manager: issuer is required")
	case cfg.SealKey == nil:
		return nil, errors.New("cert manager: seal key is required")
	case cfg.CheckInterval < 0, cfg.RetryMin < 0, cfg.RetryMax < 0, cfg.IssueTimeout < 0:
		return nil, errors.New("cert manager: durations must not be negative")
	}
	if cfg.CheckInterval == 0 {
		cfg.CheckInterval = DefaultCheckInterval
	}
	if cfg.RetryMin == 0 {
		cfg.RetryMin = DefaultRetryMin
	}
	if cfg.RetryMax == 0 {
		cfg.RetryMax = DefaultRetryMax
	}
	cfg.RetryMax = max(cfg.RetryMax, cfg.RetryMin)
	if cfg.IssueTimeout == 0 {
		cfg.IssueTimeout = DefaultIssueTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Manager{cfg: cfg, log: log, renew: make(chan string)}, nil
}

// Run reconciles until ctx is done, then returns nil. A failed watch of the
// sites bucket is logged and restarted with backoff.
func (m *Manager) Run(ctx context.Context) error {
	backoff := m.cfg.RetryMin
	for {
		started, err := m.watch(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if started {
			backoff = m.cfg.RetryMin
		}
		m.log.Error("certificate manager: watching sites failed", "action", "watch", "err", err, "retry_in", backoff.String())
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, m.cfg.RetryMax)
	}
}

// queue holds the hostnames to reconcile, each due at a wall-clock time,
// with the number of consecutive failures behind it.
type queue map[string]*task

type task struct {
	due      time.Time
	failures int
	// force replaces the certificate even if it is still good, unless
	// it is no longer the revision forceRev the renewal was asked for.
	force    bool
	forceRev uint64
}

// add makes host due now, clearing any backoff: something changed.
func (q queue) add(host string, now time.Time) { q[host] = &task{due: now} }

// watch runs one watch of the sites bucket; started reports whether the
// watch got going before it failed.
func (m *Manager) watch(ctx context.Context) (started bool, err error) {
	w, err := m.cfg.Sites.WatchAll(ctx)
	if err != nil {
		return false, fmt.Errorf("watch sites: %w", err)
	}
	defer w.Stop()

	sites := map[string]bool{}
	q := queue{}
	synced := false
	tick := time.NewTicker(m.cfg.CheckInterval)
	defer tick.Stop()
	wake := time.NewTimer(time.Hour)
	defer wake.Stop()

	for {
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return true, errors.New("watch sites: watcher closed")
			}
			if e == nil {
				// The initial values are in: certificates of sites
				// deleted while no manager was running are orphans.
				synced = true
				if err := m.queueOrphans(ctx, sites, q); err != nil {
					return true, err
				}
				break
			}
			if e.Operation() == jetstream.KeyValuePut {
				sites[e.Key()] = true
			} else {
				delete(sites, e.Key())
			}
			q.add(e.Key(), time.Now())
		case host := <-m.renew:
			if sites[host] {
				rev := uint64(0)
				if e, err := m.cfg.Certs.Get(ctx, host); err == nil {
					rev = e.Revision()
				}
				q[host] = &task{due: time.Now(), force: true, forceRev: rev}
			}
		case <-tick.C:
			now := time.Now()
			for host := range sites {
				if _, queued := q[host]; !queued {
					q.add(host, now)
				}
			}
		case <-wake.C:
		}
		if !synced {
			continue
		}
		m.runDue(ctx, sites, q)
		if next, ok := q.next(); ok {
			wake.Reset(time.Until(next))
		}
	}
}

func (q queue) next() (time.Time, bool) {
	var next time.Time
	for _, t := range q {
		if next.IsZero() || t.due.Before(next) {
			next = t.due
		}
	}
	return next, !next.IsZero()
}

// runDue reconciles every host that is due, backing off the ones that fail.
func (m *Manager) runDue(ctx context.Context, sites map[string]bool, q queue) {
	now := time.Now()
	for host, t := range q {
		if t.due.After(now) {
			continue
		}
		err := m.reconcile(ctx, host, sites[host], t)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			delete(q, host)
			continue
		}
		t.failures++
		wait := m.backoff(t.failures)
		t.due = time.Now().Add(wait)
		if sites[host] {
			m.setIssuance(ctx, host, &Issuance{State: IssuanceFailing, Error: err.Error(), Failures: t.failures, NextAttempt: t.due.UTC()})
		}
		m.log.Warn("certificate reconcile failed", "site", host, "action", "reconcile", "err", err, "failures", t.failures, "retry_in", wait.String())
	}
}

// Renew makes the manager replace the certificate of host now, even if it
// is still good. It returns once the request is queued (Run must be running).
func (m *Manager) Renew(ctx context.Context, host string) error {
	select {
	case m.renew <- host:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("renew %s: %w", host, ctx.Err())
	}
}

func (m *Manager) backoff(failures int) time.Duration {
	d := m.cfg.RetryMin
	for i := 1; i < failures && d < m.cfg.RetryMax; i++ {
		d *= 2
	}
	return min(d, m.cfg.RetryMax)
}

func (m *Manager) queueOrphans(ctx context.Context, sites map[string]bool, q queue) error {
	kl, err := m.cfg.Certs.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("list certificates: %w", err)
	}
	now := time.Now()
	for host := range kl.Keys() {
		if !sites[host] {
			q.add(host, now)
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list certificates: %w", err)
	}
	return nil
}

// reconcile makes the certificate of host match whether its site exists.
func (m *Manager) reconcile(ctx context.Context, host string, siteExists bool, t *task) error {
	cur, err := m.current(ctx, host)
	if err != nil {
		return err
	}
	if !siteExists {
		m.setIssuance(ctx, host, nil)
		if cur == nil {
			return nil
		}
		// The watch may be behind the certificates: at start-up the
		// orphans are the certificates listed after the watch's
		// initial values, and another replica may have issued one for a
		// site created since. Ask the bucket before deleting.
		switch _, err := m.cfg.Sites.Get(ctx, host); {
		case err == nil:
			m.log.Debug("certificate kept: its site exists (the watch is behind)", "site", host, "action", "check")
			return nil
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			return fmt.Errorf("read site: %w", err)
		}
		if err := m.cfg.Certs.Delete(ctx, host); err != nil {
			return fmt.Errorf("delete certificate: %w", err)
		}
		m.log.Info("certificate deleted", "site", host, "action", "delete")
		return nil
	}
	reason := m.replaceReason(cur, host, t)
	if reason != "" && m.cfg.Locker != nil {
		if err := m.cfg.Locker.Lock(ctx, "issue."+host); err != nil {
			return err
		}
		defer func() {
			// Unlock even when ctx is done: the lock must not outlive us.
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := m.cfg.Locker.Unlock(uctx, "issue."+host); err != nil {
				m.log.Warn("certificate lock release failed", "site", host, "action", "unlock", "err", err)
			}
		}()
		// Another replica may have replaced it while we waited.
		if cur, err = m.current(ctx, host); err != nil {
			return err
		}
		reason = m.replaceReason(cur, host, t)
	}
	if reason == "" {
		m.log.Debug("certificate is current", "site", host, "action", "check", "revision", cur.Revision())
		return nil
	}
	if m.cfg.Onboarding != nil {
		if err := m.cfg.Onboarding.Check(ctx, host); err != nil {
			return err
		}
	}
	rec, err := m.issue(ctx, host)
	if err != nil {
		return err
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode certificate: %w", err)
	}
	if _, err := m.cfg.Certs.Put(ctx, host, data); err != nil {
		return fmt.Errorf("store certificate: %w", err)
	}
	m.setIssuance(ctx, host, &Issuance{State: IssuanceOK})
	m.log.Info("certificate issued", "site", host, "action", "issue", "reason", reason,
		"issuer", rec.Issuer, "not_after", rec.NotAfter.Format(time.RFC3339))
	return nil
}

// current reads the stored certificate entry of host; nil when there is none.
func (m *Manager) current(ctx context.Context, host string) (jetstream.KeyValueEntry, error) {
	cur, err := m.cfg.Certs.Get(ctx, host)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	return cur, nil
}

// replaceReason says why the certificate entry cur of host must be
// replaced, or "" when it stays. A forced renewal (t.force) replaces a good
// certificate, unless it was replaced since the renewal was asked for.
func (m *Manager) replaceReason(cur jetstream.KeyValueEntry, host string, t *task) string {
	if cur == nil {
		return "missing"
	}
	reason := m.renewReason(cur.Value(), host)
	if t != nil && t.force {
		if cur.Revision() != t.forceRev {
			return ""
		}
		if reason == "" {
			reason = "forced"
		}
	}
	return reason
}

// renewReason says why the stored certificate of host must be replaced,
// or "" when it is good.
func (m *Manager) renewReason(value []byte, host string) string {
	rec, err := api.ParseCertRecord(value)
	if err != nil {
		return "unreadable record"
	}
	if rec.Hostname != host {
		return "record for another hostname"
	}
	cert, err := leaf([]byte(rec.ChainPEM))
	if err != nil {
		return "unreadable chain"
	}
	if cert.VerifyHostname(host) != nil {
		return "certificate for another hostname"
	}
	lifetime := cert.NotAfter.Sub(cert.NotBefore)
	if left := cert.NotAfter.Sub(m.cfg.Now()); left < lifetime/3+renewJitter(cert, lifetime) {
		return "expiring"
	}
	return ""
}

// renewJitter spreads renewals of certificates issued together over up to
// a thirtieth of their lifetime (a day for 30 days, 3 for 90): each
// certificate renews that much earlier, by an amount fixed by its serial so
// every replica and every check agrees.
func renewJitter(cert *x509.Certificate, lifetime time.Duration) time.Duration {
	span := lifetime / 30
	if span <= 0 || cert.SerialNumber == nil {
		return 0
	}
	h := fnv.New64a()
	h.Write(cert.SerialNumber.Bytes())
	return time.Duration(h.Sum64() % uint64(span))
}

// issue gets a certificate for host and seals its key into a CertRecord.
func (m *Manager) issue(ctx context.Context, host string) (api.CertRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.IssueTimeout)
	defer cancel()
	chainPEM, keyPEM, err := m.cfg.Issuer.Issue(ctx, host)
	if err != nil {
		return api.CertRecord{}, fmt.Errorf("issue: %w", err)
	}
	// Refuse a pair that would not load at the edge.
	if _, err := tls.X509KeyPair(chainPEM, keyPEM); err != nil {
		return api.CertRecord{}, fmt.Errorf("issued certificate and key do not form a pair: %w", err)
	}
	cert, err := leaf(chainPEM)
	if err != nil {
		return api.CertRecord{}, fmt.Errorf("issued chain: %w", err)
	}
	if err := cert.VerifyHostname(host); err != nil {
		return api.CertRecord{}, fmt.Errorf("issued certificate: %w", err)
	}
	sealed, err := api.SealFor(m.cfg.SealKey, keyPEM)
	if err != nil {
		return api.CertRecord{}, fmt.Errorf("seal key: %w", err)
	}
	return api.CertRecord{
		V:         api.Version,
		Hostname:  host,
		ChainPEM:  string(chainPEM),
		KeySealed: sealed,
		Issuer:    cert.Issuer.CommonName,
		NotBefore: cert.NotBefore,
		NotAfter:  cert.NotAfter,
	}, nil
}
