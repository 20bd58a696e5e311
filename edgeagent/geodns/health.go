package geodns

import (
	"encoding/json"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
)

// state is what the query path reads about the regions: one immutable
// value, replaced whole when a heartbeat changes it or a node expires.
type state struct {
	regions []regionState // indexed like Config.Regions
}

type regionState struct {
	healthy bool
	// v4 and v6 are the addresses answered for the region: the static ones
	// when configured, else those of its healthy nodes. known holds every
	// address ever heard from it, for the fail-open answer.
	v4, v6         []net.IP
	known4, known6 []net.IP
}

// node is the last heartbeat heard from one edge node.
type node struct {
	seen    time.Time // local receive time (edge clocks may be off)
	healthy bool
	addr    netip.Addr // invalid when the beat carried no usable address
}

// health tracks heartbeats and computes the state. A region is healthy
// while one of its nodes sent a healthy heartbeat within the window.
type health struct {
	static  bool
	window  time.Duration
	regions []Region
	index   map[string]int

	mu    sync.Mutex
	nodes []map[string]node // per region: node name → last beat
}

func newHealth(regions []Region, window time.Duration, static bool) *health {
	h := &health{static: static, window: window, regions: regions, index: map[string]int{}}
	for i, r := range regions {
		h.index[r.Name] = i
		h.nodes = append(h.nodes, map[string]node{})
	}
	return h
}

// observe records one heartbeat; it reports whether the message was used.
func (h *health) observe(subject string, data []byte, now time.Time) bool {
	region, nodeName, ok := api.ParseHeartbeatSubject(subject)
	if !ok {
		return false
	}
	ri, ok := h.index[region]
	if !ok {
		return false
	}
	var hb api.Heartbeat
	if len(data) > 64<<10 || json.Unmarshal(data, &hb) != nil || hb.V != api.Version || hb.Region != region || hb.Node != nodeName {
		return false
	}
	n := node{seen: now, healthy: hb.Healthy, addr: heartbeatAddr(hb)}
	h.mu.Lock()
	h.nodes[ri][nodeName] = n
	h.mu.Unlock()
	return true
}

// heartbeatAddr is the IP clients reach the node on: the host of HTTPSAddr,
// else HTTPAddr, when it is a specific address (not 0.0.0.0 or ::).
func heartbeatAddr(hb api.Heartbeat) netip.Addr {
	for _, hp := range []string{hb.HTTPSAddr, hb.HTTPAddr} {
		ap, err := netip.ParseAddrPort(hp)
		if err != nil {
			continue
		}
		a := ap.Addr().Unmap()
		if a.IsUnspecified() || a.Zone() != "" {
			continue
		}
		return a
	}
	return netip.Addr{}
}

// compute builds the state as of now, forgetting nodes silent for ten
// windows.
func (h *health) compute(now time.Time) *state {
	st := &state{regions: make([]regionState, len(h.regions))}
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, r := range h.regions {
		rs := &st.regions[i]
		var live, known []netip.Addr
		names := make([]string, 0, len(h.nodes[i]))
		for name := range h.nodes[i] {
			names = append(names, name)
		}
		slices.Sort(names) // a stable answer order
		for _, name := range names {
			n := h.nodes[i][name]
			age := now.Sub(n.seen)
			if age > 10*h.window {
				delete(h.nodes[i], name)
				continue
			}
			if n.addr.IsValid() && !slices.Contains(known, n.addr) {
				known = append(known, n.addr)
			}
			if n.healthy && age <= h.window {
				rs.healthy = true
				if n.addr.IsValid() && !slices.Contains(live, n.addr) {
					live = append(live, n.addr)
				}
			}
		}
		if len(r.Addrs) > 0 {
			static := make([]netip.Addr, 0, len(r.Addrs))
			for _, a := range r.Addrs {
				static = append(static, netip.MustParseAddr(a).Unmap())
			}
			live, known = static, static
		}
		if h.static {
			rs.healthy = true
		}
		rs.v4, rs.v6 = splitFamilies(live)
		rs.known4, rs.known6 = splitFamilies(known)
		if len(rs.v4)+len(rs.v6) == 0 {
			rs.healthy = false // nothing to answer with
		}
	}
	return st
}

func splitFamilies(addrs []netip.Addr) (v4, v6 []net.IP) {
	for _, a := range addrs {
		if a.Is4() {
			v4 = append(v4, net.IP(a.AsSlice()))
		} else {
			v6 = append(v6, net.IP(a.AsSlice()))
		}
	}
	return v4, v6
}
