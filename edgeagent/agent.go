// Package edgeagent wires the edge node together: the catalog and its NATS
// sync, TLS termination, the proxy, the access log, heartbeats and the admin
// listener. Each piece lives in its own package; this one only assembles and
// runs them.
package edgeagent

import (
	"context"
	"crypto/ecdh"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/accesslog"
	"github.com/rampart-edge/rampart/edgeagent/admission"
	"github.com/rampart-edge/rampart/edgeagent/blocklist"
	"github.com/rampart-edge/rampart/edgeagent/cache"
	"github.com/rampart-edge/rampart/edgeagent/catalog"
	"github.com/rampart-edge/rampart/edgeagent/challenge"
	"github.com/rampart-edge/rampart/edgeagent/connlimit"
	"github.com/rampart-edge/rampart/edgeagent/events"
	"github.com/rampart-edge/rampart/edgeagent/framing"
	"github.com/rampart-edge/rampart/edgeagent/geodns"
	"github.com/rampart-edge/rampart/edgeagent/h1"
	"github.com/rampart-edge/rampart/edgeagent/heartbeat"
	"github.com/rampart-edge/rampart/edgeagent/internal/rawsock"
	"github.com/rampart-edge/rampart/edgeagent/kvsync"
	"github.com/rampart-edge/rampart/edgeagent/metrics"
	"github.com/rampart-edge/rampart/edgeagent/proxy"
	"github.com/rampart-edge/rampart/edgeagent/purger"
	"github.com/rampart-edge/rampart/edgeagent/ratelimit"
	"github.com/rampart-edge/rampart/edgeagent/realip"
	"github.com/rampart-edge/rampart/edgeagent/tlsedge"
	"github.com/rampart-edge/rampart/edgeagent/wafgate"
	"github.com/rampart-edge/rampart/waf"
)

// Agent is one edge node.
type Agent struct {
	cfg     Config
	log     *slog.Logger
	cat     *catalog.Catalog
	handler *proxy.Handler
	front   *admission.Handler // wraps handler: in-flight and body caps
	metrics *metrics.Metrics
	events  *events.Sampler
	cache   *cache.Store // nil when off
	// diskReleased is set once the cache's disk tier serves (releaseDisk).
	diskReleased atomic.Bool
	trusted      *realip.Resolver // trusted proxies: no per-address connection cap
	blocked      *blocklist.List
	feed         *blocklist.Feed // blocked: block_cidrs plus the list pushed over NATS
	conns        []*connlimit.Listener
	alog         *accesslog.Logger
	logFile      io.Closer
	dns          *geodns.Server // nil without a dns section
	gate         *wafgate.Gate
	acme         *challenge.Store // ACME HTTP-01 tokens from the "acme" bucket
	wafLog       io.Closer

	mu        sync.Mutex
	nc        *nats.Conn
	syncer    *kvsync.Syncer
	servers   []server
	addrs     map[string]string
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	startedAt time.Time
}

// New checks cfg and builds the agent; Start runs it.
func New(cfg Config, log *slog.Logger) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("edge config: %w", err)
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = Duration(2 * time.Second)
	}
	cfg.Limits.withDefaults()
	if cfg.StaticFile != "" {
		// A static file is the operator's own configuration, not customer
		// input: its origins may be local.
		cfg.AllowPrivateOrigins = true
	}
	if cfg.NATS.APIPrefix == "" {
		cfg.NATS.APIPrefix = api.EdgeJSAPIPrefix
	}
	var sealKey *ecdh.PrivateKey
	if cfg.SealKey != "" {
		k, err := api.ParseSealKey(cfg.SealKey)
		if err != nil {
			return nil, fmt.Errorf("edge config: seal_key: %w", err)
		}
		sealKey = k
	}
	var store *catalog.DiskStore
	if cfg.DataDir != "" && cfg.StaticFile == "" {
		store = catalog.NewDiskStore(filepath.Join(cfg.DataDir, "snapshot.json"), log)
	}
	a := &Agent{cfg: cfg, log: log, cat: catalog.New(sealKey, store), acme: challenge.NewStore(), addrs: map[string]string{}}
	if cfg.DNS != nil {
		d, err := geodns.New(*cfg.DNS, a.cat, log.With("component", "geodns"))
		if err != nil {
			return nil, fmt.Errorf("edge config: dns: %w", err)
		}
		a.dns = d
	}
	switch cfg.AccessLog {
	case "":
	case "-":
		a.alog = accesslog.New(os.Stdout, cfg.Region, cfg.Node)
	default:
		if err := os.MkdirAll(filepath.Dir(cfg.AccessLog), 0o750); err != nil {
			return nil, fmt.Errorf("edge config: access_log: %w", err)
		}
		f, err := os.OpenFile(cfg.AccessLog, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
		if err != nil {
			return nil, fmt.Errorf("edge config: access_log: %w", err)
		}
		a.logFile = f
		a.alog = accesslog.New(f, cfg.Region, cfg.Node)
	}
	var wafOpts waf.Options
	if cfg.WAFMatchLog != "" {
		f, err := os.OpenFile(cfg.WAFMatchLog, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, fmt.Errorf("edge config: waf_match_log: %w", err)
		}
		a.wafLog, wafOpts.MatchLog = f, f
	}
	var secret []byte
	if cfg.WAFSecret != "" {
		var err error
		if secret, err = hex.DecodeString(cfg.WAFSecret); err != nil || len(secret) < 16 {
			return nil, fmt.Errorf("edge config: waf_secret: want at least 16 bytes in hex")
		}
	}
	gate, err := wafgate.New(wafgate.Config{Catalog: a.cat, Engines: waf.NewCache(wafOpts), Secret: secret, Log: log})
	if err != nil {
		return nil, fmt.Errorf("waf gate: %w", err)
	}
	a.gate = gate
	a.metrics = metrics.New()
	a.events = events.New(events.Config{Region: cfg.Region, Node: cfg.Node})
	obs := observers{a.metrics, a.events}
	clientIP, err := realip.New(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("edge config: trusted_proxies%w", err)
	}
	a.trusted = clientIP
	a.blocked = &blocklist.List{}
	var blocklistPath string
	if store != nil {
		blocklistPath = filepath.Join(cfg.DataDir, "blocklist.json")
	}
	a.feed, err = blocklist.NewFeed(blocklist.FeedConfig{List: a.blocked, Static: cfg.BlockCIDRs, Path: blocklistPath, Log: log})
	if err != nil {
		return nil, fmt.Errorf("edge config: block_cidrs%w", err)
	}
	var pullCert *tls.Certificate
	if cfg.OriginPullCert != "" {
		c, err := tls.LoadX509KeyPair(cfg.OriginPullCert, cfg.OriginPullKey)
		if err != nil {
			return nil, fmt.Errorf("edge config: origin_pull_cert: %w", err)
		}
		pullCert = &c
	}
	if !cfg.Cache.Off {
		a.cache, err = cache.New(cache.Config{MaxBytes: cfg.Cache.MaxBytes, MaxObjectBytes: cfg.Cache.MaxObjectBytes,
			DiskDir: cfg.Cache.DiskDir, DiskMaxBytes: cfg.Cache.DiskMaxBytes})
		if err != nil {
			return nil, fmt.Errorf("edge config: cache: %w", err)
		}
	}
	a.handler = proxy.New(proxy.Config{Catalog: a.cat, Log: a.alog, AllowPrivateOrigins: cfg.AllowPrivateOrigins, WAF: gate, Challenges: a.acme, Cache: a.cache,
		ClientIP: clientIP, Limiter: ratelimit.New(ratelimit.Config{MaxKeys: cfg.Limits.RateLimitKeys}), Observer: obs,
		OriginClientCert: pullCert, RedactParams: cfg.LogRedactParams})
	a.front = admission.New(admission.Config{MaxInFlight: cfg.Limits.MaxInFlight, MaxBodyBytes: cfg.Limits.MaxBodyBytes,
		BodyIdleTimeout: time.Duration(cfg.Limits.BodyIdleTimeout),
		Log:             a.alog, Observer: obs}, a.handler)
	a.registerGauges()
	return a, nil
}

// Addr returns the bound address of "http", "https", "admin" or "dns".
func (a *Agent) Addr(name string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.addrs[name]
}

// Start loads the catalog (static file, or disk snapshot then NATS), opens
// the listeners and serves in the background. It returns once every
// listener is bound. NATS being unreachable is not an error: the agent
// serves its snapshot and keeps reconnecting.
func (a *Agent) Start(ctx context.Context) error {
	a.startedAt = time.Now()
	if a.cfg.StaticFile != "" {
		if err := a.cat.LoadStatic(a.cfg.StaticFile); err != nil {
			return err
		}
	} else {
		savedAt, errs, err := a.cat.LoadDisk()
		switch {
		case errors.Is(err, catalog.ErrNoSnapshot):
			a.log.Info("no snapshot on disk; waiting for NATS")
		case err != nil:
			a.log.Error("snapshot unreadable; waiting for NATS", "err", err)
		default:
			sites, certs := a.cat.Load().Len()
			a.log.Info("serving from snapshot", "saved_at", savedAt, "sites", sites, "certs", certs)
		}
		for _, e := range errs {
			a.log.Error("snapshot entry rejected", "err", e)
		}
		if err := a.feed.Load(); err != nil {
			a.log.Error("blocklist snapshot unreadable; waiting for NATS", "err", err)
		} else if n := a.feed.Pushed(); n > 0 {
			a.log.Info("blocking from snapshot", "entries", n)
		}
	}

	// Compile the WAF engines of the sites known so far before serving, so
	// the first requests do not wait for them.
	if err := a.gate.Warm(); err != nil {
		a.log.Error("waf engines", "err", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	a.cancel = cancel
	if err := a.listen(); err != nil {
		cancel()
		a.shutdownServers(context.Background())
		return err
	}
	if a.alog != nil {
		a.goRun(func() {
			a.alog.Run(ctx, time.Second, func(err error) {
				a.log.Error("access log write failed; its lines are counted in rampart_access_log_lost_total", "err", err)
			})
		})
	}
	a.goRun(func() { a.feed.Run(ctx) })
	a.goRun(func() { a.gate.Run(ctx) }) // engines of new and changed sites
	if a.dns != nil {
		a.goRun(func() {
			if err := a.dns.Run(ctx); err != nil {
				a.log.Error("dns", "err", err)
			}
		})
	}
	if a.cfg.StaticFile == "" {
		if err := a.connectNATS(ctx); err != nil {
			cancel()
			a.shutdownServers(context.Background())
			return err
		}
	}
	return nil
}

func (a *Agent) goRun(f func()) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		f()
	}()
}

func (a *Agent) listen() error {
	tlsCfg := tlsedge.Config(a.cat)
	type srv struct {
		name, addr string
		h          http.Handler
		tls        bool
	}
	all := []srv{
		{"http", a.cfg.HTTPAddr, a.front, false},
		{"https", a.cfg.HTTPSAddr, a.front, true},
		{"admin", a.cfg.AdminAddr, a.adminHandler(), false},
	}
	if a.dns != nil {
		if err := a.dns.Listen(); err != nil {
			return err
		}
		a.mu.Lock()
		a.addrs["dns"] = a.dns.Addr()
		a.mu.Unlock()
		a.log.Info("listening", "listener", "dns", "addr", a.dns.Addr(), "zone", a.dns.Zone())
	}
	for _, s := range all {
		if s.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", s.addr)
		if err != nil {
			return fmt.Errorf("listen %s %s: %w", s.name, s.addr, err)
		}
		lim := a.cfg.Limits
		if s.name != "admin" {
			ln = rawsock.Listener{Listener: ln}
			cl := connlimit.New(ln, connlimit.Config{MaxPerAddr: lim.MaxConnsPerIP, Exempt: a.trusted.Trusted, Blocked: a.blocked.Contains})
			a.mu.Lock()
			a.conns = append(a.conns, cl)
			a.mu.Unlock()
			ln = cl
			// Follow HTTP/1.1 framing under the server, which hides an
			// ambiguous request from the handler (see edgeagent/framing).
			if s.tls {
				ln = framing.NewTLSListener(ln, tlsCfg, time.Duration(lim.ReadHeaderTimeout), lim.MaxHeaderBytes)
			} else {
				ln = &framing.Listener{Listener: ln, MaxHeaderBytes: lim.MaxHeaderBytes}
			}
		}
		// Go's server serves the admin listener and HTTP/2 over TLS.
		hs := &http.Server{
			Handler:           s.h,
			ReadHeaderTimeout: time.Duration(lim.ReadHeaderTimeout),
			IdleTimeout:       time.Duration(lim.IdleTimeout),
			MaxHeaderBytes:    lim.MaxHeaderBytes,
			// Go's HTTP/2 server also bounds rapid resets: handlers of reset
			// streams still count against the stream limit until they return.
			HTTP2: &http.HTTP2Config{
				MaxConcurrentStreams: lim.H2MaxConcurrentStreams,
				// A client that stops reading cannot pin a stream's buffers.
				WriteByteTimeout: 30 * time.Second,
				SendPingTimeout:  time.Duration(lim.IdleTimeout) / 2,
			},
			ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
		}
		var srv server = hs
		if s.name != "admin" {
			// The client-facing listeners: HTTP/1.x in the edge's own
			// connection loop (edgeagent/h1); HTTP/2 over TLS in Go's
			// (those connections are *tls.Conn, which framing leaves alone).
			h1s := &h1.Server{
				Handler:           s.h,
				ReadHeaderTimeout: time.Duration(lim.ReadHeaderTimeout),
				IdleTimeout:       time.Duration(lim.IdleTimeout),
				MaxHeaderBytes:    lim.MaxHeaderBytes,
				ConnContext:       framing.ConnContext,
				ConnState:         framing.ConnState,
				Log:               a.log,
			}
			if s.tls {
				// The framing listener terminates TLS; TLSConfig's "h2"
				// turns HTTP/2 on for the connections that negotiated it.
				hs.TLSConfig = tlsCfg
				h1s.H2 = hs
			}
			srv = h1s
		}
		a.mu.Lock()
		a.addrs[s.name] = ln.Addr().String()
		a.servers = append(a.servers, srv)
		a.mu.Unlock()
		a.goRun(func() { serveErr(a.log, s.name, srv.Serve(ln)) })
		a.log.Info("listening", "listener", s.name, "addr", ln.Addr().String())
	}
	return nil
}

// server is a listener's server: net/http's or the edge's HTTP/1.x loop.
type server interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	Close() error
}

func serveErr(log *slog.Logger, name string, err error) {
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("serve", "listener", name, "err", err)
	}
}

func (a *Agent) connectNATS(ctx context.Context) error {
	opts := []nats.Option{
		nats.Name("edgeagent " + a.cfg.Region + "/" + a.cfg.Node),
		nats.UserInfo(a.cfg.NATS.User, a.cfg.NATS.Password),
		nats.CustomInboxPrefix(api.EdgeInbox(a.cfg.Region)),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { a.log.Warn("nats disconnected", "err", err) }),
		nats.ReconnectHandler(func(nc *nats.Conn) { a.log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted()) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { a.log.Error("nats", "err", err) }),
	}
	nc, err := nats.Connect(joinURLs(a.cfg.NATS.URLs), opts...)
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	prefix := a.cfg.NATS.APIPrefix
	if prefix == "none" {
		prefix = ""
	}
	syncer := kvsync.New(kvsync.Config{Conn: nc, Region: a.cfg.Region, Catalog: a.cat, Log: a.log, APIPrefix: prefix, Challenges: a.acme,
		Blocklist: a.feed})
	a.mu.Lock()
	a.nc, a.syncer = nc, syncer
	a.mu.Unlock()
	if a.dns != nil && a.cfg.DNS.Health != geodns.HealthStatic {
		// Every region's heartbeats decide which regions DNS answers with.
		if _, err := nc.Subscribe(api.SubjectHeartbeatPrefix+".>", func(m *nats.Msg) { a.dns.HandleHeartbeat(m.Subject, m.Data) }); err != nil {
			nc.Close()
			return fmt.Errorf("nats: subscribe heartbeats: %w", err)
		}
	}
	a.goRun(func() { syncer.Run(ctx) })
	a.goRun(func() { a.events.Run(ctx, nc.Publish) })
	if a.cache != nil {
		pg := purger.New(purger.Config{Conn: nc, Region: a.cfg.Region, Node: a.cfg.Node, APIPrefix: prefix,
			Apply: a.ApplyPurge, Log: a.log.With("component", "purge"), Synced: a.releaseDisk})
		if a.cache.HasDisk() {
			// Objects kept on disk across a restart are served once the
			// purges issued meanwhile are applied — or, when the region's
			// purges cannot be read, after DiskHoldTimeout.
			a.cache.HoldDisk()
			a.goRun(func() {
				select {
				case <-ctx.Done():
				case <-time.After(DiskHoldTimeout):
					a.releaseDisk()
				}
			})
		}
		a.goRun(func() {
			if err := pg.Run(ctx); err != nil {
				a.log.Error("purge", "err", err)
			}
		})
	}
	a.goRun(func() {
		heartbeat.Run(ctx, nc, a.cfg.Region, a.cfg.Node, time.Duration(a.cfg.HeartbeatInterval), a.heartbeat, a.log)
	})
	return nil
}

func joinURLs(urls []string) string {
	out := ""
	for i, u := range urls {
		if i > 0 {
			out += ","
		}
		out += u
	}
	return out
}

func (a *Agent) heartbeat() api.Heartbeat {
	sites, certs := a.cat.Load().Len()
	cacheTotal, cacheSites := a.handler.CacheCounters()
	return api.Heartbeat{
		Version:   a.cfg.Version,
		Healthy:   a.cat.Loaded(),
		Sites:     sites,
		Certs:     certs,
		InFlight:  a.handler.InFlight(),
		Requests:  a.handler.Requests(),
		HTTPSAddr: a.Addr("https"),
		HTTPAddr:  a.Addr("http"),
		Cache:     cacheTotal,
		SiteCache: cacheSites,
	}
}

// DiskHoldTimeout bounds how long the cache's disk tier waits for the
// region's purges after a start before it serves anyway.
const DiskHoldTimeout = 15 * time.Second

func (a *Agent) releaseDisk() {
	if a.cache != nil && a.diskReleased.CompareAndSwap(false, true) {
		a.cache.ReleaseDisk()
		a.log.Info("cache disk tier serving", "component", "cache")
	}
}

// ApplyPurge removes a purge's objects from this node's cache.
func (a *Agent) ApplyPurge(p api.Purge, before time.Time) int {
	if a.cache == nil {
		return 0
	}
	var sp *cache.SitePolicy
	if s := a.cat.Load().Site(p.Hostname); s != nil {
		sp = s.Cache
	}
	return a.cache.ApplyPurge(p, sp, before)
}

// Status is what /healthz reports.
type Status struct {
	Healthy  bool   `json:"healthy"`
	Region   string `json:"region,omitempty"`
	Node     string `json:"node,omitempty"`
	Sites    int    `json:"sites"`
	Certs    int    `json:"certs"`
	NATS     bool   `json:"nats"`
	Synced   bool   `json:"synced"`
	InFlight int64  `json:"in_flight"`
	Version  string `json:"version,omitempty"`
}

// Status reports the agent's health.
func (a *Agent) Status() Status {
	sites, certs := a.cat.Load().Len()
	st := Status{Healthy: a.cat.Loaded(), Region: a.cfg.Region, Node: a.cfg.Node, Sites: sites, Certs: certs,
		InFlight: a.handler.InFlight(), Version: a.cfg.Version}
	a.mu.Lock()
	if a.nc != nil {
		st.NATS = a.nc.IsConnected()
	}
	if a.syncer != nil {
		st.Synced = a.syncer.Synced()
	}
	a.mu.Unlock()
	return st
}

func (a *Agent) adminHandler() http.Handler {
	mux := http.NewServeMux()
	status := func(w http.ResponseWriter, _ *http.Request) {
		st := a.Status()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if !st.Healthy {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		json.NewEncoder(w).Encode(st)
	}
	mux.Handle("GET /metrics", a.metrics)
	mux.HandleFunc("GET /healthz", status)
	mux.HandleFunc("GET /readyz", status)
	if a.cfg.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// observers hands each finished request to several observers.
type observers []interface{ Observe(*accesslog.Entry) }

func (obs observers) Observe(e *accesslog.Entry) {
	for _, o := range obs {
		o.Observe(e)
	}
}

func (a *Agent) registerGauges() {
	a.metrics.Gauge("rampart_conns_blocked_total", "Connections closed on accept for the blocklist.", "counter",
		func() float64 { b, _ := a.connsRefused(); return float64(b) })
	a.metrics.Gauge("rampart_conns_over_cap_total", "Connections closed on accept for the per-address cap.", "counter",
		func() float64 { _, c := a.connsRefused(); return float64(c) })
	a.metrics.Gauge("rampart_blocklist_entries", "Networks whose connections are closed on accept (block_cidrs and the pushed list).", "gauge",
		func() float64 { return float64(a.blocked.Len()) })
	a.metrics.Gauge("rampart_events_dropped_total", "Notable requests not published on edge.events (over the sampling budget).", "counter",
		func() float64 { return float64(a.events.Dropped()) })
	if a.alog != nil {
		a.metrics.Gauge("rampart_access_log_lost_total", "Access log lines lost: dropped while the log's disk was behind, or in a failed write.", "counter",
			func() float64 { return float64(a.alog.Lost()) })
	}
	a.metrics.Gauge("rampart_in_flight_requests", "Requests being served.", "gauge", func() float64 { return float64(a.front.InFlight()) })
	a.metrics.Gauge("rampart_shed_total", "Requests shed with 503 by the in-flight cap.", "counter", func() float64 { return float64(a.front.Shed()) })
	a.metrics.Gauge("rampart_sites", "Sites in the catalog.", "gauge", func() float64 { s, _ := a.cat.Load().Len(); return float64(s) })
	a.metrics.Gauge("rampart_certs", "Certificates in the catalog.", "gauge", func() float64 { _, c := a.cat.Load().Len(); return float64(c) })
	a.metrics.Gauge("rampart_nats_connected", "1 while the NATS connection is up.", "gauge", func() float64 {
		if a.Status().NATS {
			return 1
		}
		return 0
	})
}

// Blocklist is the list of blocked networks; Set replaces it while serving.
func (a *Agent) Blocklist() *blocklist.List { return a.blocked }

// connsRefused sums the connections the listeners closed: for the
// blocklist and for the per-address cap.
func (a *Agent) connsRefused() (blocked, capped uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, l := range a.conns {
		blocked += l.Blocked()
		capped += l.Refused()
	}
	return blocked, capped
}

// Close stops serving (letting in-flight requests finish, up to a limit),
// stops the NATS sync and flushes the access log.
func (a *Agent) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a.shutdownServers(ctx)
	if a.cancel != nil {
		a.cancel()
	}
	a.mu.Lock()
	nc := a.nc
	a.mu.Unlock()
	if nc != nil {
		nc.Close()
	}
	a.wg.Wait()
	a.handler.Close()
	a.gate.Close()
	var err error
	if a.cache != nil {
		err = a.cache.Close()
	}
	if a.alog != nil {
		err = errors.Join(err, a.alog.Flush())
	}
	if a.logFile != nil {
		err = errors.Join(err, a.logFile.Close())
	}
	if a.wafLog != nil {
		err = errors.Join(err, a.wafLog.Close())
	}
	return err
}

func (a *Agent) shutdownServers(ctx context.Context) {
	a.mu.Lock()
	servers := a.servers
	a.mu.Unlock()
	if a.dns != nil {
		a.dns.Close() // also when Start failed before Run
	}
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Shutdown(ctx); err != nil {
				s.Close()
			}
		}()
	}
	wg.Wait()
}
