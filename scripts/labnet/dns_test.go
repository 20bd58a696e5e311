package labnet

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// lookup asks the DNS server at addr for the A records of name over
// network ("udp" or "tcp"), from source (a loopback address, "" for any),
// with subnet as EDNS Client Subnet ("" for none). It returns the sorted
// addresses and the ECS scope (-1 without ECS).
func lookup(network, addr, source, name, subnet string) ([]string, int, error) {
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeA)
	q.RecursionDesired = false
	if subnet != "" {
		p := netip.MustParsePrefix(subnet)
		q.SetEdns0(1232, false)
		q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1,
			SourceNetmask: uint8(p.Bits()), Address: net.IP(p.Addr().AsSlice())})
	}
	c := &dns.Client{Net: network, Timeout: 2 * time.Second}
	if source != "" {
		if network == "tcp" {
			c.Dialer = &net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}}
		} else {
			c.Dialer = &net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.UDPAddr{IP: net.ParseIP(source)}}
		}
	}
	resp, _, err := c.Exchange(q, addr)
	if err != nil {
		return nil, 0, err
	}
	if resp.Rcode != dns.RcodeSuccess || !resp.Authoritative {
		return nil, 0, fmt.Errorf("%s aa=%v", dns.RcodeToString[resp.Rcode], resp.Authoritative)
	}
	var out []string
	for _, rr := range resp.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	slices.Sort(out)
	sc := -1
	if o := resp.IsEdns0(); o != nil {
		for _, e := range o.Option {
			if s, ok := e.(*dns.EDNS0_SUBNET); ok {
				sc = int(s.SourceScope)
			}
		}
	}
	return out, sc, nil
}

func TestLabGeoDNS(t *testing.T) {
	ctx := context.Background()
	const window = 1500 * time.Millisecond
	l, err := Start(ctx, Config{Dir: t.TempDir(), HeartbeatInterval: 200 * time.Millisecond, DNSWindow: window})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.CreateDemoSite(ctx); err != nil {
		t.Fatal(err)
	}
	name := EdgeName(DemoHost)
	edges := l.Edges()
	all := make([]string, len(edges))
	for i, e := range edges {
		all[i] = e.IP
	}
	// want asks every running edge's DNS server, over UDP and TCP, and
	// checks the answer.
	want := func(source, subnet string, wantAddrs []string) error {
		for _, e := range l.Edges() {
			if e.Agent == nil {
				continue
			}
			for _, network := range []string{"udp", "tcp"} {
				got, sc, err := lookup(network, e.Agent.Addr("dns"), source, name, subnet)
				if err != nil {
					return fmt.Errorf("%s via %s/%s: %w", subnet, e.Node, network, err)
				}
				if !slices.Equal(got, wantAddrs) {
					return fmt.Errorf("client %s%s via %s/%s: %v, want %v", source, subnet, e.Node, network, got, wantAddrs)
				}
				if subnet != "" && source == "" && sc != netip.MustParsePrefix(subnet).Bits() {
					return fmt.Errorf("client %s via %s/%s: ECS scope %d", subnet, e.Node, network, sc)
				}
			}
		}
		return nil
	}

	t.Run("each client subnet gets its own region, on every edge", func(t *testing.T) {
		for i, e := range edges {
			eventually(t, "answers for "+e.Region, 30*time.Second, func() error {
				return want("", ClientSubnet(i), []string{e.IP})
			})
		}
		// Without ECS the resolver's address places the client.
		if err := want("127.0.0.1", "", []string{edges[0].IP}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a view overrides the public answer", func(t *testing.T) {
		staff := []string{edges[len(edges)-1].IP}
		if err := want("", "10.99.7.0/24", staff); err != nil {
			t.Fatal(err)
		}
		// The staff source address, even with a public client subnet.
		if err := want("127.0.2.1", "", staff); err != nil {
			t.Fatal(err)
		}
		if err := want("127.0.2.1", ClientSubnet(1), staff); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a stopped region is withdrawn within the window and comes back", func(t *testing.T) {
		down := edges[1]
		if err := l.StopEdge(down.Region); err != nil {
			t.Fatal(err)
		}
		stopped := time.Now()
		rest := slices.DeleteFunc(slices.Clone(all), func(ip string) bool { return ip == down.IP })
		// The region's clients fall back to every healthy region.
		eventually(t, down.Region+" withdrawn", 10*time.Second, func() error {
			return want("", ClientSubnet(1), rest)
		})
		took := time.Since(stopped)
		t.Logf("%s withdrawn %v after its edge stopped (window %v)", down.Region, took.Round(time.Millisecond), window)
		if took > window+3*time.Second { // slack for a loaded CI machine
			t.Errorf("withdrawal took %v, window %v", took, window)
		}
		// Other clients are not affected.
		if err := want("", ClientSubnet(2), []string{edges[2].IP}); err != nil {
			t.Fatal(err)
		}
		if err := l.StartEdge(ctx, down.Region); err != nil {
			t.Fatal(err)
		}
		started := time.Now()
		eventually(t, down.Region+" back", 30*time.Second, func() error {
			return want("", ClientSubnet(1), []string{down.IP})
		})
		t.Logf("%s back in answers %v after its edge started", down.Region, time.Since(started).Round(time.Millisecond))
	})

	t.Run("zone records, refusals and NXDOMAIN", func(t *testing.T) {
		addr := l.Edges()[0].Agent.Addr("dns")
		c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
		q := new(dns.Msg)
		q.SetQuestion(EdgeZone+".", dns.TypeNS)
		resp, _, err := c.Exchange(q, addr)
		if err != nil || len(resp.Answer) != len(edges) || len(resp.Extra) != len(edges) {
			t.Fatalf("NS: %v %v", resp, err)
		}
		q.SetQuestion("example.com.", dns.TypeA)
		if resp, _, err = c.Exchange(q, addr); err != nil || resp.Rcode != dns.RcodeRefused || resp.RecursionAvailable {
			t.Fatalf("out of zone: %v %v", resp, err)
		}
		q.SetQuestion(strings.Replace(name, "demo", "nope", 1), dns.TypeA)
		if resp, _, err = c.Exchange(q, addr); err != nil || resp.Rcode != dns.RcodeNameError {
			t.Fatalf("unknown site: %v %v", resp, err)
		}
	})
}
