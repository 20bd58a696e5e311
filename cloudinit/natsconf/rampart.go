package natsconf

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"golang.org/x/crypto/bcrypt"
)

// Users of Rampart's accounts. Edge users are named per region (EdgeUser).
const (
	// ControlUser is the control plane's user in the CONTROL account.
	ControlUser = "control"
	// SysUser is the operator's user in the system account.
	SysUser = "sys"
)

// EdgeUser is the user the edges of region connect as, in the EDGE account.
func EdgeUser(region string) string { return "edge-" + region }

// Spec describes Rampart's NATS super-cluster: one cluster per region, every
// region gatewayed to every other, the same accounts on every server.
type Spec struct {
	// Regions in render order; each becomes a cluster and a gateway.
	Regions []Region
	// ControlRegion is the region whose cluster holds the writable buckets.
	ControlRegion string
	// StoreRoot is the directory under which each node keeps its JetStream
	// store, in a sub-directory named after the node.
	StoreRoot string
	// MaxMemoryStore and MaxFileStore cap JetStream per server; 0 lets the server choose.
	MaxMemoryStore int64
	MaxFileStore   int64
	// Credentials are plain text; client passwords are bcrypt-hashed.
	Credentials Credentials
	// BcryptCost for client password hashes; 0 means bcrypt.DefaultCost.
	BcryptCost int
	// Hash, if set, replaces HashPassword for client passwords. field names
	// the credential ("control_password", "edge_passwords.<region>",
	// "sys_password"). bcrypt salts at random, so two renders of the same spec
	// differ; a deployment tool that must see no diff on a re-run passes hashes
	// it keeps in its state (see HashesFrom).
	Hash func(field, password string) (string, error)
	// ClientTLS, ClusterTLS and GatewayTLS, if set, are rendered on every node.
	ClientTLS, ClusterTLS, GatewayTLS *TLS
}

// Region is one cluster of the super-cluster.
type Region struct {
	Name  string
	Nodes []Node
}

// Node is one nats-server. Host is both where it listens and where its peers
// reach it (the node's WireGuard address in production, loopback in the lab).
type Node struct {
	Name        string
	Host        string
	ClientPort  int
	ClusterPort int
	GatewayPort int
	// HTTPPort, if not 0, enables the monitoring endpoint on Host.
	HTTPPort int
}

// Credentials for the super-cluster, all plain text.
type Credentials struct {
	// ControlPassword is ControlUser's password.
	ControlPassword string
	// EdgePasswords maps each region to the password of EdgeUser(region).
	EdgePasswords map[string]string
	// RouteUser and RoutePassword authenticate routes inside a cluster.
	RouteUser, RoutePassword string
	// GatewayUser and GatewayPassword authenticate gateways between clusters.
	GatewayUser, GatewayPassword string
	// SysPassword is SysUser's password.
	SysPassword string
}

// Validate checks the spec, naming the first bad field.
func (s *Spec) Validate() error {
	if len(s.Regions) == 0 {
		return errors.New("regions: at least one region is required")
	}
	if err := api.ValidateRegion(s.ControlRegion); err != nil {
		return fieldErr("control_region", err)
	}
	regions := make(map[string]bool, len(s.Regions))
	nodes := make(map[string]bool)
	for i, r := range s.Regions {
		path := fmt.Sprintf("regions[%d]", i)
		if err := api.ValidateRegion(r.Name); err != nil {
			return fieldErr(path+".name", err)
		}
		if regions[r.Name] {
			return fieldErr(path+".name", fmt.Errorf("duplicate region %q", r.Name))
		}
		regions[r.Name] = true
		if len(r.Nodes) == 0 {
			return fieldErr(path+".nodes", errors.New("at least one node is required"))
		}
		for j, n := range r.Nodes {
			npath := fmt.Sprintf("%s.nodes[%d]", path, j)
			if err := api.ValidateNode(n.Name); err != nil {
				return fieldErr(npath+".name", err)
			}
			if nodes[n.Name] {
				return fieldErr(npath+".name", fmt.Errorf("duplicate node %q", n.Name))
			}
			nodes[n.Name] = true
			if n.Host == "" {
				return fieldErr(npath+".host", errors.New("required"))
			}
			ports := []struct {
				field string
				port  int
			}{{"client_port", n.ClientPort}, {"cluster_port", n.ClusterPort}, {"gateway_port", n.GatewayPort}}
			for _, p := range ports {
				if p.port < 1 || p.port > 65535 {
					return fieldErr(npath+"."+p.field, fmt.Errorf("%d is not in 1-65535", p.port))
				}
			}
			if n.HTTPPort < 0 || n.HTTPPort > 65535 {
				return fieldErr(npath+".http_port", fmt.Errorf("%d is not in 0-65535", n.HTTPPort))
			}
		}
		if s.Credentials.EdgePasswords[r.Name] == "" {
			return fieldErr("credentials.edge_passwords."+r.Name, errors.New("required"))
		}
	}
	if len(nodes) < 2 {
		// A clustered JetStream server waits for a route, gateway or leaf
		// node before its meta group starts, so a lone server never serves.
		return errors.New("regions: JetStream runs clustered and needs at least 2 servers in all")
	}
	if !regions[s.ControlRegion] {
		return fieldErr("control_region", fmt.Errorf("%q is not one of the regions", s.ControlRegion))
	}
	if s.StoreRoot == "" {
		return fieldErr("store_root", errors.New("required"))
	}
	c := s.Credentials
	secrets := []struct{ field, value string }{
		{"control_password", c.ControlPassword},
		{"route_user", c.RouteUser},
		{"route_password", c.RoutePassword},
		{"gateway_user", c.GatewayUser},
		{"gateway_password", c.GatewayPassword},
		{"sys_password", c.SysPassword},
	}
	for _, f := range secrets {
		if f.value == "" {
			return fieldErr("credentials."+f.field, errors.New("required"))
		}
	}
	if s.BcryptCost != 0 && (s.BcryptCost < bcrypt.MinCost || s.BcryptCost > bcrypt.MaxCost) {
		return fieldErr("bcrypt_cost", fmt.Errorf("%d is not in %d-%d", s.BcryptCost, bcrypt.MinCost, bcrypt.MaxCost))
	}
	return nil
}

// Rampart builds the configuration of every node in spec, keyed by node name.
// Client passwords are hashed once, so every node carries the same hashes.
//
// Route and gateway passwords stay plain text: the soliciting side needs them
// in its URLs in the same file anyway, and nats-server falls back to the
// authorization password when it connects to routes and gateways it learned
// by gossip, which a hash would break.
func Rampart(spec Spec) (map[string]Config, error) {
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("nats spec: %w", err)
	}
	accounts, err := rampartAccounts(spec)
	if err != nil {
		return nil, err
	}
	creds := spec.Credentials
	var gateways []RemoteGateway
	for _, r := range spec.Regions {
		rg := RemoteGateway{Name: r.Name}
		for _, n := range r.Nodes {
			rg.URLs = append(rg.URLs, GatewayURL(n.Host, n.GatewayPort, creds.GatewayUser, creds.GatewayPassword))
		}
		gateways = append(gateways, rg)
	}
	configs := make(map[string]Config)
	for _, r := range spec.Regions {
		// Every node routes to every node of its region, itself included: the
		// server skips a route to itself, and JetStream refuses to start
		// clustered without configured routes, even in a one-node region.
		var routes []string
		for _, peer := range r.Nodes {
			routes = append(routes, RouteURL(peer.Host, peer.ClusterPort, creds.RouteUser, creds.RoutePassword))
		}
		for _, n := range r.Nodes {
			c := Config{
				ServerName: n.Name,
				Listen:     HostPort{Host: n.Host, Port: n.ClientPort},
				TLS:        spec.ClientTLS,
				Cluster: &Cluster{
					Name:          r.Name,
					Listen:        HostPort{Host: n.Host, Port: n.ClusterPort},
					Routes:        routes,
					Authorization: &Authorization{User: creds.RouteUser, Password: creds.RoutePassword},
					TLS:           spec.ClusterTLS,
				},
				Gateway: &Gateway{
					Name:          r.Name,
					Listen:        HostPort{Host: n.Host, Port: n.GatewayPort},
					Authorization: &Authorization{User: creds.GatewayUser, Password: creds.GatewayPassword},
					TLS:           spec.GatewayTLS,
					Gateways:      gateways,
				},
				JetStream: &JetStream{
					StoreDir:       filepath.Join(spec.StoreRoot, n.Name),
					MaxMemoryStore: spec.MaxMemoryStore,
					MaxFileStore:   spec.MaxFileStore,
				},
				Accounts:      accounts,
				SystemAccount: api.AccountSystem,
			}
			if n.HTTPPort != 0 {
				c.HTTP = &HostPort{Host: n.Host, Port: n.HTTPPort}
			}
			if err := c.Validate(); err != nil {
				return nil, fmt.Errorf("node %s: %w", n.Name, err)
			}
			configs[n.Name] = c
		}
	}
	return configs, nil
}

// rampartAccounts lays out the accounts. CONTROL owns JetStream and exports
// its API to EDGE (reachable there under api.EdgeJSAPIPrefix), plus the edge
// inbox prefix so that consumers in CONTROL can deliver to edge inboxes. EDGE
// exports heartbeats, events and the purge service to CONTROL.
func rampartAccounts(spec Spec) ([]Account, error) {
	hash := func(field, password string) (string, error) {
		var h string
		var err error
		if spec.Hash != nil {
			h, err = spec.Hash(field, password)
		} else {
			h, err = HashPassword(password, spec.BcryptCost)
		}
		if err != nil {
			return "", fmt.Errorf("credentials.%s: %w", field, err)
		}
		return h, nil
	}
	controlHash, err := hash("control_password", spec.Credentials.ControlPassword)
	if err != nil {
		return nil, err
	}
	sysHash, err := hash("sys_password", spec.Credentials.SysPassword)
	if err != nil {
		return nil, err
	}
	edgeInbox := api.EdgeInboxPrefix + ".>"
	hb := api.SubjectHeartbeatPrefix + ".>"
	events := api.SubjectEventsPrefix + ".>"

	control := Account{
		Name:      api.AccountControl,
		JetStream: true,
		Users:     []User{{User: ControlUser, Password: controlHash}},
		Exports: []Export{
			ServiceExport("$JS.API.>", ResponseStream),
			ServiceExport("$JS.FC.>", ""),
			StreamExport(edgeInbox),
		},
		Imports: []Import{
			StreamImport(api.AccountEdge, hb),
			StreamImport(api.AccountEdge, events),
			ServiceImport(api.AccountEdge, api.SubjectPurge, ""),
		},
	}
	edge := Account{
		Name: api.AccountEdge,
		Exports: []Export{
			StreamExport(hb),
			StreamExport(events),
			// One purge request is answered by every edge.
			ServiceExport(api.SubjectPurge, ResponseStream),
		},
		Imports: []Import{
			ServiceImport(api.AccountControl, "$JS.API.>", api.EdgeJSAPIPrefix+".>"),
			ServiceImport(api.AccountControl, "$JS.FC.>", ""),
			StreamImport(api.AccountControl, edgeInbox),
		},
	}
	for _, r := range spec.Regions {
		h, err := hash("edge_passwords."+r.Name, spec.Credentials.EdgePasswords[r.Name])
		if err != nil {
			return nil, err
		}
		edge.Users = append(edge.Users, User{
			User:     EdgeUser(r.Name),
			Password: h,
			Permissions: &Permissions{
				Publish:        SubjectPermission{Allow: api.EdgePublishAllow(r.Name)},
				Subscribe:      SubjectPermission{Allow: api.EdgeSubscribeAllow(r.Name)},
				AllowResponses: &ResponsePermission{},
			},
		})
	}
	sys := Account{
		Name:  api.AccountSystem,
		Users: []User{{User: SysUser, Password: sysHash}},
	}
	return []Account{control, edge, sys}, nil
}

// HashPassword bcrypt-hashes a client password for a User; cost 0 means
// bcrypt.DefaultCost.
func HashPassword(password string, cost int) (string, error) {
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", fmt.Errorf("bcrypt: %w", err)
	}
	return string(h), nil
}

// HashesFrom is a Spec.Hash that returns precomputed hashes keyed by field,
// for example bcrypt hashes a deployment tool generated once and keeps. A
// field without a hash is an error, so a new credential is never rendered
// unhashed.
func HashesFrom(hashes map[string]string) func(field, password string) (string, error) {
	return func(field, _ string) (string, error) {
		h, ok := hashes[field]
		if !ok || h == "" {
			return "", errors.New("no precomputed hash")
		}
		if !strings.HasPrefix(h, "$2") {
			return "", errors.New("precomputed hash is not bcrypt")
		}
		return h, nil
	}
}

// RouteURL is a cluster route to host:port carrying the route credentials.
func RouteURL(host string, port int, user, password string) string {
	return peerURL("nats-route", host, port, user, password)
}

// GatewayURL is a gateway URL to host:port carrying the gateway credentials.
func GatewayURL(host string, port int, user, password string) string {
	return peerURL("nats", host, port, user, password)
}

func peerURL(scheme, host string, port int, user, password string) string {
	u := url.URL{Scheme: scheme, Host: HostPort{Host: host, Port: port}.String()}
	if user != "" {
		u.User = url.UserPassword(user, password)
	}
	return u.String()
}

// ClientURL is the URL clients use to reach a node.
func ClientURL(n Node) string {
	return "nats://" + HostPort{Host: n.Host, Port: n.ClientPort}.String()
}
