package nethost

import (
	"errors"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The seam for vmnet's portable frame pump. Until vmnet.Pump,
// vmnet.ListenDatagram and vmnet.DatagramPair land in main, vmPort is
// the local stand-in: it binds the attachment's socket, filters the VM's
// frames with Filter.Check and hands the engine a net.Conn that reads
// and writes one frame per call (what gvisor-tap-vsock's AcceptVfkit
// takes). When the pump lands, vmnet.ListenDatagram(Socket) replaces the
// socket handling here, the engine gets one end of a vmnet.DatagramPair,
// and vmnet.Pump moves frames between them through the same Filter.

// counters are one attachment's traffic. They outlive the attachment's
// sockets (an attachment re-armed for a new VM process keeps them).
type counters struct {
	framesFromVM, bytesFromVM atomic.Uint64
	framesToVM, bytesToVM     atomic.Uint64
	lostToVM                  atomic.Uint64
	rearmed                   atomic.Uint64
	dropped                   [numReasons]atomic.Uint64
}

// vfkitGreeting is what vfkit-style VM ends (vz's FileHandle attachment
// through our vm-host: vz/netsock.go) send first; it is not a frame.
const vfkitGreeting = "VFKT"

// writeTimeout bounds how long the switch waits for a VM to take a
// frame: a stuck VM loses frames rather than stalling its network.
const writeTimeout = 200 * time.Millisecond

// vmPort is one VM's NIC as this process sees it: a unix datagram socket
// bound at the attachment's Socket. It starts unconnected, so that the
// VM's end may appear at Peer at any time; the first frame from Peer
// connects it, which lets the kernel deliver every frame the VM sends (an
// unconnected receiver only queues a handful from one sender) and pace
// the frames sent to the VM.
//
// The VM's end comes in two kinds: QEMU sends to Socket's path with each
// frame (-netdev dgram), while the vm-host connects its socket to ours
// (vz's FileHandle attachment needs a connected socket). Both survive
// this socket being connected again to a new Peer; only QEMU's survives
// it being replaced. So a new VM process at Peer (a restarted container
// whose core did not attach again) is met by connecting to it, and the
// socket is replaced (re-armed) only when Attach asks, before a VM
// starts, or on Linux, where the ends are QEMU's, when the VM's end went
// away and nothing else dissolves a stale connection.
type vmPort struct {
	socket string
	peer   *net.UnixAddr
	filter *Filter
	c      *counters

	mu        sync.Mutex
	sock      *net.UnixConn
	connected bool
	peerID    fileID
	closed    bool
	done      chan struct{}
}

type fileID struct{ dev, ino uint64 }

// peerIdentity names the socket file at p (zero if there is none).
func peerIdentity(p string) fileID {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return fileID{}
	}
	return fileID{uint64(st.Dev), uint64(st.Ino)}
}

// bindDatagram binds a fresh unix datagram socket at path, replacing a
// leftover file there.
func bindDatagram(path string) (*net.UnixConn, error) {
	_ = os.Remove(path)
	s, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	// Frames come in bursts: the sizes Apple recommends for vz's
	// FileHandle attachment (and vfkit's).
	_ = s.SetReadBuffer(4 << 20)
	_ = s.SetWriteBuffer(1 << 20)
	return s, nil
}

func newVMPort(a Attachment, f *Filter, c *counters) (*vmPort, error) {
	s, err := bindDatagram(a.Socket)
	if err != nil {
		return nil, err
	}
	p := &vmPort{socket: a.Socket, peer: &net.UnixAddr{Name: a.Peer, Net: "unixgram"}, filter: f, c: c,
		sock: s, done: make(chan struct{})}
	go p.watchPeer()
	return p, nil
}

// current returns the socket in use, or nil once closed.
func (p *vmPort) current() (*net.UnixConn, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, false
	}
	return p.sock, p.connected
}

// connectLocked connects p.sock to Peer; p.mu is held.
func (p *vmPort) connectLocked() error {
	rc, err := p.sock.SyscallConn()
	if err != nil {
		return err
	}
	var cerr error
	if err := rc.Control(func(fd uintptr) { cerr = unix.Connect(int(fd), &unix.SockaddrUnix{Name: p.peer.Name}) }); err != nil {
		return err
	}
	if cerr != nil {
		return cerr
	}
	p.connected = true
	p.peerID = peerIdentity(p.peer.Name)
	return nil
}

// heard connects s to Peer, which just sent from it.
func (p *vmPort) heard(s *net.UnixConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.sock != s || p.connected {
		return
	}
	_ = p.connectLocked()
}

// lost forgets the VM's end behind s after a send to it failed because
// it is gone: the next frame from Peer connects again.
func (p *vmPort) lost(s *net.UnixConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.sock != s || !p.connected {
		return
	}
	p.dissolveLocked()
}

// dissolveLocked ends a connection to a VM's end that is gone. Linux
// dissolves it on the failed send already, but keeps it while nothing is
// sent, and a connected socket accepts frames from its peer only: there
// the socket is replaced (QEMU, the only kind of end there, sends by
// path). Elsewhere the kernel dissolves it when the peer closes, and the
// connected end of a vm-host must keep this very socket.
func (p *vmPort) dissolveLocked() {
	p.connected, p.peerID = false, fileID{}
	if runtime.GOOS == "linux" {
		p.rebindLocked()
	}
}

// rebindLocked replaces p.sock by a fresh unconnected socket at the same
// path; p.mu is held.
func (p *vmPort) rebindLocked() {
	ns, err := bindDatagram(p.socket)
	if err != nil {
		// Keep the old one: it may still serve the VM that is there.
		return
	}
	old := p.sock
	p.sock, p.connected, p.peerID = ns, false, fileID{}
	p.c.rearmed.Add(1)
	old.Close()
}

// watchPeer follows a new VM process at Peer: a connected datagram
// socket accepts frames only from its peer, so a new process there (its
// socket file is another) would otherwise be refused until this end
// sends to the old one and learns it is gone.
func (p *vmPort) watchPeer() {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
		}
		p.mu.Lock()
		if !p.closed && p.connected {
			if id := peerIdentity(p.peer.Name); id != p.peerID {
				if id == (fileID{}) || p.connectLocked() != nil {
					p.dissolveLocked()
				} else {
					p.c.rearmed.Add(1)
				}
			}
		}
		p.mu.Unlock()
	}
}

// Read returns the next frame from the VM that passes the filter.
func (p *vmPort) Read(b []byte) (int, error) {
	for {
		s, connected := p.current()
		if s == nil {
			return 0, net.ErrClosed
		}
		n, from, err := s.ReadFromUnix(b)
		if err != nil {
			if cur, _ := p.current(); cur == nil {
				return 0, net.ErrClosed
			} else if cur != s {
				continue // re-armed
			}
			if errors.Is(err, net.ErrClosed) {
				return 0, err
			}
			// Datagram reads fail only transiently (a signal, a
			// truncated frame): keep reading.
			time.Sleep(time.Millisecond)
			continue
		}
		if !connected && from != nil && from.Name == p.peer.Name {
			p.heard(s)
		}
		if n == len(vfkitGreeting) && string(b[:n]) == vfkitGreeting {
			continue
		}
		if why := p.filter.Check(b[:n]); why != Pass {
			p.c.dropped[why].Add(1)
			continue
		}
		p.c.framesFromVM.Add(1)
		p.c.bytesFromVM.Add(uint64(n))
		return n, nil
	}
}

// Write sends one frame to the VM. It fails only once the port is
// closed: a VM that is not there yet, or too slow, loses the frame (the
// switch would otherwise drop the port, or stall every other port).
func (p *vmPort) Write(b []byte) (int, error) {
	s, connected := p.current()
	if s == nil {
		return 0, net.ErrClosed
	}
	_ = s.SetWriteDeadline(time.Now().Add(writeTimeout))
	var err error
	if connected {
		_, err = s.Write(b)
	} else {
		_, err = s.WriteToUnix(b, p.peer)
	}
	if err != nil {
		p.c.lostToVM.Add(1)
		if connected && peerGone(err) {
			p.lost(s)
		}
		return len(b), nil
	}
	p.c.framesToVM.Add(1)
	p.c.bytesToVM.Add(uint64(len(b)))
	return len(b), nil
}

// peerGone reports whether a send failed because the VM's end is gone,
// rather than busy (ENOBUFS, EAGAIN, a timeout: the frame is lost, the
// connection kept).
func peerGone(err error) bool {
	for _, e := range []error{syscall.ECONNREFUSED, syscall.ENOTCONN, syscall.ECONNRESET, syscall.EPIPE, syscall.EDESTADDRREQ} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Close closes the socket (the file stays: Detach removes it).
func (p *vmPort) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	close(p.done)
	return p.sock.Close()
}

// Connected reports whether the VM's end has been heard from.
func (p *vmPort) Connected() bool {
	_, c := p.current()
	return c
}

func (p *vmPort) LocalAddr() net.Addr                { return &net.UnixAddr{Name: p.socket, Net: "unixgram"} }
func (p *vmPort) RemoteAddr() net.Addr               { return p.peer }
func (p *vmPort) SetDeadline(t time.Time) error      { return nil }
func (p *vmPort) SetReadDeadline(t time.Time) error  { return nil }
func (p *vmPort) SetWriteDeadline(t time.Time) error { return nil }

var _ net.Conn = (*vmPort)(nil)
