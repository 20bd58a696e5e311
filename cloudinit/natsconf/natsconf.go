// Package natsconf renders nats-server configuration files (nats.conf) from
// typed structs, and builds Rampart's super-cluster layout: one cluster per
// region, gateways between regions, and the CONTROL/EDGE/SYS accounts.
//
// A Config is validated before it is rendered; Validate names the first bad
// field by its nats.conf path (for example "accounts[1].users[0].password").
// Render is deterministic: the same Config always yields the same bytes.
package natsconf

import (
	"net"
	"strconv"
	"time"
)

// Config is one nats-server's configuration file.
type Config struct {
	// ServerName is the server_name; it must be unique in the super-cluster.
	ServerName string
	// Listen is where clients connect.
	Listen HostPort
	// HTTP, if set, is the monitoring endpoint (varz, routez, jsz, ...).
	HTTP *HostPort
	// TLS, if set, secures client connections.
	TLS *TLS
	// Cluster, if set, joins this server to a cluster of routed servers.
	Cluster *Cluster
	// Gateway, if set, connects this server's cluster to other clusters.
	Gateway *Gateway
	// JetStream, if set, enables JetStream on this server.
	JetStream *JetStream
	// Accounts are the static accounts and their users, in render order.
	Accounts []Account
	// SystemAccount names the account (one of Accounts) used for system events.
	SystemAccount string
}

// HostPort is a listen address. An empty Host means every interface.
type HostPort struct {
	Host string
	Port int
}

// String joins host and port, bracketing IPv6 hosts.
func (h HostPort) String() string { return net.JoinHostPort(h.Host, strconv.Itoa(h.Port)) }

// TLS is a tls block for client, route or gateway connections.
type TLS struct {
	CertFile string
	KeyFile  string
	// CAFile verifies the peer's certificate; required when Verify is set.
	CAFile string
	// Verify requires and verifies a client certificate from the peer.
	Verify bool
}

// Authorization is the single user/password a route or gateway peer presents.
type Authorization struct {
	User string
	// Password is rendered as given: plain text or a bcrypt hash ("$2a$...").
	Password string
}

// Cluster is the cluster block: servers of one region routed to each other.
type Cluster struct {
	Name   string
	Listen HostPort
	// Routes are peer URLs such as "nats-route://user:pass@10.0.0.2:6222";
	// build them with RouteURL so credentials are escaped.
	Routes        []string
	Authorization *Authorization
	TLS           *TLS
}

// Gateway is the gateway block: how this cluster reaches the other clusters.
// Its Name must equal the cluster name.
type Gateway struct {
	Name          string
	Listen        HostPort
	Authorization *Authorization
	TLS           *TLS
	// Gateways lists every cluster (this one may be included) and its URLs.
	Gateways []RemoteGateway
}

// RemoteGateway is one entry of the gateways list.
type RemoteGateway struct {
	Name string
	// URLs such as "nats://user:pass@10.0.1.2:7222"; build them with GatewayURL.
	URLs []string
}

// JetStream is the server-wide jetstream block.
type JetStream struct {
	StoreDir string
	// MaxMemoryStore and MaxFileStore are byte limits; 0 lets the server choose.
	MaxMemoryStore int64
	MaxFileStore   int64
}

// Account is one static account.
type Account struct {
	Name string
	// JetStream enables JetStream for the account with server-wide limits.
	JetStream bool
	Users     []User
	Exports   []Export
	Imports   []Import
}

// User is one user of an account.
type User struct {
	User string
	// Password should be a bcrypt hash ("$2a$..."); see HashPassword.
	Password    string
	Permissions *Permissions
}

// Permissions limit what a user may publish and subscribe to.
type Permissions struct {
	Publish   SubjectPermission
	Subscribe SubjectPermission
	// AllowResponses, if set, lets the user publish to the reply subjects of
	// requests it received, even when Publish would deny them.
	AllowResponses *ResponsePermission
}

// SubjectPermission is an allow and a deny list of subjects; empty lists are omitted.
type SubjectPermission struct {
	Allow []string
	Deny  []string
}

// ResponsePermission bounds allow_responses. The zero value renders as
// "allow_responses: true" (one response within the server's default expiry).
type ResponsePermission struct {
	// MaxMsgs is the number of responses allowed per request; 0 means the default (1).
	MaxMsgs int
	// Expires is how long the reply subject stays allowed; 0 means the default.
	Expires time.Duration
}

// Kind says whether an export or import is a stream or a service.
type Kind int

// Export and import kinds.
const (
	// KindStream shares published messages.
	KindStream Kind = iota + 1
	// KindService shares a request/reply endpoint.
	KindService
)

// String is the kind's nats.conf keyword.
func (k Kind) String() string {
	switch k {
	case KindStream:
		return "stream"
	case KindService:
		return "service"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// ResponseType is how many responses a service export may send per request.
type ResponseType string

// Service response types.
const (
	// ResponseSingleton allows one response (the server's default).
	ResponseSingleton ResponseType = "singleton"
	// ResponseStream allows any number of responses until the reply expires.
	ResponseStream ResponseType = "stream"
	// ResponseChunked allows a response split in chunks.
	ResponseChunked ResponseType = "chunked"
)

// Export offers a subject to other accounts.
type Export struct {
	Kind    Kind
	Subject string
	// ResponseType applies to services only; empty means the server default.
	ResponseType ResponseType
	// Accounts, if set, restricts the export to these accounts; otherwise it is public.
	Accounts []string
}

// Import brings another account's export into this account.
type Import struct {
	Kind    Kind
	Account string
	Subject string
	// To, for a service, is the local subject requests are sent to; for a
	// stream, the local subject messages appear on. Empty means Subject.
	To string
}

// StreamExport exports subject as a stream to every account.
func StreamExport(subject string) Export { return Export{Kind: KindStream, Subject: subject} }

// ServiceExport exports subject as a service to every account.
func ServiceExport(subject string, rt ResponseType) Export {
	return Export{Kind: KindService, Subject: subject, ResponseType: rt}
}

// StreamImport imports account's stream export of subject.
func StreamImport(account, subject string) Import {
	return Import{Kind: KindStream, Account: account, Subject: subject}
}

// ServiceImport imports account's service export of subject, reachable
// locally at to (empty: the same subject).
func ServiceImport(account, subject, to string) Import {
	return Import{Kind: KindService, Account: account, Subject: subject, To: to}
}
