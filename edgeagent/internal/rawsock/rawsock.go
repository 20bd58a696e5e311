// Package rawsock makes a TCP connection's reads and writes without the Go
// scheduler's system-call bookkeeping.
//
// A read or write on a non-blocking socket never sleeps: it copies, or
// fails with EAGAIN and the goroutine waits in the netpoller, as net.Conn
// does. It can still take a while (on loopback the kernel delivers the
// segment to the receiver inside the write), and when the runtime's sysmon
// finds a P still in the same system call one tick later (20 µs or more)
// while other goroutines wait, it hands the P to another thread: a futex
// wake, a thread switch, and sysmon polling every 20 µs for as long as it
// keeps finding such Ps. A raw system call leaves the P running on its
// thread, so none of that happens. Under wrk the edge's plain proxy spent
// 7% of its CPU in sysmon with net.Conn's calls and 2.4% with these
// (docs/bench.md).
package rawsock

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// Conn is a *net.TCPConn whose Read and Write are raw system calls on the
// socket (syscall.RawConn: the netpoller, deadlines and Close work as for
// the TCPConn). Every other method is the TCPConn's.
type Conn struct {
	*net.TCPConn
	rc   syscall.RawConn
	r, w rawOp
}

// rawOp is one direction's call: its buffer and result, and the callback
// RawConn runs, bound once (a closure made per call would be heap
// allocations on every read and write). mu serialises callers, as the
// TCPConn's own locks do.
type rawOp struct {
	mu    sync.Mutex
	p     []byte
	n     int
	errno syscall.Errno
	fn    func(fd uintptr) bool
}

// Wrap returns c as a Conn when it is a *net.TCPConn, else c.
func Wrap(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	w := &Conn{TCPConn: tc, rc: rc}
	w.r.fn = func(fd uintptr) bool { return w.r.run(fd, syscall.SYS_READ) }
	w.w.fn = func(fd uintptr) bool { return w.w.run(fd, syscall.SYS_WRITE) }
	return w
}

// run makes the system call trap (SYS_READ or SYS_WRITE) on p[n:]: once
// for a read, until all of p is written for a write. It returns false to
// wait in the netpoller (EAGAIN), true when done or failed (errno).
func (op *rawOp) run(fd, trap uintptr) bool {
	for {
		r, _, e := syscall.RawSyscall(trap, fd, uintptr(unsafe.Pointer(&op.p[op.n])), uintptr(len(op.p)-op.n))
		switch e {
		case 0:
			op.n += int(r)
			if trap == syscall.SYS_READ || op.n == len(op.p) {
				return true
			}
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			op.errno = e
			return true
		}
	}
}

// do runs op over p: through the RawConn's Read, or its Write when write
// is set. It returns the bytes moved and the error as net.TCPConn would.
func (c *Conn) do(op *rawOp, write bool, p []byte) (int, error) {
	op.mu.Lock()
	op.p, op.n, op.errno = p, 0, 0
	var err error
	name := "read"
	if write {
		name = "write"
		err = c.rc.Write(op.fn)
	} else {
		err = c.rc.Read(op.fn)
	}
	n, errno := op.n, op.errno
	op.p = nil
	op.mu.Unlock()
	switch {
	case err != nil:
		return n, c.opError(name, err)
	case errno != 0:
		return n, c.opError(name, os.NewSyscallError(name, errno))
	}
	return n, nil
}

// Read reads as net.TCPConn.Read does: io.EOF at the end of the stream.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, err := c.do(&c.r, false, p)
	if err == nil && n == 0 {
		return 0, io.EOF
	}
	return n, err
}

// Write writes all of p unless an error stops it, as net.TCPConn.Write.
func (c *Conn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return c.do(&c.w, true, p)
}

// opError is err as net.TCPConn reports it: a *net.OpError naming op and
// the addresses (RawConn's own errors say "raw-read" or "raw-write").
func (c *Conn) opError(op string, err error) error {
	if oe, ok := err.(*net.OpError); ok {
		err = oe.Err
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// Listener wraps every TCP connection it accepts (Wrap).
type Listener struct{ net.Listener }

// Accept returns the next connection, wrapped.
func (l Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	return Wrap(c), nil
}
