// Package realip decides who the client of a request is. The client is the
// TCP peer, unless the peer is a configured trusted proxy (a load balancer
// in front of the edge): then it is the right-most X-Forwarded-For entry
// that is not itself trusted. X-Forwarded-For from anyone else is user input
// and never believed.
package realip

import (
	"fmt"
	"net/netip"
	"strings"
)

// maxHops bounds how many X-Forwarded-For entries are examined, so a long
// header cannot make the request path walk without end.
const maxHops = 32

// Resolver finds the client address of requests. The zero value trusts no
// one: the client is always the TCP peer.
type Resolver struct {
	trusted []netip.Prefix
}

// New returns a resolver trusting the proxies in cidrs (addresses or CIDR
// prefixes). An error names the bad entry by index.
func New(cidrs []string) (*Resolver, error) {
	r := &Resolver{}
	for i, c := range cidrs {
		p, err := ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		r.trusted = append(r.trusted, p)
	}
	return r, nil
}

// ParsePrefix parses an address (a single-address prefix) or a CIDR prefix.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR prefix", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR prefix", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Trusted reports whether a is a trusted proxy.
func (r *Resolver) Trusted(a netip.Addr) bool {
	if r == nil {
		return false
	}
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Client is the outcome of resolving one request.
type Client struct {
	// Addr is the client's address; invalid when the peer address could
	// not be parsed (then IP holds it as it came).
	Addr netip.Addr
	// IP is Addr as text, for logs and headers.
	IP string
	// Chain is what goes to the origin in X-Forwarded-For: the client
	// followed by the trusted proxies it passed through, the TCP peer last.
	// Entries left of the client are dropped: no one vouched for them.
	Chain string
}

// Resolve returns the client of a request from its TCP peer (RemoteAddr)
// and its X-Forwarded-For header values. For an untrusted peer it does not
// allocate.
func (r *Resolver) Resolve(remoteAddr string, xff []string) Client {
	peerIP := hostOf(remoteAddr)
	peer, err := netip.ParseAddr(peerIP)
	if err != nil {
		return Client{IP: peerIP, Chain: peerIP}
	}
	if peer.Is4In6() {
		peer = peer.Unmap()
		peerIP = peer.String()
	}
	if len(xff) == 0 || !r.Trusted(peer) {
		return Client{Addr: peer, IP: peerIP, Chain: peerIP}
	}
	// Walk right to left: every trusted entry is a hop we believe; the first
	// untrusted one is the client. An entry that is not an address stops
	// the walk: the nearest hop we can name is then the client.
	client, clientIP := peer, peerIP
	hops := 0
	cut := -1 // index into the joined header where the kept chain starts
	joined := joinXFF(xff)
	for end := len(joined); end > 0 && hops < maxHops; hops++ {
		start := strings.LastIndexByte(joined[:end], ',') + 1
		entry := strings.TrimSpace(joined[start:end])
		end = start - 1
		a, ok := parseEntry(entry)
		if !ok {
			break
		}
		client, cut = a, start
		if !r.Trusted(a) {
			break
		}
	}
	if cut >= 0 {
		clientIP = client.String() // canonical, without a port
	}
	chain := peerIP
	if cut >= 0 {
		chain = strings.TrimSpace(joined[cut:]) + ", " + peerIP
	}
	return Client{Addr: client, IP: clientIP, Chain: chain}
}

// joinXFF joins several X-Forwarded-For header lines into one list.
func joinXFF(xff []string) string {
	if len(xff) == 1 {
		return xff[0]
	}
	return strings.Join(xff, ",")
}

// parseEntry parses one X-Forwarded-For entry: an address, optionally with
// a port ("1.2.3.4:80", "[2001:db8::1]:80").
func parseEntry(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), a.Zone() == ""
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), ap.Addr().Zone() == ""
	}
	return netip.Addr{}, false
}

// hostOf returns the host part of a host:port address without allocating.
func hostOf(hostport string) string {
	i := strings.LastIndexByte(hostport, ':')
	if i < 0 {
		return hostport
	}
	h := hostport[:i]
	if len(h) >= 2 && h[0] == '[' && h[len(h)-1] == ']' {
		h = h[1 : len(h)-1]
	}
	return h
}
