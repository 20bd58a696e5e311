package geodns

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// startServer runs s in the background until the test ends.
func startServer(t *testing.T, s *Server) string {
	t.Helper()
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return s.Addr()
}

func TestServeUDPAndTCP(t *testing.T) {
	s := newTestServer(t, testConfig(), "shop.example.com")
	addr := startServer(t, s)
	site := "shop.example.com." + testZone
	for _, net := range []string{"udp", "tcp"} {
		c := &dns.Client{Net: net, Timeout: 2 * time.Second}
		resp, _, err := c.Exchange(query(site, dns.TypeA, "10.2.0.0/24", false), addr)
		if err != nil {
			t.Fatalf("%s: %v", net, err)
		}
		if got := addrs(resp); !slices.Equal(got, []string{"192.0.2.2"}) || scope(resp) != 24 || !resp.Authoritative {
			t.Errorf("%s: %v scope %d", net, got, scope(resp))
		}
	}

	// TCP: two pipelined queries on one connection, answered in order.
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	var frames []byte
	for i, subnet := range []string{"10.1.0.0/24", "10.3.0.0/24"} {
		q := query(site, dns.TypeA, subnet, false)
		q.Id = uint16(100 + i)
		pkt, _ := q.Pack()
		frames = binary.BigEndian.AppendUint16(frames, uint16(len(pkt)))
		frames = append(frames, pkt...)
	}
	if _, err := conn.Write(frames); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"192.0.2.1", "192.0.2.3"} {
		var l [2]byte
		if _, err := io.ReadFull(conn, l[:]); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(conn, b); err != nil {
			t.Fatal(err)
		}
		var m dns.Msg
		if err := m.Unpack(b); err != nil {
			t.Fatal(err)
		}
		if m.Id != uint16(100+i) || !slices.Equal(addrs(&m), []string{want}) {
			t.Errorf("pipelined answer %d: id %d %v", i, m.Id, addrs(&m))
		}
	}

	// A malformed UDP packet gets FORMERR.
	uc, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	uc.SetDeadline(time.Now().Add(5 * time.Second))
	junk := []byte{0x12, 0x34, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3f, 'a'}
	if _, err := uc.Write(junk); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	n, err := uc.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	var m dns.Msg
	if err := m.Unpack(buf[:n]); err != nil || m.Rcode != dns.RcodeFormatError || m.Id != 0x1234 {
		t.Errorf("junk: %v %v", m.MsgHdr, err)
	}
}

func TestServerRateLimitsUDP(t *testing.T) {
	cfg := testConfig()
	cfg.RateLimit = RateLimit{PerSecond: 1, Burst: 3, Slip: 2}
	s := newTestServer(t, cfg, "shop.example.com")
	addr := startServer(t, s)
	uc, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	q := query("shop.example.com."+testZone, dns.TypeA, "", false)
	pkt, _ := q.Pack()
	const sent = 12
	for range sent {
		if _, err := uc.Write(pkt); err != nil {
			t.Fatal(err)
		}
	}
	// Read until the socket is quiet for a moment: the burst of 3 is
	// answered, then every second response slips out truncated, the rest
	// are dropped.
	var full, tc int
	buf := make([]byte, 1500)
	for {
		uc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := uc.Read(buf)
		if err != nil {
			break
		}
		var m dns.Msg
		if err := m.Unpack(buf[:n]); err != nil {
			t.Fatal(err)
		}
		if m.Truncated && len(m.Answer) == 0 {
			tc++
		} else {
			full++
		}
	}
	if full < 3 || full > 4 || tc < 3 || full+tc >= sent {
		t.Errorf("%d queries: %d answered, %d truncated", sent, full, tc)
	}
	// TCP is never limited.
	c := &dns.Client{Net: "tcp", Timeout: 2 * time.Second}
	if resp, _, err := c.Exchange(q, addr); err != nil || len(resp.Answer) != 1 {
		t.Errorf("TCP after the limit: %v %v", resp, err)
	}
}

func TestCloseBeforeRun(t *testing.T) {
	s := newTestServer(t, testConfig())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background()); err == nil || s.Addr() != "" {
		t.Errorf("Run after Close: %v, bound %q", err, s.Addr())
	}
}
