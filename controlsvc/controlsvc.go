// Package controlsvc is the control plane service: it keeps the KV buckets
// in place, serves the admin API that writes sites, and runs the
// certificate manager that keeps a certificate for every site.
package controlsvc

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-edge/rampart/controlsvc/accounts"
	"github.com/rampart-edge/rampart/controlsvc/adminapi"
	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/controlsvc/blocklist"
	"github.com/rampart-edge/rampart/controlsvc/buckets"
	"github.com/rampart-edge/rampart/controlsvc/certs"
	"github.com/rampart-edge/rampart/controlsvc/certs/acme"
	"github.com/rampart-edge/rampart/controlsvc/certs/labca"
	"github.com/rampart-edge/rampart/controlsvc/certs/onboard"
	"github.com/rampart-edge/rampart/controlsvc/dashboard"
	"github.com/rampart-edge/rampart/controlsvc/edgeevents"
	"github.com/rampart-edge/rampart/controlsvc/fleet"
	"github.com/rampart-edge/rampart/controlsvc/purge"
	"github.com/rampart-edge/rampart/controlsvc/sites"
)

// Files and folders inside Config.DataDir.
const (
	TokenFile = "admin-token"
	CADir     = "labca"
)

// ConnName is the NATS connection name the service shows in monitoring.
const ConnName = "controlsvc"

// shutdownTimeout bounds how long Close waits for admin requests in flight.
const shutdownTimeout = 10 * time.Second

// Config is everything the service needs; Validate names the bad field.
type Config struct {
	// NATSURLs are the servers of the control region (nats://host:port).
	NATSURLs []string
	// NATSUser and NATSPassword authenticate as the control account's user.
	NATSUser, NATSPassword string
	// DataDir keeps the admin token and the lab CA; created with mode 0700.
	DataDir string
	// AdminAddr is the admin API's host:port; port 0 picks a free one (see Addr).
	AdminAddr string
	// AdminToken, when set, is the admin bearer token; otherwise one is
	// generated on first start and kept in DataDir/TokenFile.
	AdminToken string
	// EdgeSealPublicKey is the edges' X25519 public key in base64; every
	// certificate key is sealed to it.
	EdgeSealPublicKey string
	// Buckets says where the KV buckets live.
	Buckets buckets.Layout
	// CertValidity is the lifetime of lab CA certificates; labca.DefaultValidity when zero.
	CertValidity time.Duration
	// CertCheckInterval is how often certificates are checked for renewal;
	// certs.DefaultCheckInterval when zero.
	CertCheckInterval time.Duration
	// ACME, when set, issues certificates from an ACME CA instead of the lab CA.
	ACME *ACMEConfig
	// Onboarding, when set, checks that a site's hostname points at the
	// edge before its certificate is ordered.
	Onboarding *OnboardingConfig
	// CertRetryMin and CertRetryMax bound the backoff after a failed
	// issuance; certs.DefaultRetryMin/Max when zero.
	CertRetryMin, CertRetryMax time.Duration
	// Logger receives the service's JSON logs; slog.Default when nil.
	Logger *slog.Logger
	// DashboardAddr, when set, is the host:port of the dashboard: the web
	// UI and the admin API over HTTPS (session cookies are Secure). Port 0
	// picks a free one (see DashboardURL).
	DashboardAddr string
	// DashboardCertFile and DashboardKeyFile are the dashboard's PEM
	// certificate and key; without them the lab CA issues one for
	// "localhost".
	DashboardCertFile, DashboardKeyFile string
	// SessionTTL is how long a dashboard sign-in lasts;
	// accounts.DefaultSessionTTL when zero.
	SessionTTL time.Duration
	// DNSCheck, when set and Onboarding is not, only shows in the
	// dashboard whether a site's hostname points at the edge (issuance is
	// not held back). With Onboarding set, that check is shown.
	DNSCheck *OnboardingConfig
}

// OnboardingConfig says what pointing at the edge means (see certs/onboard).
type OnboardingConfig struct {
	// EdgeZone: a site's edge name is <hostname>.<EdgeZone> (CNAME target).
	EdgeZone string
	// EdgeIPs are the edges' public addresses (A/AAAA targets).
	EdgeIPs []string
	// Resolver is the DNS server (host:port, TCP) to ask; the system's when empty.
	Resolver string
}

// ACMEConfig says which ACME CA issues the certificates.
type ACMEConfig struct {
	// DirectoryURL is the CA's directory (https://…/directory).
	DirectoryURL string
	// Email is the account's contact address (optional).
	Email string
	// CARootsPEM are the roots trusted for the CA's API (Pebble's); the
	// system roots when empty.
	CARootsPEM []byte
}

// Validate checks every field and reports each bad one by its config name.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if len(c.NATSURLs) == 0 {
		bad("nats_urls", "at least one NATS URL is required")
	}
	for i, s := range c.NATSURLs {
		u, err := url.Parse(s)
		switch {
		case err != nil:
			bad(fmt.Sprintf("nats_urls[%d]", i), "%v", err)
		case u.Scheme != "nats" && u.Scheme != "tls" && u.Scheme != "ws" && u.Scheme != "wss":
			bad(fmt.Sprintf("nats_urls[%d]", i), "want nats://, tls://, ws:// or wss://host:port, not %q", u.Redacted())
		case u.Host == "":
			bad(fmt.Sprintf("nats_urls[%d]", i), "host is required in %q", u.Redacted())
		}
	}
	if c.NATSUser != "" && c.NATSPassword == "" {
		bad("nats_password", "required with nats_user")
	}
	if c.NATSPassword != "" && c.NATSUser == "" {
		bad("nats_user", "required with nats_password")
	}
	if c.DataDir == "" {
		bad("data_dir", "required")
	}
	if _, port, err := net.SplitHostPort(c.AdminAddr); err != nil {
		bad("admin_addr", "want host:port: %v", err)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		bad("admin_addr", "port %q is not in 0-65535", port)
	}
	if c.AdminToken != "" && len(c.AdminToken) < adminapi.MinTokenLength {
		bad("admin_token", "at least %d characters", adminapi.MinTokenLength)
	}
	if c.EdgeSealPublicKey == "" {
		bad("edge_seal_public_key", "required")
	} else if _, err := api.ParseSealPublicKey(c.EdgeSealPublicKey); err != nil {
		bad("edge_seal_public_key", "%v", err)
	}
	if err := c.Buckets.Validate(); err != nil {
		bad("buckets", "%v", err)
	}
	if c.CertValidity < 0 {
		bad("cert_validity", "must not be negative")
	} else if c.CertValidity > 0 && c.CertValidity < time.Hour {
		bad("cert_validity", "%v is shorter than an hour", c.CertValidity)
	}
	if c.CertCheckInterval < 0 {
		bad("cert_check_interval", "must not be negative")
	}
	if c.DashboardAddr != "" {
		if _, _, err := net.SplitHostPort(c.DashboardAddr); err != nil {
			bad("dashboard_addr", "want host:port: %v", err)
		}
	}
	if (c.DashboardCertFile == "") != (c.DashboardKeyFile == "") {
		bad("dashboard_cert_file", "dashboard_cert_file and dashboard_key_file go together")
	}
	if c.SessionTTL < 0 {
		bad("session_ttl", "must not be negative")
	}
	if c.CertRetryMin < 0 || c.CertRetryMax < 0 {
		bad("cert_retry", "must not be negative")
	}
	if o := c.Onboarding; o != nil {
		if o.EdgeZone == "" && len(o.EdgeIPs) == 0 {
			bad("onboarding", "edge_zone or edge_ips is required")
		}
		for i, ip := range o.EdgeIPs {
			if _, err := netip.ParseAddr(ip); err != nil {
				bad(fmt.Sprintf("onboarding.edge_ips[%d]", i), "%v", err)
			}
		}
		if o.Resolver != "" {
			if _, _, err := net.SplitHostPort(o.Resolver); err != nil {
				bad("onboarding.resolver", "want host:port: %v", err)
			}
		}
	}
	if c.ACME != nil {
		if c.ACME.DirectoryURL == "" {
			bad("acme_directory_url", "required with ACME")
		} else if u, err := url.Parse(c.ACME.DirectoryURL); err != nil || u.Scheme != "https" || u.Host == "" {
			bad("acme_directory_url", "want https://host/path, not %q", c.ACME.DirectoryURL)
		}
		if len(c.ACME.CARootsPEM) > 0 && !x509.NewCertPool().AppendCertsFromPEM(c.ACME.CARootsPEM) {
			bad("acme_ca_roots", "no PEM certificate")
		}
	}
	return errors.Join(errs...)
}

// Service is the running control plane.
type Service struct {
	cfg     Config
	sealKey *ecdh.PublicKey
	log     *slog.Logger

	mu      sync.Mutex
	started bool
	closed  bool
	token   string
	ca      *labca.CA
	mgr     *certs.Manager
	nc      *nats.Conn
	srv     *http.Server
	addr    string
	dash    *http.Server
	dashURL string
	fleet   *fleet.Tracker
	events  *edgeevents.Recorder
	connErr atomic.Pointer[error] // the last failed connect attempt, nil once connected
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// New validates cfg and returns a Service that Start runs.
func New(cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("controlsvc config: %w", err)
	}
	key, err := api.ParseSealPublicKey(cfg.EdgeSealPublicKey)
	if err != nil {
		return nil, fmt.Errorf("controlsvc config: edge_seal_public_key: %w", err)
	}
	cfg.NATSURLs = slices.Clone(cfg.NATSURLs)
	cfg.Buckets.Regions = slices.Clone(cfg.Buckets.Regions)
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Service{cfg: cfg, sealKey: key, log: log}, nil
}

// Start prepares the data dir, connects to NATS (waiting for it, within
// ctx, if it is not up yet), ensures the buckets, and returns once the admin
// API is listening. The API and the certificate manager then run in the
// background until Close; ctx only bounds the start.
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return errors.New("controlsvc: start after close")
	case s.started:
		return errors.New("controlsvc: already started")
	}
	if err := s.start(ctx); err != nil {
		s.stop()
		return err
	}
	s.started = true
	s.log.Info("controlsvc started", "action", "start", "admin_addr", s.addr,
		"ca_cert", s.ca.CertPath(), "nats", redacted(s.cfg.NATSURLs))
	return nil
}

func (s *Service) start(ctx context.Context) error {
	if err := os.MkdirAll(s.cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	s.token = s.cfg.AdminToken
	if s.token == "" {
		tok, err := adminapi.LoadOrCreateToken(filepath.Join(s.cfg.DataDir, TokenFile))
		if err != nil {
			return err
		}
		s.token = tok
	}
	ca, err := labca.New(labca.Config{Dir: filepath.Join(s.cfg.DataDir, CADir), Validity: s.cfg.CertValidity})
	if err != nil {
		return err
	}
	s.ca = ca

	if err := s.connect(); err != nil {
		return err
	}
	js, err := jetstream.New(s.nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	if err := s.waitConnected(ctx); err != nil {
		return err
	}
	if err := s.ensureBuckets(ctx, js); err != nil {
		return err
	}
	sitesKV, err := js.KeyValue(ctx, api.BucketSites)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", api.BucketSites, err)
	}
	certsKV, err := js.KeyValue(ctx, api.BucketCerts)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", api.BucketCerts, err)
	}
	blocklistKV, err := js.KeyValue(ctx, api.BucketBlocklist)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", api.BucketBlocklist, err)
	}

	purgesKV, err := js.KeyValue(ctx, api.BucketPurges)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", api.BucketPurges, err)
	}
	stateKV, err := js.KeyValue(ctx, buckets.State)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", buckets.State, err)
	}
	var issuer certs.Issuer = ca
	if a := s.cfg.ACME; a != nil {
		acmeKV, err := js.KeyValue(ctx, api.BucketACME)
		if err != nil {
			return fmt.Errorf("bucket %s: %w", api.BucketACME, err)
		}
		var copies []jetstream.KeyValue
		for _, r := range s.cfg.Buckets.Regions {
			kv, err := js.KeyValue(ctx, api.RegionBucket(api.BucketACME, r))
			if err != nil {
				return fmt.Errorf("bucket %s: %w", api.RegionBucket(api.BucketACME, r), err)
			}
			copies = append(copies, kv)
		}
		iss, err := acme.New(acme.Config{DirectoryURL: a.DirectoryURL, Email: a.Email, CARootsPEM: a.CARootsPEM,
			Challenges: acmeKV, Copies: copies, State: stateKV, Logger: s.log})
		if err != nil {
			return err
		}
		issuer = iss
	}
	var checker certs.Checker
	if o := s.cfg.Onboarding; o != nil {
		var ips []netip.Addr
		for _, ip := range o.EdgeIPs {
			ips = append(ips, netip.MustParseAddr(ip)) // checked by Validate
		}
		c, err := onboard.New(onboard.Config{EdgeZone: o.EdgeZone, EdgeIPs: ips, Resolver: o.Resolver})
		if err != nil {
			return err
		}
		checker = c
	}
	mgr, err := certs.New(certs.Config{
		Sites:         sitesKV,
		Certs:         certsKV,
		Issuer:        issuer,
		SealKey:       s.sealKey,
		CheckInterval: s.cfg.CertCheckInterval,
		RetryMin:      s.cfg.CertRetryMin,
		RetryMax:      s.cfg.CertRetryMax,
		Locker:        certs.NewKVLock(stateKV, 0),
		Onboarding:    checker,
		Status:        stateKV,
		Logger:        s.log,
	})
	if err != nil {
		return err
	}
	s.mgr = mgr
	nc := s.nc
	s.fleet = fleet.New()
	if err := s.fleet.Start(nc); err != nil {
		return err
	}
	s.events = edgeevents.New(0)
	if err := s.events.Start(nc); err != nil {
		return err
	}
	acc, err := accounts.New(stateKV, s.cfg.SessionTTL)
	if err != nil {
		return err
	}
	dnsCheck, err := s.dnsChecker(checker)
	if err != nil {
		return err
	}
	purger, err := purge.New(purge.Config{Conn: nc, KV: purgesKV, Live: func() []api.EdgeRef {
		var refs []api.EdgeRef
		for _, hb := range s.fleet.Live(adminapi.DefaultEdgeMaxAge) {
			refs = append(refs, api.EdgeRef{Region: hb.Region, Node: hb.Node})
		}
		return refs
	}})
	if err != nil {
		return err
	}
	var dash *dashboard.Dashboard
	handler, err := adminapi.New(adminapi.Config{
		Purge:    purger.Purge,
		Fleet:    s.fleet,
		Events:   s.events,
		DNSCheck: dnsCheck,
		Accounts: acc,
		Session: func(r *http.Request) error {
			if dash == nil {
				return accounts.ErrNoSession
			}
			return dash.Authenticate(r)
		},
		Sites:     sites.New(sitesKV),
		Blocklist: blocklist.New(blocklistKV),
		Certs:     certsKV,
		State:     stateKV,
		Renew:     mgr.Renew,
		Token:     s.token,
		Logger:    s.log,
		Health: func(context.Context) error {
			if !nc.IsConnected() {
				return errors.New("not connected to NATS")
			}
			return nil
		},
	})
	if err != nil {
		return err
	}

	if s.cfg.DashboardAddr != "" {
		if dash, err = dashboard.New(dashboard.Config{Accounts: acc, Token: s.token, API: handler, Logger: s.log}); err != nil {
			return err
		}
		if err := s.serveDashboard(ctx, dash); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", s.cfg.AdminAddr)
	if err != nil {
		return fmt.Errorf("admin api: %w", err)
	}
	s.addr = ln.Addr().String()
	s.srv = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Go(func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("admin api stopped", "action", "serve", "err", err)
		}
	})
	s.wg.Go(func() {
		if err := mgr.Run(runCtx); err != nil {
			s.log.Error("certificate manager stopped", "action", "certs", "err", err)
		}
	})
	return nil
}

// connect dials NATS. A server that is down is retried in the background
// (and after every disconnect) rather than failing the start.
func (s *Service) connect() error {
	opts := []nats.Option{
		nats.Name(ConnName),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			s.log.Warn("NATS disconnected", "action", "nats", "err", err)
		}),
		nats.ConnectHandler(func(nc *nats.Conn) {
			s.connErr.Store(nil)
			s.log.Info("NATS connected", "action", "nats", "server", nc.ConnectedUrlRedacted())
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			s.connErr.Store(nil)
			s.log.Info("NATS connected", "action", "nats", "server", nc.ConnectedUrlRedacted())
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			// Attempts repeat every second while NATS is down: log
			// only when the reason changes.
			if prev := s.connErr.Swap(&err); prev == nil || (*prev).Error() != err.Error() {
				s.log.Warn("NATS connect failed", "action", "nats", "err", err)
			}
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			s.log.Warn("NATS error", "action", "nats", "err", err)
		}),
	}
	if s.cfg.NATSUser != "" {
		opts = append(opts, nats.UserInfo(s.cfg.NATSUser, s.cfg.NATSPassword))
	}
	nc, err := nats.Connect(strings.Join(s.cfg.NATSURLs, ","), opts...)
	if err != nil {
		return fmt.Errorf("nats connect: %w", err)
	}
	s.nc = nc
	return nil
}

// waitConnected waits, within ctx, for the first connection to NATS.
func (s *Service) waitConnected(ctx context.Context) error {
	ch := s.nc.StatusChanged(nats.CONNECTED, nats.CLOSED)
	defer s.nc.RemoveStatusListener(ch)
	if s.nc.IsConnected() {
		return nil
	}
	s.log.Warn("waiting for NATS", "action", "nats", "nats", redacted(s.cfg.NATSURLs))
	select {
	case <-ctx.Done():
		if last := s.connErr.Load(); last != nil {
			return fmt.Errorf("nats connect: %w (last error: %v)", ctx.Err(), *last)
		}
		return fmt.Errorf("nats connect: %w", ctx.Err())
	case st := <-ch:
		if st == nats.CLOSED {
			return errors.New("nats connect: connection closed")
		}
		return nil
	}
}

// ensureBuckets runs buckets.Ensure until it succeeds or ctx ends: at
// first start NATS may still be coming up.
func (s *Service) ensureBuckets(ctx context.Context, js jetstream.JetStream) error {
	wait := 250 * time.Millisecond
	for {
		attempt, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := buckets.Ensure(attempt, js, s.cfg.Buckets)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("ensure buckets: %w (last error: %v)", ctx.Err(), err)
		}
		s.log.Warn("waiting for NATS JetStream", "action", "buckets", "err", err, "retry_in", wait.String())
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("ensure buckets: %w (last error: %v)", ctx.Err(), err)
		case <-t.C:
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// redacted lists NATS URLs without any password in them, for logs.
func redacted(urls []string) string {
	out := make([]string, len(urls))
	for i, s := range urls {
		if u, err := url.Parse(s); err == nil {
			out[i] = u.Redacted()
		}
	}
	return strings.Join(out, ",")
}

// RenewCert makes the certificate manager replace the certificate of host
// now, even if it is still good.
func (s *Service) RenewCert(ctx context.Context, host string) error {
	s.mu.Lock()
	mgr := s.mgr
	s.mu.Unlock()
	if mgr == nil {
		return errors.New("controlsvc: not started")
	}
	return mgr.Renew(ctx, host)
}

// Addr is the admin API's bound address, "" before Start.
func (s *Service) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Token is the admin bearer token, "" before Start.
func (s *Service) Token() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token
}

// CACertPEM is the lab CA certificate clients trust, nil before Start.
func (s *Service) CACertPEM() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ca == nil {
		return nil
	}
	return bytes.Clone(s.ca.CertPEM())
}

// CACertPath is the file holding CACertPEM (for curl --cacert), "" before Start.
func (s *Service) CACertPath() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ca == nil {
		return ""
	}
	return s.ca.CertPath()
}

// Close stops the admin API (letting requests in flight finish), the
// certificate manager and the NATS connection. It is safe to call more
// than once and before Start; during a Start it waits for Start to return
// (cancel Start's context to cut that short).
func (s *Service) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.stop()
	if s.started {
		s.log.Info("controlsvc stopped", "action", "stop")
	}
	return err
}

// stop releases whatever start set up; s.mu is held.
func (s *Service) stop() error {
	var errs []error
	if s.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		if err := s.srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("admin api shutdown: %w", err))
		}
		cancel()
	}
	if s.dash != nil {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		if err := s.dash.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("dashboard shutdown: %w", err))
		}
		cancel()
	}
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	if s.nc != nil {
		s.nc.Close()
	}
	return errors.Join(errs...)
}
