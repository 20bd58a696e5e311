// Package wafgate is the edge's WAF step: it finds the engine for a site's
// policy (compiled once per distinct policy by the waf module and shared),
// inspects each request before the origin is contacted and carries out the
// policy's action — a 403 page, a proof-of-work challenge or a tarpit — or,
// in detect mode, only logs what it would have done.
package wafgate

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/rampart-edge/rampart/edgeagent/catalog"
	"github.com/rampart-edge/rampart/edgeagent/proxy"
	"github.com/rampart-edge/rampart/waf"
)

// Values of the access log's waf_action.
const (
	ActPass      = "pass"      // inspected, nothing over the threshold
	ActLog       = "log"       // detect mode: would have been rejected, was not
	ActBlock     = "block"     // 403 page
	ActChallenge = "challenge" // challenge page
	ActTarpit    = "tarpit"    // held, then 403
	ActCleared   = "cleared"   // over the threshold, but the client holds a solved challenge
	ActAllowlist = "allowlist" // client on the allow list: not inspected
	ActTooLarge  = "too_large" // body over the limit, policy denies
	ActUnready   = "unready"   // the site's engine could not be compiled: fail closed
)

// Config configures a Gate.
type Config struct {
	Catalog *catalog.Catalog
	// Engines compiles and shares engines; nil means a fresh cache.
	Engines *waf.Cache
	// Secret keys the challenge tokens; empty means a random one per process
	// (tokens then do not survive a restart or move between edges).
	Secret []byte
	// MaxTarpits bounds requests held at once; past it a tarpit answers at
	// once. 0 means 512.
	MaxTarpits int
	// MaxInspections bounds requests inspected at once; the rest wait their
	// turn. Inspection is CPU-bound and a CRS transaction over a JSON body
	// holds megabytes, so running more than the CPUs can serve only adds
	// memory and GC work. 0 means 2 × GOMAXPROCS.
	MaxInspections int
	Log            *slog.Logger
}

// Gate implements proxy.WAF.
type Gate struct {
	cfg     Config
	tarpits chan struct{}
	inspect chan struct{} // inspection slots

	mu    sync.Mutex
	hosts map[string]*hostEngine // the engine each host last used
	wg    sync.WaitGroup         // background compiles
	now   func() time.Time
}

type hostEngine struct {
	site     *catalog.Site // the version of the site the engine was built for
	e        *waf.Engine
	err      error
	swapping bool // a compile for a newer version is under way (g.mu)
}

var _ proxy.WAF = (*Gate)(nil)

// New returns a gate; it starts nothing.
func New(cfg Config) (*Gate, error) {
	if cfg.Engines == nil {
		cfg.Engines = waf.NewCache(waf.Options{})
	}
	if cfg.MaxTarpits == 0 {
		cfg.MaxTarpits = 512
	}
	if cfg.MaxInspections == 0 {
		cfg.MaxInspections = 2 * runtime.GOMAXPROCS(0)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if len(cfg.Secret) == 0 {
		cfg.Secret = make([]byte, 32)
		if _, err := rand.Read(cfg.Secret); err != nil {
			return nil, err
		}
	}
	return &Gate{cfg: cfg, tarpits: make(chan struct{}, cfg.MaxTarpits), inspect: make(chan struct{}, cfg.MaxInspections),
		hosts: map[string]*hostEngine{}, now: time.Now}, nil
}

// Warm compiles the engine of every site in the catalog, so the first
// requests do not wait. It returns the sites whose policy would not compile.
func (g *Gate) Warm() error { return g.prepare() }

// Run compiles, until ctx ends, the engine of every site that is added or
// whose policy changes, as soon as the catalog has it: a new site's first
// request does not wait for its engine, and a changed policy (detect to
// block during an incident) is enforced without waiting for a request to
// start its compilation. Requests keep the previous engine meanwhile, as
// without Run.
func (g *Gate) Run(ctx context.Context) {
	for {
		changed := g.cfg.Catalog.Changed()
		g.prepare()
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// prepare compiles the engines of the catalog's sites that have none for
// their current version, or whose last compile failed (as engine retries
// it), and returns those compile errors (compile logs them too).
func (g *Gate) prepare() error {
	snap := g.cfg.Catalog.Load()
	var errs []error
	for _, h := range snap.Hostnames() {
		s := snap.Site(h)
		if s == nil {
			continue
		}
		g.mu.Lock()
		he := g.hosts[h]
		g.mu.Unlock()
		if he == nil || he.site != s || he.err != nil {
			if he = g.compile(h, s); he.err != nil {
				errs = append(errs, he.err)
			}
		}
	}
	return errors.Join(errs...)
}

// Close waits for background compiles.
func (g *Gate) Close() { g.wg.Wait() }

// engine returns the engine for site. When the site changed, the new
// policy's engine is compiled in the background while requests keep using
// the previous one, so a policy change never stalls or drops requests; a
// host seen for the first time waits for its engine.
func (g *Gate) engine(host string, site *catalog.Site) (*waf.Engine, error) {
	g.mu.Lock()
	he := g.hosts[host]
	g.mu.Unlock()
	switch {
	case he != nil && he.site == site:
		return he.e, he.err
	case he == nil || he.err != nil:
		he = g.compile(host, site)
		return he.e, he.err
	default:
		g.mu.Lock()
		if !he.swapping {
			he.swapping = true
			g.wg.Add(1)
			go func() {
				defer g.wg.Done()
				g.compile(host, site)
			}()
		}
		g.mu.Unlock()
		return he.e, he.err
	}
}

// compile gets the engine for site's policy and, unless a newer version of
// the site arrived meanwhile, makes it the host's engine.
func (g *Gate) compile(host string, site *catalog.Site) *hostEngine {
	e, err := g.cfg.Engines.Get(site.WAF)
	if err != nil {
		err = fmt.Errorf("waf policy of %q: %w", host, err)
		g.cfg.Log.Error("waf engine", "site", host, "err", err)
	}
	he := &hostEngine{site: site, e: e, err: err}
	snap := g.cfg.Catalog.Load()
	g.mu.Lock()
	if cur := snap.Site(host); cur == nil || cur == site || g.hosts[host] == nil {
		g.hosts[host] = he
	}
	for h := range g.hosts {
		if snap.Site(h) == nil {
			delete(g.hosts, h)
		}
	}
	g.mu.Unlock()
	if g.cfg.Engines.Len() > len(g.hosts) {
		live := map[string]bool{}
		for _, h := range snap.Hostnames() {
			if s := snap.Site(h); s != nil {
				live[waf.Key(s.WAF)] = true
			}
		}
		g.cfg.Engines.Prune(func(k string) bool { return live[k] })
	}
	return he
}
