package rawsock

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// pair returns a wrapped client connection and the plain server side of it,
// over loopback TCP.
func pair(t *testing.T) (*Conn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	w, ok := Wrap(c).(*Conn)
	if !ok {
		t.Fatalf("Wrap(%T) is not a *Conn", c)
	}
	t.Cleanup(func() { w.Close(); s.Close() })
	return w, s.(*net.TCPConn)
}

func TestWrapLeavesOtherConnsAlone(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if Wrap(a) != a {
		t.Fatal("a pipe was wrapped")
	}
}

func TestListenerWrapsAcceptedConns(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Listener{Listener: ln}
	defer l.Close()
	go func() {
		if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
			c.Close()
		}
	}()
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*Conn); !ok {
		t.Fatalf("accepted %T", c)
	}
}

func TestRoundTrip(t *testing.T) {
	c, s := pair(t)
	if n, err := c.Read(nil); n != 0 || err != nil {
		t.Fatalf("empty read: %d, %v", n, err)
	}
	if n, err := c.Write(nil); n != 0 || err != nil {
		t.Fatalf("empty write: %d, %v", n, err)
	}
	if n, err := c.Write([]byte("GET / HTTP/1.1\r\n\r\n")); n != 18 || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	got := make([]byte, 18)
	if _, err := io.ReadFull(s, got); err != nil || string(got) != "GET / HTTP/1.1\r\n\r\n" {
		t.Fatalf("server read %q, %v", got, err)
	}
	// A read waits for data that is not there yet, and returns what
	// arrived, in pieces as small as the buffer.
	go func() {
		time.Sleep(20 * time.Millisecond)
		s.Write([]byte("HTTP/1.1 200 OK\r\n"))
	}()
	var all []byte
	buf := make([]byte, 5)
	for len(all) < 17 {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("read after %q: %v", all, err)
		}
		all = append(all, buf[:n]...)
	}
	if string(all) != "HTTP/1.1 200 OK\r\n" {
		t.Fatalf("client read %q", all)
	}
}

// TestLargeWriteWaitsForTheReader writes more than the socket buffers hold
// to a reader that starts late: the write must wait in the netpoller
// (EAGAIN) and deliver every byte in order.
func TestLargeWriteWaitsForTheReader(t *testing.T) {
	c, s := pair(t)
	data := make([]byte, 32<<20)
	for i := range data {
		data[i] = byte(i * 7 >> 3)
	}
	want := sha256.Sum256(data)
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := c.Write(data)
		done <- result{n, err}
	}()
	time.Sleep(50 * time.Millisecond)
	select {
	case r := <-done:
		t.Fatalf("32 MiB written before anything was read: %d, %v", r.n, r.err)
	default:
	}
	h := sha256.New()
	if n, err := io.CopyN(h, s, int64(len(data))); err != nil || n != int64(len(data)) {
		t.Fatalf("read %d of %d: %v", n, len(data), err)
	}
	if r := <-done; r.n != len(data) || r.err != nil {
		t.Fatalf("write: %d, %v", r.n, r.err)
	}
	if !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatal("the bytes read differ from those written")
	}
}

func TestReadDeadline(t *testing.T) {
	c, _ := pair(t)
	c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	start := time.Now()
	n, err := c.Read(make([]byte, 10))
	var ne net.Error
	var oe *net.OpError
	if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() ||
		!errors.As(err, &oe) || oe.Op != "read" {
		t.Fatalf("read past the deadline: %d, %#v", n, err)
	}
	if time.Since(start) < 25*time.Millisecond {
		t.Fatal("the read did not wait for its deadline")
	}
}

func TestWriteDeadline(t *testing.T) {
	c, _ := pair(t) // nobody reads
	data := make([]byte, 64<<20)
	c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	n, err := c.Write(data)
	var oe *net.OpError
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &oe) || oe.Op != "write" {
		t.Fatalf("write past the deadline: %d, %v", n, err)
	}
	if n <= 0 || n >= 64<<20 {
		t.Fatalf("wrote %d bytes: want what the buffers took", n)
	}
}

func TestEOFAndReset(t *testing.T) {
	c, s := pair(t)
	s.Write([]byte("bye"))
	s.Close()
	buf := make([]byte, 10)
	if n, err := c.Read(buf); n != 3 || err != nil {
		t.Fatalf("read: %d, %v", n, err)
	}
	if n, err := c.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("read at the end: %d, %v", n, err)
	}

	c, s = pair(t)
	s.SetLinger(0) // close with a reset
	s.Close()
	time.Sleep(20 * time.Millisecond)
	_, err := c.Read(buf)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read after a reset: %v", err)
	}
	var werr error
	for range 10 {
		if _, werr = c.Write([]byte("x")); werr != nil {
			break
		}
	}
	if !errors.Is(werr, syscall.EPIPE) && !errors.Is(werr, syscall.ECONNRESET) {
		t.Fatalf("write after a reset: %v", werr)
	}
}

func TestCloseEndsABlockedRead(t *testing.T) {
	c, _ := pair(t)
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 10))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	c.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read on a closed conn: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the read")
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write on a closed conn: %v", err)
	}
}

// The methods a proxy relies on besides Read and Write are the TCPConn's.
func TestTCPConnMethodsRemain(t *testing.T) {
	c, s := pair(t)
	var nc net.Conn = c
	if _, ok := nc.(interface{ CloseWrite() error }); !ok {
		t.Fatal("no CloseWrite")
	}
	if _, ok := nc.(syscall.Conn); !ok {
		t.Fatal("no SyscallConn")
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("server read after CloseWrite: %d, %v", n, err)
	}
}

// A read and a write allocate nothing (a closure made per call would).
func TestNoAllocations(t *testing.T) {
	c, s := pair(t)
	msg := []byte("GET / HTTP/1.1\r\n\r\n")
	buf := make([]byte, 64)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(s, buf[:len(msg)]); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf[:len(msg)]); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations a round trip", allocs)
	}
}
