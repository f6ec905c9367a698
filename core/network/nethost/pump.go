package nethost

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
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
	dropped                   [numReasons]atomic.Uint64
}

// vfkitGreeting is what vfkit-style VM ends (vz's FileHandle attachment
// through our vm-host: vz/netsock.go) send first; it is not a frame.
const vfkitGreeting = "VFKT"

// writeTimeout bounds how long the switch waits for a VM to take a
// frame: a stuck VM loses frames rather than stalling its network.
const writeTimeout = 200 * time.Millisecond

// vmPort is one VM's NIC as this process sees it: a unix datagram socket
// bound at the attachment's Socket. It starts unconnected, so the VM's
// end may appear at Peer at any time; the first frame from Peer connects
// it, which lets the kernel deliver every frame the VM sends (an
// unconnected receiver only queues a handful from a sender) and pace
// frames to the VM. A new VM process at Peer (a restarted container) is
// noticed by the identity of Peer's socket file, and the socket is then
// re-armed: replaced by a fresh, unconnected one at the same path.
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

// connect connects s to the peer that just sent from it.
func (p *vmPort) connect(s *net.UnixConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.sock != s || p.connected {
		return
	}
	rc, err := s.SyscallConn()
	if err != nil {
		return
	}
	var cerr error
	if err := rc.Control(func(fd uintptr) { cerr = unix.Connect(int(fd), &unix.SockaddrUnix{Name: p.peer.Name}) }); err != nil || cerr != nil {
		return
	}
	p.connected = true
	p.peerID = peerIdentity(p.peer.Name)
}

// rearm replaces s, if it is still the socket in use, by a fresh
// unconnected one, for a new VM process at Peer.
func (p *vmPort) rearm(s *net.UnixConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.sock != s {
		return
	}
	ns, err := bindDatagram(p.socket)
	if err != nil {
		// Keep the old one: it may still serve the VM that is there.
		return
	}
	p.sock, p.connected, p.peerID = ns, false, fileID{}
	s.Close()
}

// watchPeer re-arms the port when the socket at Peer is no longer the
// one it is connected to: a connected datagram socket accepts frames
// only from its peer, so a new VM process would otherwise be refused.
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
		s, connected, id := p.sock, p.connected, p.peerID
		p.mu.Unlock()
		if connected && peerIdentity(p.peer.Name) != id {
			p.rearm(s)
		}
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
			p.connect(s)
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
		var ne net.Error
		if connected && !(errors.As(err, &ne) && ne.Timeout()) {
			// The peer went away (ECONNREFUSED): wait for the next.
			p.rearm(s)
		}
		return len(b), nil
	}
	p.c.framesToVM.Add(1)
	p.c.bytesToVM.Add(uint64(len(b)))
	return len(b), nil
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
