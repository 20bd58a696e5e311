// Package labnet runs a whole Rampart network in one process on
// 127.0.0.0/8: a NATS super-cluster booted from the rendered nats.conf files
// (natslab), the control service with its lab CA, one edge agent per region
// on its own loopback address, and two demo origins. The lab command and
// the end-to-end tests both use it.
package labnet

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/rampart-edge/rampart/controlsvc"
	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/controlsvc/buckets"
	"github.com/rampart-edge/rampart/edgeagent"
	"github.com/rampart-edge/rampart/edgeagent/geodns"
	"github.com/rampart-edge/rampart/scripts/natslab"
	"github.com/rampart-edge/rampart/scripts/pebblelab"
)

// Config describes the lab.
type Config struct {
	// Dir holds every node's config, stores, snapshots and logs.
	Dir string
	// Regions default to nyc3, ams3 and syd1; the first is the control region.
	Regions        []string
	NodesPerRegion int
	// Ports for the edges (the same port on each edge's own address), the
	// control API and the demo origins; zero picks free ports (tests).
	EdgeHTTP, EdgeHTTPS, EdgeAdmin, ControlAPI, OriginA, OriginB int
	// Logger receives every component's logs; discarded when nil.
	Logger *slog.Logger
	// HeartbeatInterval of the edges; 1s when zero.
	HeartbeatInterval time.Duration
	// EdgeDNS is the GeoDNS port on each edge's own address (UDP and TCP;
	// zero picks free ports). DNSWindow is how long a silent region stays
	// in answers (10s when zero).
	EdgeDNS   int
	DNSWindow time.Duration
	// Pebble issues the certificates through ACME from an in-process
	// Pebble instead of the lab CA. Its validator resolves every name to
	// the edge of the second region (the first when there is one), so
	// HTTP-01 is answered outside the control region.
	Pebble bool
	// PebbleAPI is Pebble's ACME API address; 127.0.0.1:0 when empty.
	PebbleAPI string
	// CertRetryMin and CertRetryMax bound the control service's backoff
	// after a failed issuance (defaults when zero).
	CertRetryMin, CertRetryMax time.Duration
	// Dashboard is the control service's dashboard port (HTTPS on
	// localhost, lab CA certificate); zero picks a free one.
	Dashboard int
}

// DemoHost is the site the lab creates.
const DemoHost = "demo.rampart.test"

// EdgeZone is the zone the edges' GeoDNS servers are authoritative for: a
// site's edge name is its hostname followed by the zone (EdgeName).
const EdgeZone = "edge.rampart.test"

// EdgeName is the name GeoDNS answers for a site's hostname.
func EdgeName(host string) string { return host + "." + EdgeZone + "." }

// ClientSubnet is the client network the lab routes to the i-th region
// (10.<i+1>.0.0/16); send it as EDNS Client Subnet to be placed there.
func ClientSubnet(i int) string { return "10." + strconv.Itoa(i+1) + ".0.0/16" }

// Lab GeoDNS views: clients from StaffSubnet (or the source addresses in
// StaffSources) are "staff" and get the last region, whatever the public
// answer.
const (
	StaffSubnet  = "10.99.0.0/16"
	StaffSources = "127.0.2.0/24"
)

// Lab is a running network.
type Lab struct {
	cfg     Config
	log     *slog.Logger
	Net     *natslab.Net
	Control *controlsvc.Service
	OriginA *DemoOrigin
	OriginB *DemoOrigin
	// Pebble is the ACME CA when Config.Pebble is set.
	Pebble   *pebblelab.Pebble
	sealPriv string

	mu    sync.Mutex
	edges map[string]*Edge
}

// Edge is one region's edge node.
type Edge struct {
	Region, Node string
	// IP is the edge's own loopback address.
	IP    string
	Agent *edgeagent.Agent // nil while stopped
	cfg   edgeagent.Config
}

// EdgeIP is the loopback address of the edge of the i-th region.
func EdgeIP(i int) string { return "127.0.1." + strconv.Itoa(i+1) }

// Start boots the lab and waits until every part is up. On error nothing
// is left running.
func Start(ctx context.Context, cfg Config) (_ *Lab, err error) {
	if len(cfg.Regions) == 0 {
		cfg.Regions = []string{"nyc3", "ams3", "syd1"}
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = time.Second
	}
	if cfg.Dir == "" {
		return nil, errors.New("lab: Dir is required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	l := &Lab{cfg: cfg, log: log, edges: map[string]*Edge{}}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()

	if l.sealPriv, err = loadOrCreateSealKey(filepath.Join(cfg.Dir, "edge-seal.key")); err != nil {
		return nil, err
	}

	if l.OriginA, err = StartDemoOrigin("origin-a", hostPort("127.0.0.1", cfg.OriginA)); err != nil {
		return nil, fmt.Errorf("origin a: %w", err)
	}
	if l.OriginB, err = StartDemoOrigin("origin-b", hostPort("127.0.0.1", cfg.OriginB)); err != nil {
		return nil, fmt.Errorf("origin b: %w", err)
	}

	l.Net, err = natslab.Start(ctx, natslab.Spec{
		Regions: cfg.Regions, NodesPerRegion: cfg.NodesPerRegion, ControlRegion: cfg.Regions[0],
		Dir: filepath.Join(cfg.Dir, "nats"),
	})
	if err != nil {
		return nil, fmt.Errorf("nats: %w", err)
	}
	if !cfg.Pebble {
		if err := l.StartControl(ctx); err != nil {
			return nil, err
		}
	}
	dnsCfg := labDNS(cfg)
	for i, r := range cfg.Regions {
		node := r + "-edge1"
		e := &Edge{Region: r, Node: node, IP: EdgeIP(i)}
		dc := dnsCfg
		dc.Addr = hostPort(e.IP, cfg.EdgeDNS)
		e.cfg = edgeagent.Config{
			Region:    r,
			Node:      node,
			HTTPAddr:  hostPort(e.IP, cfg.EdgeHTTP),
			HTTPSAddr: hostPort(e.IP, cfg.EdgeHTTPS),
			AdminAddr: hostPort(e.IP, cfg.EdgeAdmin),
			NATS: edgeagent.NATS{
				URLs: l.Net.ClientURLs(r), User: l.Net.EdgeUser(r).Name, Password: l.Net.EdgeUser(r).Password,
			},
			SealKey:             l.sealPriv,
			DataDir:             filepath.Join(cfg.Dir, "edges", node),
			AccessLog:           filepath.Join(cfg.Dir, "edges", node, "access.log"),
			AllowPrivateOrigins: true,
			HeartbeatInterval:   edgeagent.Duration(cfg.HeartbeatInterval),
			// A disk tier, so cached objects outlive an edge restart (and
			// the purges issued meanwhile must reach them).
			Cache:   edgeagent.CacheConfig{DiskDir: filepath.Join(cfg.Dir, "edges", node, "cache"), DiskMaxBytes: 256 << 20},
			Version: "lab",
			DNS:     &dc,
		}
		l.edges[r] = e
		if err := l.StartEdge(ctx, r); err != nil {
			return nil, err
		}
	}
	if cfg.Pebble {
		// The edges start first: Pebble must know the port it validates on.
		e := l.Edges()[min(1, len(cfg.Regions)-1)]
		_, port, _ := net.SplitHostPort(e.Agent.Addr("http"))
		p, _ := strconv.Atoi(port)
		if l.Pebble, err = pebblelab.Start(pebblelab.Config{APIAddr: cfg.PebbleAPI, HTTPPort: p, EdgeIP: e.IP}); err != nil {
			return nil, err
		}
		if err := l.StartControl(ctx); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func hostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// labDNS is the GeoDNS configuration every lab edge shares: one nameserver
// per edge, regions whose addresses come from heartbeats, the client
// subnets of ClientSubnet, loopback clients to the first region, and the
// staff view.
func labDNS(cfg Config) geodns.Config {
	dc := geodns.Config{Zone: EdgeZone, Window: geodns.Duration(cfg.DNSWindow)}
	for i, r := range cfg.Regions {
		dc.Nameservers = append(dc.Nameservers, geodns.Nameserver{Name: "ns" + strconv.Itoa(i+1) + "." + EdgeZone, Addrs: []string{EdgeIP(i)}})
		dc.Regions = append(dc.Regions, geodns.Region{Name: r})
		dc.Routes = append(dc.Routes, geodns.Route{CIDR: ClientSubnet(i), Regions: []string{r}})
	}
	dc.Routes = append(dc.Routes, geodns.Route{CIDR: "127.0.0.0/8", Regions: []string{cfg.Regions[0]}})
	dc.Views = []geodns.View{{Name: "staff", Sources: []string{StaffSubnet, StaffSources}, Regions: []string{cfg.Regions[len(cfg.Regions)-1]}}}
	return dc
}

// StartControl starts (or restarts) the control service.
func (l *Lab) StartControl(ctx context.Context) error {
	cr := l.cfg.Regions[0]
	pub, _ := api.ParseSealKey(l.sealPriv)
	svc, err := controlsvc.New(controlsvc.Config{
		NATSURLs:          l.Net.ClientURLs(cr),
		NATSUser:          l.Net.ControlUser().Name,
		NATSPassword:      l.Net.ControlUser().Password,
		DataDir:           filepath.Join(l.cfg.Dir, "control"),
		AdminAddr:         hostPort("127.0.0.1", l.cfg.ControlAPI),
		EdgeSealPublicKey: base64.StdEncoding.EncodeToString(pub.PublicKey().Bytes()),
		Buckets:           buckets.Layout{ControlRegion: cr, Regions: l.cfg.Regions, Replicas: 1},
		ACME:              l.acmeConfig(),
		Onboarding:        l.onboardingConfig(),
		CertRetryMin:      l.cfg.CertRetryMin,
		CertRetryMax:      l.cfg.CertRetryMax,
		DashboardAddr:     hostPort("127.0.0.1", l.cfg.Dashboard),
		DNSCheck:          l.dnsCheckConfig(),
		Logger:            l.log.With("component", "controlsvc"),
	})
	if err != nil {
		return fmt.Errorf("controlsvc: %w", err)
	}
	if err := svc.Start(ctx); err != nil {
		return fmt.Errorf("controlsvc: %w", err)
	}
	l.Control = svc
	return nil
}

// acmeConfig points the control service at Pebble, or is nil (lab CA).
func (l *Lab) acmeConfig() *controlsvc.ACMEConfig {
	if l.Pebble == nil {
		return nil
	}
	return &controlsvc.ACMEConfig{DirectoryURL: l.Pebble.DirectoryURL(), Email: "lab@rampart.test", CARootsPEM: l.Pebble.APICertPEM()}
}

// onboardingConfig makes the control service check, with Pebble's DNS
// server, that a hostname resolves to an edge before ordering; nil
// without Pebble (the lab CA issues for any name).
func (l *Lab) onboardingConfig() *controlsvc.OnboardingConfig {
	if l.Pebble == nil {
		return nil
	}
	o := &controlsvc.OnboardingConfig{EdgeZone: EdgeZone, Resolver: l.Pebble.DNSAddr()}
	for i := range l.cfg.Regions {
		o.EdgeIPs = append(o.EdgeIPs, EdgeIP(i))
	}
	return o
}

// dnsCheckConfig lets the dashboard show each site's CNAME to the edge
// zone and whether the system resolver sees it (lab names are not in any
// public zone, so "not seen" unless Pebble's DNS answers, with -pebble).
func (l *Lab) dnsCheckConfig() *controlsvc.OnboardingConfig {
	o := &controlsvc.OnboardingConfig{EdgeZone: EdgeZone}
	for i := range l.cfg.Regions {
		o.EdgeIPs = append(o.EdgeIPs, EdgeIP(i))
	}
	return o
}

// RootPEM is the root that edge certificates chain to: Pebble's, or the lab CA.
func (l *Lab) RootPEM() []byte {
	if l.Pebble != nil {
		return l.Pebble.RootPEM()
	}
	return l.Control.CACertPEM()
}

// Edges returns the edges in region order.
func (l *Lab) Edges() []*Edge {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]*Edge, 0, len(l.edges))
	for _, r := range l.cfg.Regions {
		out = append(out, l.edges[r])
	}
	return out
}

// Edge returns the edge of region.
func (l *Lab) Edge(region string) *Edge {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.edges[region]
}

// StartEdge starts the edge of region (again), with the same data dir.
func (l *Lab) StartEdge(ctx context.Context, region string) error {
	e := l.Edge(region)
	if e == nil {
		return fmt.Errorf("no region %q", region)
	}
	if e.Agent != nil {
		return fmt.Errorf("edge %s is running", e.Node)
	}
	a, err := edgeagent.New(e.cfg, l.log.With("component", "edgeagent", "node", e.Node))
	if err != nil {
		return fmt.Errorf("edge %s: %w", e.Node, err)
	}
	if err := a.Start(ctx); err != nil {
		return fmt.Errorf("edge %s: %w", e.Node, err)
	}
	l.mu.Lock()
	e.Agent = a
	l.mu.Unlock()
	return nil
}

// StopEdge stops the edge of region.
func (l *Lab) StopEdge(region string) error {
	e := l.Edge(region)
	l.mu.Lock()
	a := e.Agent
	e.Agent = nil
	l.mu.Unlock()
	if a == nil {
		return nil
	}
	return a.Close()
}

// StopControlRegion stops the control service and every NATS node of the
// control region: what losing the control region looks like to the rest.
func (l *Lab) StopControlRegion() error {
	var err error
	if l.Control != nil {
		err = l.Control.Close()
		l.Control = nil
	}
	return errors.Join(err, l.Net.StopRegion(l.cfg.Regions[0]))
}

// Close stops everything.
func (l *Lab) Close() {
	for _, e := range l.Edges() {
		if e != nil {
			l.StopEdge(e.Region)
		}
	}
	if l.Control != nil {
		l.Control.Close()
		l.Control = nil
	}
	if l.Pebble != nil {
		l.Pebble.Close()
	}
	if l.Net != nil {
		l.Net.Shutdown()
	}
	for _, o := range []*DemoOrigin{l.OriginA, l.OriginB} {
		if o != nil {
			o.Close()
		}
	}
}

// APIURL is the control service's admin API base URL.
func (l *Lab) APIURL() string { return "http://" + l.Control.Addr() }

// API calls the admin API: method, path under /api/v1, a JSON body (nil for
// none). It returns the status and body.
func (l *Lab) API(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, l.APIURL()+"/api/v1"+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+l.Control.Token())
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// DemoSite is the site the lab creates at start.
func (l *Lab) DemoSite() api.Site {
	return api.Site{V: api.Version, Hostname: DemoHost, Origins: []api.Origin{{URL: l.OriginA.URL()}},
		HTTPS: api.HTTPSPolicy{HSTSMaxAge: 300}}
}

// CreateDemoSite creates the demo site through the admin API, or leaves it
// as it is when it exists.
func (l *Lab) CreateDemoSite(ctx context.Context) error {
	status, body, err := l.API(ctx, "POST", "/sites", l.DemoSite())
	if err != nil {
		return err
	}
	if status != http.StatusCreated && status != http.StatusConflict {
		return fmt.Errorf("create demo site: %d %s", status, body)
	}
	return nil
}

// WriteCACert writes the root that edge certificates chain to (RootPEM) to
// Dir/lab-ca.pem, or Dir/pebble-root.pem with Pebble, and returns the path.
func (l *Lab) WriteCACert() (string, error) {
	p := filepath.Join(l.cfg.Dir, "lab-ca.pem")
	if l.Pebble != nil {
		p = filepath.Join(l.cfg.Dir, "pebble-root.pem")
	}
	return p, os.WriteFile(p, l.RootPEM(), 0o644)
}

// loadOrCreateSealKey keeps the edges' seal key across lab restarts, so the
// certificates in the KV store and the edges' snapshots stay readable.
func loadOrCreateSealKey(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		k := string(bytes.TrimSpace(b))
		if _, err := api.ParseSealKey(k); err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
		return k, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	key, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	k := base64.StdEncoding.EncodeToString(key.Bytes())
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	return k, os.WriteFile(path, []byte(k+"\n"), 0o600)
}
