// Package natslab boots Rampart's NATS super-cluster in one process, from
// exactly the nats.conf files cloudinit/natsconf renders: one cluster per
// region, gateways between regions, JetStream, the CONTROL/EDGE/SYS accounts.
// The lab and the integration tests run on it.
package natslab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/rampart-edge/rampart/cloudinit/natsconf"
	"github.com/rampart-edge/rampart/controlsvc/api"
	"golang.org/x/crypto/bcrypt"
)

// DefaultNodesPerRegion is the lab's cluster size: enough for routes, gateways
// and a JetStream majority with one region down (4 of 6 servers).
const DefaultNodesPerRegion = 2

// defaultReadyTimeout bounds Start and WaitReady when ctx has no deadline.
const defaultReadyTimeout = 30 * time.Second

// Spec describes the super-cluster to boot.
type Spec struct {
	// Regions, each a cluster; node i (from 1) of region r is named "r-i".
	Regions []string
	// NodesPerRegion defaults to DefaultNodesPerRegion.
	NodesPerRegion int
	// ControlRegion holds the writable buckets; it defaults to Regions[0].
	ControlRegion string
	// Dir receives <node>/nats.conf and <node>/jetstream for every node.
	Dir string
	// Host is where every node listens; it defaults to 127.0.0.1.
	Host string
	// Ports pins a node's ports by node name; a zero port is allocated free.
	Ports map[string]Ports
	// Monitoring enables each node's HTTP monitoring endpoint.
	Monitoring bool
	// Logger, if set, receives every server's log (without debug or trace).
	Logger server.Logger
}

// Ports of one node.
type Ports struct {
	Client, Cluster, Gateway, HTTP int
}

// User is a NATS user name and plain-text password.
type User struct {
	Name, Password string
}

// Net is a running super-cluster.
type Net struct {
	spec   Spec
	creds  natsconf.Credentials
	nodes  map[string]*node
	order  []string // node names, region by region
	mu     sync.Mutex
	closed bool
}

type node struct {
	region   string
	cfg      natsconf.Node
	confPath string
	srv      *server.Server // nil while stopped
}

// Start renders a config for every node of spec, writes it to
// <Dir>/<node>/nats.conf, boots every server from its file and waits until
// every route and gateway is up and JetStream has a meta leader that sees
// every server. On error nothing is left running.
func Start(ctx context.Context, spec Spec) (*Net, error) {
	spec, err := withDefaults(spec)
	if err != nil {
		return nil, err
	}
	// Free ports are found by binding :0 and closing again, so another
	// process (a parallel test package) can take one before the node binds
	// it. With allocated ports, a node that cannot listen means a fresh set.
	for attempt := 1; ; attempt++ {
		n, err := startOnce(ctx, spec)
		if err == nil || len(spec.Ports) > 0 || attempt == 3 || !errors.Is(err, errNotListening) {
			return n, err
		}
	}
}

// errNotListening is a node that did not open its listeners in time.
var errNotListening = errors.New("not listening after 10s (port taken?)")

func startOnce(ctx context.Context, spec Spec) (*Net, error) {
	var err error
	n := &Net{spec: spec, nodes: make(map[string]*node)}
	if n.creds, err = randomCredentials(spec.Regions); err != nil {
		return nil, err
	}
	layout, err := n.layout()
	if err != nil {
		return nil, err
	}
	configs, err := natsconf.Rampart(layout)
	if err != nil {
		return nil, err
	}
	for _, name := range n.order {
		nd := n.nodes[name]
		c := configs[name]
		out, err := c.Render()
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", name, err)
		}
		if err := os.MkdirAll(filepath.Dir(nd.confPath), 0o700); err != nil {
			return nil, err
		}
		// The file holds the route and gateway passwords in plain text.
		if err := os.WriteFile(nd.confPath, out, 0o600); err != nil {
			return nil, err
		}
	}
	for _, name := range n.order {
		if err := n.boot(name); err != nil {
			n.Shutdown()
			return nil, err
		}
	}
	if err := n.WaitReady(ctx); err != nil {
		n.Shutdown()
		return nil, err
	}
	return n, nil
}

func withDefaults(spec Spec) (Spec, error) {
	if len(spec.Regions) == 0 {
		return spec, errors.New("natslab: at least one region is required")
	}
	spec.Regions = slices.Clone(spec.Regions)
	if spec.NodesPerRegion == 0 {
		spec.NodesPerRegion = DefaultNodesPerRegion
	}
	if spec.NodesPerRegion < 1 {
		return spec, fmt.Errorf("natslab: nodes per region: %d is not positive", spec.NodesPerRegion)
	}
	if spec.ControlRegion == "" {
		spec.ControlRegion = spec.Regions[0]
	}
	if spec.Dir == "" {
		return spec, errors.New("natslab: dir is required")
	}
	if spec.Host == "" {
		spec.Host = "127.0.0.1"
	}
	return spec, nil
}

// layout names the nodes, allocates ports and builds the natsconf spec.
func (n *Net) layout() (natsconf.Spec, error) {
	spec := n.spec
	need := 3
	if spec.Monitoring {
		need = 4
	}
	free, err := freePorts(spec.Host, need*len(spec.Regions)*spec.NodesPerRegion)
	if err != nil {
		return natsconf.Spec{}, err
	}
	take := func(fixed int) int {
		if fixed != 0 {
			return fixed
		}
		p := free[0]
		free = free[1:]
		return p
	}
	layout := natsconf.Spec{
		ControlRegion: spec.ControlRegion,
		StoreRoot:     spec.Dir,
		Credentials:   n.creds,
		// The lab's passwords are random and short-lived.
		BcryptCost: bcrypt.MinCost,
	}
	for _, region := range spec.Regions {
		r := natsconf.Region{Name: region}
		for i := 1; i <= spec.NodesPerRegion; i++ {
			name := region + "-" + strconv.Itoa(i)
			fixed := spec.Ports[name]
			nc := natsconf.Node{
				Name:        name,
				Host:        spec.Host,
				ClientPort:  take(fixed.Client),
				ClusterPort: take(fixed.Cluster),
				GatewayPort: take(fixed.Gateway),
			}
			if spec.Monitoring {
				nc.HTTPPort = take(fixed.HTTP)
			}
			r.Nodes = append(r.Nodes, nc)
			n.nodes[name] = &node{region: region, cfg: nc, confPath: filepath.Join(spec.Dir, name, "nats.conf")}
			n.order = append(n.order, name)
		}
		layout.Regions = append(layout.Regions, r)
	}
	return layout, nil
}

// freePorts finds count distinct free ports on host. All listeners stay open
// until every port is found, so no port is handed out twice.
func freePorts(host string, count int) ([]int, error) {
	ports := make([]int, 0, count)
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range count {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, fmt.Errorf("natslab: free port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func randomCredentials(regions []string) (natsconf.Credentials, error) {
	secret := func() (string, error) {
		b := make([]byte, 18)
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("natslab: credentials: %w", err)
		}
		return hex.EncodeToString(b), nil
	}
	var c natsconf.Credentials
	c.RouteUser, c.GatewayUser = "route", "gateway"
	c.EdgePasswords = make(map[string]string, len(regions))
	for _, p := range []*string{&c.ControlPassword, &c.RoutePassword, &c.GatewayPassword, &c.SysPassword} {
		s, err := secret()
		if err != nil {
			return c, err
		}
		*p = s
	}
	for _, r := range regions {
		s, err := secret()
		if err != nil {
			return c, err
		}
		c.EdgePasswords[r] = s
	}
	return c, nil
}

// boot starts the named node from its config file; the caller holds no lock.
func (n *Net) boot(name string) error {
	nd := n.nodes[name]
	opts, err := server.ProcessConfigFile(nd.confPath)
	if err != nil {
		return fmt.Errorf("node %s: %w", name, err)
	}
	// The embedding program owns the signals (the lab stops on Ctrl-C).
	opts.NoSigs = true
	s, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("node %s: %w", name, err)
	}
	if n.spec.Logger != nil {
		s.SetLoggerV2(n.spec.Logger, false, false, false)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		s.WaitForShutdown()
		return fmt.Errorf("node %s: %w", name, errNotListening)
	}
	n.mu.Lock()
	if n.closed {
		// Shutdown ran while this node was booting.
		n.mu.Unlock()
		s.Shutdown()
		s.WaitForShutdown()
		return errors.New("natslab: shut down")
	}
	nd.srv = s
	n.mu.Unlock()
	return nil
}

// WaitReady waits until every running node is routed to every running node
// of its region and gatewayed to every region that has a running node, and a
// JetStream meta leader sees every running server. Without a ctx deadline it
// gives up after 30 s.
func (n *Net) WaitReady(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultReadyTimeout)
		defer cancel()
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for {
		missing := n.notReady()
		if missing != last && n.spec.Logger != nil {
			if missing == "" {
				n.spec.Logger.Noticef("natslab: ready")
			} else {
				n.spec.Logger.Noticef("natslab: waiting: %s", missing)
			}
			last = missing
		}
		if missing == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("natslab: not ready: %s: %w", missing, ctx.Err())
		case <-tick.C:
		}
	}
}

// notReady describes the first readiness condition that does not hold, or
// returns "".
func (n *Net) notReady() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	running := map[string]int{} // region -> running nodes
	var servers []*server.Server
	for _, name := range n.order {
		if nd := n.nodes[name]; nd.srv != nil {
			running[nd.region]++
			servers = append(servers, nd.srv)
		}
	}
	if len(servers) == 0 {
		return "no node is running"
	}
	for _, name := range n.order {
		nd := n.nodes[name]
		if nd.srv == nil {
			continue
		}
		if got, want := nd.srv.NumRemotes(), running[nd.region]-1; got != want {
			return fmt.Sprintf("%s has %d of %d routes", name, got, want)
		}
		if got, want := nd.srv.NumOutboundGateways(), len(running)-1; got != want {
			return fmt.Sprintf("%s has %d of %d outbound gateways", name, got, want)
		}
	}
	var leader *server.Server
	for _, s := range servers {
		if s.JetStreamIsLeader() {
			leader = s
		}
	}
	if leader == nil {
		return "no JetStream meta leader"
	}
	if got := len(leader.JetStreamClusterPeers()); got != len(servers) {
		return fmt.Sprintf("JetStream meta leader %s sees %d of %d servers", leader.Name(), got, len(servers))
	}
	for _, s := range servers {
		if !s.JetStreamIsCurrent() {
			return fmt.Sprintf("%s is not current with the JetStream meta leader", s.Name())
		}
	}
	return ""
}

// Regions lists the regions in spec order.
func (n *Net) Regions() []string { return slices.Clone(n.spec.Regions) }

// ControlRegion is the region that holds the writable buckets.
func (n *Net) ControlRegion() string { return n.spec.ControlRegion }

// Nodes lists the nodes of region, running or not.
func (n *Net) Nodes(region string) []string {
	var names []string
	for _, name := range n.order {
		if n.nodes[name].region == region {
			names = append(names, name)
		}
	}
	return names
}

// Region is the region (the cluster name) node belongs to.
func (n *Net) Region(node string) (string, bool) {
	nd, ok := n.nodes[node]
	if !ok {
		return "", false
	}
	return nd.region, true
}

// ClientURL is where clients reach node.
func (n *Net) ClientURL(node string) string {
	nd, ok := n.nodes[node]
	if !ok {
		return ""
	}
	return natsconf.ClientURL(nd.cfg)
}

// ClientURLs lists the client URLs of every node of region.
func (n *Net) ClientURLs(region string) []string {
	var urls []string
	for _, name := range n.Nodes(region) {
		urls = append(urls, n.ClientURL(name))
	}
	return urls
}

// MonitorURL is node's HTTP monitoring endpoint, or "" without Spec.Monitoring.
func (n *Net) MonitorURL(node string) string {
	nd, ok := n.nodes[node]
	if !ok || nd.cfg.HTTPPort == 0 {
		return ""
	}
	return "http://" + net.JoinHostPort(nd.cfg.Host, strconv.Itoa(nd.cfg.HTTPPort))
}

// ConfigPath is the rendered nats.conf node was booted from.
func (n *Net) ConfigPath(node string) string {
	if nd, ok := n.nodes[node]; ok {
		return nd.confPath
	}
	return ""
}

// Server is node's running server, or nil while it is stopped.
func (n *Net) Server(node string) *server.Server {
	n.mu.Lock()
	defer n.mu.Unlock()
	if nd, ok := n.nodes[node]; ok {
		return nd.srv
	}
	return nil
}

// ControlUser is the control plane's user (account CONTROL).
func (n *Net) ControlUser() User {
	return User{Name: natsconf.ControlUser, Password: n.creds.ControlPassword}
}

// EdgeUser is the user of region's edges (account EDGE).
func (n *Net) EdgeUser(region string) User {
	return User{Name: natsconf.EdgeUser(region), Password: n.creds.EdgePasswords[region]}
}

// Connect connects u to region's nodes. Edge users should pass
// nats.CustomInboxPrefix(api.EdgeInbox(region)); see ConnectEdge.
func (n *Net) Connect(region string, u User, opts ...nats.Option) (*nats.Conn, error) {
	urls := n.ClientURLs(region)
	if len(urls) == 0 {
		return nil, fmt.Errorf("natslab: unknown region %q", region)
	}
	opts = append([]nats.Option{nats.UserInfo(u.Name, u.Password), nats.Name(u.Name)}, opts...)
	nc, err := nats.Connect(strings.Join(urls, ","), opts...)
	if err != nil {
		return nil, fmt.Errorf("natslab: connect %s to %s: %w", u.Name, region, err)
	}
	return nc, nil
}

// ConnectEdge connects region's edge user with the edge inbox prefix.
func (n *Net) ConnectEdge(region string, opts ...nats.Option) (*nats.Conn, error) {
	opts = append([]nats.Option{nats.CustomInboxPrefix(api.EdgeInbox(region))}, opts...)
	return n.Connect(region, n.EdgeUser(region), opts...)
}

// StopNode shuts node down and waits until it has stopped. Its config and
// JetStream store stay for RestartNode.
func (n *Net) StopNode(node string) error {
	n.mu.Lock()
	nd, ok := n.nodes[node]
	if !ok {
		n.mu.Unlock()
		return fmt.Errorf("natslab: unknown node %q", node)
	}
	s := nd.srv
	nd.srv = nil
	n.mu.Unlock()
	if s != nil {
		s.Shutdown()
		s.WaitForShutdown()
	}
	return nil
}

// StopRegion stops every node of region.
func (n *Net) StopRegion(region string) error {
	nodes := n.Nodes(region)
	if len(nodes) == 0 {
		return fmt.Errorf("natslab: unknown region %q", region)
	}
	for _, name := range nodes {
		if err := n.StopNode(name); err != nil {
			return err
		}
	}
	return nil
}

// RestartNode stops node if it runs, boots it again from the same config
// file and JetStream store, and waits until the network is ready.
func (n *Net) RestartNode(ctx context.Context, node string) error {
	if err := n.StopNode(node); err != nil {
		return err
	}
	if err := n.start(node); err != nil {
		return err
	}
	return n.WaitReady(ctx)
}

// start boots a stopped node unless the network was shut down.
func (n *Net) start(node string) error {
	n.mu.Lock()
	closed := n.closed
	n.mu.Unlock()
	if closed {
		return errors.New("natslab: shut down")
	}
	return n.boot(node)
}

// RestartRegion boots every stopped node of region again, from the same
// config files and JetStream stores, and waits until the network is ready.
func (n *Net) RestartRegion(ctx context.Context, region string) error {
	nodes := n.Nodes(region)
	if len(nodes) == 0 {
		return fmt.Errorf("natslab: unknown region %q", region)
	}
	for _, name := range nodes {
		if n.Server(name) != nil {
			continue
		}
		if err := n.start(name); err != nil {
			return err
		}
	}
	return n.WaitReady(ctx)
}

// Shutdown stops every node. It is safe to call more than once.
func (n *Net) Shutdown() {
	n.mu.Lock()
	n.closed = true
	var servers []*server.Server
	for _, name := range n.order {
		if nd := n.nodes[name]; nd.srv != nil {
			servers = append(servers, nd.srv)
			nd.srv = nil
		}
	}
	n.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Go(func() {
			s.Shutdown()
			s.WaitForShutdown()
		})
	}
	wg.Wait()
}
