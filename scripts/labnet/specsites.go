package labnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/spec"
)

// Hostnames of the sites that the lab's edge specs (specs/lab) check
// besides the demo site.
const (
	StrictHost = "strict.rampart.test" // TLS 1.3 only
	StaticHost = "static.rampart.test" // cacheable origin, edge cache rules
	WAFHost    = "waf.rampart.test"    // WAF in block mode
	LimitsHost = "limits.rampart.test" // rate limit per API key
)

// SpecSites are the sites specs/lab/features.yaml and cache.yaml check:
// proxied to origin (the demo origin) and static (a StaticOrigin).
func SpecSites(origin, static string) []api.Site {
	site := func(host, url string) api.Site {
		return api.Site{V: api.Version, Hostname: host, Origins: []api.Origin{{URL: url}}}
	}
	strict := site(StrictHost, origin)
	strict.HTTPS.MinTLS = "1.3"
	st := site(StaticHost, static)
	st.Cache.Rules = []api.CacheRule{
		{Path: "/swr/*", Action: api.CacheAggressive, TTL: "1s", StaleWhileRevalidate: "30s"},
		{Path: "/*", Action: api.CacheAggressive, TTL: "1m"},
	}
	waf := site(WAFHost, origin)
	waf.WAF.Mode = "block"
	limits := site(LimitsHost, origin)
	limits.RateLimit.Rules = []api.RateLimitRule{{Name: "api", Path: "/api/*", Key: "header", KeyName: "X-Api-Key", Rate: 5, Period: "1m"}}
	return []api.Site{strict, st, waf, limits}
}

// CreateSites creates sites through the admin API (an existing one is left
// as it is).
func (l *Lab) CreateSites(ctx context.Context, sites ...api.Site) error {
	for _, s := range sites {
		status, body, err := l.API(ctx, "POST", "/sites", s)
		if err != nil {
			return err
		}
		if status != http.StatusCreated && status != http.StatusConflict {
			return fmt.Errorf("create %s: %d %s", s.Hostname, status, body)
		}
	}
	return nil
}

// Targets describes every running edge for `edgectl spec run --targets`.
func (l *Lab) Targets() *spec.Targets {
	t := &spec.Targets{CAFile: "lab-ca.pem", Regions: map[string]spec.Target{}}
	if l.Pebble != nil {
		t.CAFile = "pebble-root.pem"
	}
	for _, e := range l.Edges() {
		if e == nil || e.Agent == nil {
			continue
		}
		t.Regions[e.Region] = spec.Target{HTTP: e.Agent.Addr("http"), HTTPS: e.Agent.Addr("https"), DNS: e.Agent.Addr("dns")}
		t.Order = append(t.Order, e.Region)
	}
	return t
}

// WriteTargets writes Targets to Dir/targets.yaml (next to the CA file
// WriteCACert writes) and returns the path.
func (l *Lab) WriteTargets() (string, error) {
	p := filepath.Join(l.cfg.Dir, "targets.yaml")
	return p, l.Targets().Write(p)
}

// StaticOrigin is an origin whose answers carry cache headers by path:
// /public/* "public, max-age=60", /private/* "private, max-age=60",
// /swr/* "public, max-age=1"; others none. Every body names how many
// requests the origin has answered, so a cached answer shows.
type StaticOrigin struct {
	srv  *http.Server
	addr string
	n    atomic.Int64
}

// StartStaticOrigin listens on addr (host:port, port 0 for a free one).
func StartStaticOrigin(addr string) (*StaticOrigin, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	o := &StaticOrigin{addr: ln.Addr().String()}
	o.srv = &http.Server{Handler: o, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := o.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			panic(err)
		}
	}()
	return o, nil
}

// URL is the origin's base URL.
func (o *StaticOrigin) URL() string { return "http://" + o.addr }

// Requests is how many requests the origin has answered.
func (o *StaticOrigin) Requests() int64 { return o.n.Load() }

func (o *StaticOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := o.n.Add(1)
	switch {
	case strings.HasPrefix(r.URL.Path, "/public/"):
		w.Header().Set("Cache-Control", "public, max-age=60")
	case strings.HasPrefix(r.URL.Path, "/private/"):
		w.Header().Set("Cache-Control", "private, max-age=60")
	case strings.HasPrefix(r.URL.Path, "/swr/"):
		w.Header().Set("Cache-Control", "public, max-age=1")
	}
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "static %s, origin request %d\n", r.URL.Path, n)
}

// Close stops the origin.
func (o *StaticOrigin) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return o.srv.Shutdown(ctx)
}
