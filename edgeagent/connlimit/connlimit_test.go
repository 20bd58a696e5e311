package connlimit

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// dialN opens n client connections to l.
func dialN(t *testing.T, l *Listener, n int) []net.Conn {
	t.Helper()
	var clients []net.Conn
	for range n {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		clients = append(clients, c)
	}
	return clients
}

func TestCapAndExempt(t *testing.T) {
	for _, exempt := range []bool{false, true} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l := New(ln, Config{MaxPerAddr: 2, Exempt: func(a netip.Addr) bool { return exempt && a.IsLoopback() }})
		accepted := make(chan net.Conn, 10)
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					close(accepted)
					return
				}
				accepted <- c
			}
		}()
		clients := dialN(t, l, 3)
		want := 2
		if exempt {
			want = 3
		}
		var got []net.Conn
		for range want {
			got = append(got, <-accepted)
		}
		if !exempt {
			// The third is closed by the listener: the client reads EOF.
			clients[2].SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := clients[2].Read(make([]byte, 1)); err == nil {
				t.Fatal("third connection was not closed")
			}
			if l.Refused() != 1 || l.Open(netip.MustParseAddr("127.0.0.1")) != 2 {
				t.Fatalf("refused %d open %d", l.Refused(), l.Open(netip.MustParseAddr("127.0.0.1")))
			}
			got[0].Close()
			got[0].Close() // a second close gives nothing back twice
			if n := l.Open(netip.MustParseAddr("127.0.0.1")); n != 1 {
				t.Fatalf("open %d after a close", n)
			}
		}
		for _, c := range got {
			c.Close()
		}
		ln.Close()
		for range accepted {
		}
	}
}
