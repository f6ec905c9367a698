package vmnet

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultMaxFrame is a DatagramPort's MaxFrame until SetMaxFrame: the
// largest frame vmnet reports with TSO (vmnet-helper's measurement), more
// than a VM NIC with any MTU Berth sets sends. A network process sets its
// own (MTU + 14) on the VM's port.
const DefaultMaxFrame = 65550

// Socket buffer sizes, Apple's advice for the Virtualization framework's
// file-handle attachment (and vfkit's choice): SO_RCVBUF at least twice
// SO_SNDBUF, ideally four times. On macOS SO_SNDBUF only bounds the size
// of one datagram; what a burst fills is the receiver's SO_RCVBUF. Linux
// doubles both (its bookkeeping) and caps them at net.core.{w,r}mem_max
// without an error.
const (
	sendBuffer = 1 << 20
	recvBuffer = 4 << 20
)

// maxSocketPath is the longest unix socket path macOS takes (its sun_path
// holds 104 bytes with the NUL); Linux takes 107. The Mac's limit applies
// everywhere so that a path that works in a Linux test works on a Mac.
const maxSocketPath = 103

// DatagramPort is a Port on a unix datagram socket (one datagram, one
// frame): what a VM NIC is on both platforms (vz's file-handle attachment,
// QEMU's -netdev dgram), and what gvisor-tap-vsock's AcceptVfkit takes.
//
// Writes never block: a receiver that is not keeping up gives
// ErrBufferFull (EAGAIN on Linux, ENOBUFS on macOS), and Pump decides
// whether to retry. Linux would otherwise block a sender on a full
// receiver, and macOS never does; the pump behaves the same on both.
type DatagramPort struct {
	c     *net.UnixConn
	raw   syscall.RawConn
	peer  *unix.SockaddrUnix // ListenDatagram's peer (sendto); nil: c is connected
	local string             // ListenDatagram's socket file, removed by Close
	max   atomic.Int64
	// strangers counts datagrams from another address than the peer,
	// dropped (ListenDatagram only).
	strangers atomic.Uint64
}

var _ Port = (*DatagramPort)(nil)

// ListenDatagram binds a unix datagram socket at local and sends to peer
// (sendto, not connect): the peer may appear later, and come and go, as a
// VM's socket does when the VM starts, stops and restarts. Until it is
// there, writes fail with ErrNoPeer (ENOENT, ECONNREFUSED), which Pump
// counts and drops. Datagrams from any other address than peer are dropped
// (Strangers counts them): only the VM's own socket speaks for it.
//
// A stale socket file at local (left by a process that died) is replaced;
// any other file there is an error. The socket file is made 0600 and
// removed by Close. Buffers are sized per Apple's advice (1 MiB to send,
// 4 MiB to receive).
func ListenDatagram(local, peer string) (*DatagramPort, error) {
	for _, p := range []string{local, peer} {
		if p == "" || len(p) > maxSocketPath {
			return nil, fmt.Errorf("vmnet: socket path %q: must be 1-%d bytes (macOS's limit): use a shorter directory", p, maxSocketPath)
		}
	}
	if fi, err := os.Lstat(local); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("vmnet: %s exists and is not a socket", local)
		}
		if err := os.Remove(local); err != nil {
			return nil, fmt.Errorf("vmnet: remove the stale socket %s: %w", local, err)
		}
	}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: local, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("vmnet: listen on %s: %w", local, err)
	}
	fail := func(err error) (*DatagramPort, error) {
		c.Close()
		os.Remove(local)
		return nil, err
	}
	// Racy, as everywhere (macOS ignores fchmod before bind): the
	// directory's mode is what keeps others out.
	if err := os.Chmod(local, 0o600); err != nil {
		return fail(fmt.Errorf("vmnet: %w", err))
	}
	if err := sizeBuffers(c); err != nil {
		return fail(fmt.Errorf("vmnet: socket %s: %w", local, err))
	}
	d, err := newDatagramPort(c)
	if err != nil {
		return fail(err)
	}
	d.peer = &unix.SockaddrUnix{Name: peer}
	d.local = local
	return d, nil
}

// NewDatagramPort wraps a connected unix datagram socket. Its buffers are
// left as the caller set them. Close closes c.
func NewDatagramPort(c *net.UnixConn) *DatagramPort {
	d, err := newDatagramPort(c)
	if err != nil {
		// SyscallConn fails only for a nil or closed conn; the port
		// then fails on first use as the conn would.
		d = &DatagramPort{c: c}
		d.max.Store(DefaultMaxFrame)
	}
	return d
}

func newDatagramPort(c *net.UnixConn) (*DatagramPort, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("vmnet: %w", err)
	}
	d := &DatagramPort{c: c, raw: raw}
	d.max.Store(DefaultMaxFrame)
	return d, nil
}

// DatagramPair returns the two ends of a connected pair of unix datagram
// sockets (socketpair), buffers sized as ListenDatagram's: a wraps one for
// Pump, b is the other for an engine that takes a net.Conn
// (gvisor-tap-vsock's AcceptVfkit). Closing b makes a's writes fail with
// ECONNREFUSED, then ENOTCONN (which ends a Pump); a's reads do not end.
func DatagramPair() (a *DatagramPort, b *net.UnixConn, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("vmnet: socketpair: %w", err)
	}
	var conns [2]*net.UnixConn
	for i, fd := range fds {
		unix.CloseOnExec(fd)
		f := os.NewFile(uintptr(fd), "vmnet-pair")
		c, cerr := net.FileConn(f) // a dup; f is closed below
		f.Close()
		if cerr == nil {
			uc, ok := c.(*net.UnixConn)
			if !ok {
				c.Close()
				cerr = fmt.Errorf("socketpair gave a %T", c)
			} else {
				conns[i] = uc
				cerr = sizeBuffers(uc)
			}
		}
		if cerr != nil {
			for _, c := range conns {
				if c != nil {
					c.Close()
				}
			}
			if i == 0 {
				unix.Close(fds[1])
			}
			return nil, nil, fmt.Errorf("vmnet: socketpair: %w", cerr)
		}
	}
	a, err = newDatagramPort(conns[0])
	if err != nil {
		conns[0].Close()
		conns[1].Close()
		return nil, nil, err
	}
	return a, conns[1], nil
}

func sizeBuffers(c *net.UnixConn) error {
	if err := c.SetWriteBuffer(sendBuffer); err != nil {
		return fmt.Errorf("SO_SNDBUF: %w", err)
	}
	if err := c.SetReadBuffer(recvBuffer); err != nil {
		return fmt.Errorf("SO_RCVBUF: %w", err)
	}
	return nil
}

// ReadFrame reads one datagram. One longer than p is consumed and
// reported as ErrFrameTooLarge.
func (d *DatagramPort) ReadFrame(p []byte) (int, error) {
	for {
		n, _, flags, from, err := d.c.ReadMsgUnix(p, nil)
		if err != nil {
			return 0, err
		}
		if d.peer != nil && (from == nil || from.Name != d.peer.Name) {
			d.strangers.Add(1)
			continue
		}
		if flags&unix.MSG_TRUNC != 0 {
			return 0, fmt.Errorf("vmnet: a datagram longer than %d bytes: %w", len(p), ErrFrameTooLarge)
		}
		return n, nil
	}
}

// WriteFrame sends p as one datagram, without waiting for room.
func (d *DatagramPort) WriteFrame(p []byte) error {
	if d.raw == nil {
		_, err := d.c.Write(p)
		return err
	}
	var serr error
	err := d.raw.Write(func(fd uintptr) bool {
		if d.peer != nil {
			serr = unix.Sendto(int(fd), p, 0, d.peer)
		} else {
			_, serr = unix.Write(int(fd), p)
		}
		return true // never wait for the socket to be writable
	})
	if err != nil {
		return err
	}
	if serr == nil {
		return nil
	}
	to := "peer"
	if d.peer != nil {
		to = d.peer.Name
	}
	var kind error
	switch {
	case errors.Is(serr, unix.EAGAIN), errors.Is(serr, unix.ENOBUFS):
		kind = ErrBufferFull
	case errors.Is(serr, unix.ENOENT), errors.Is(serr, unix.ECONNREFUSED):
		kind = ErrNoPeer
	case errors.Is(serr, unix.EMSGSIZE):
		kind = ErrFrameTooLarge
	default:
		return fmt.Errorf("vmnet: send to %s: %w", to, os.NewSyscallError("send", serr))
	}
	return fmt.Errorf("vmnet: send to %s: %w (%w)", to, kind, os.NewSyscallError("send", serr))
}

// MaxFrame is the largest frame this port passes on (DefaultMaxFrame
// until SetMaxFrame).
func (d *DatagramPort) MaxFrame() int { return int(d.max.Load()) }

// SetMaxFrame sets MaxFrame: for a VM's port, its NIC's MTU plus the
// 14-byte Ethernet header.
func (d *DatagramPort) SetMaxFrame(n int) { d.max.Store(int64(n)) }

// Strangers counts the datagrams dropped because they came from another
// address than ListenDatagram's peer.
func (d *DatagramPort) Strangers() uint64 { return d.strangers.Load() }

// LocalAddr is the socket's address (ListenDatagram's local path).
func (d *DatagramPort) LocalAddr() net.Addr { return d.c.LocalAddr() }

// SetReadDeadline bounds ReadFrame, as net.Conn's does; Pump uses it to
// end without closing the port.
func (d *DatagramPort) SetReadDeadline(t time.Time) error { return d.c.SetReadDeadline(t) }

// Close closes the socket and removes ListenDatagram's socket file.
func (d *DatagramPort) Close() error {
	err := d.c.Close()
	if d.local != "" {
		if rerr := os.Remove(d.local); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
			err = rerr
		}
	}
	return err
}
