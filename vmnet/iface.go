package vmnet

import (
	"fmt"
	"net"
	"os"
	"sync"
	"time"
)

// vmnetMinFrame is the shortest frame Interface hands vmnet_write.
// vmnet fails shorter writes with VMNET_INVALID_ARGUMENT: seen for vfkit's
// 4-byte greeting (vmnet-helper); REFERENCE.md states the limit as 64
// bytes, which nobody has measured for 42-byte ARP frames. Padding to 64
// with zeros is correct whatever the true limit (14, 60 or 64): receivers
// take lengths from the IP and ARP headers, and a NIC pads short frames
// on the wire anyway.
const vmnetMinFrame = 64

// padFrame returns frame, or frame padded with zeros to vmnetMinFrame in
// buf when it is shorter.
func padFrame(frame []byte, buf *[vmnetMinFrame]byte) []byte {
	if len(frame) >= vmnetMinFrame {
		return frame
	}
	n := copy(buf[:], frame)
	clear(buf[n:])
	return buf[:]
}

// pktDesc is what one struct vmpktdesc (and its one iovec) must hold
// before a vmnet call; vmnet_darwin.c copies it field by field (its
// struct berth_pkt has this layout: two uint64, two uint32).
type pktDesc struct {
	Size   uint64 // vm_pkt_size: in, the room; out (read), the frame's length
	IovLen uint64 // vm_pkt_iov[0].iov_len
	IovCnt uint32 // vm_pkt_iovcnt
	Flags  uint32 // vm_flags
}

// resetForRead sets every descriptor for a vmnet_read: vmnet shrinks
// vm_pkt_size to each frame's length, so a descriptor not reset before
// every read truncates the next, larger frame (socket_vmnet's and
// vmnet-helper's hard-won rule). The frame's length after the read is
// vm_pkt_size, not iov_len.
func resetForRead(ds []pktDesc, maxPacket uint64) {
	for i := range ds {
		ds[i] = pktDesc{Size: maxPacket, IovLen: maxPacket, IovCnt: 1, Flags: 0}
	}
}

// forWrite is the descriptor of an n-byte frame for vmnet_write, which
// reads vm_pkt_size but requires iov_len to match it (vmnet-helper).
func forWrite(n int) pktDesc {
	return pktDesc{Size: uint64(n), IovLen: uint64(n), IovCnt: 1, Flags: 0}
}

// device is vmnet's packet calls on one started interface, one for one:
// vmnet_darwin.go implements it; tests fake it.
type device interface {
	// read is vmnet_read into the device's buffers, one per descriptor:
	// it applies ds (set by resetForRead), and returns how many packets
	// it read, with each one's length in ds[i].Size.
	read(ds []pktDesc) (int, error)
	// packet is buffer i's first n bytes, valid until the next read.
	packet(i, n int) []byte
	// write is vmnet_write of one frame described by d.
	write(frame []byte, d pktDesc) error
	// stop stops the interface: no callback runs after it returns, and
	// the buffers are freed.
	stop() error
}

// Interface is a started vmnet interface: a Port on the vmnet network,
// which a Pump connects to a VM's datagram socket. Start makes one
// (macOS only).
//
// Reads are batched: one vmnet_read fetches up to batchSize frames, which
// ReadFrame then returns one by one; when vmnet has none, ReadFrame waits
// for vmnet's packets-available event. Writes are one frame per
// vmnet_write, padded to 64 bytes.
type Interface struct {
	dev    device
	params Params
	descs  []pktDesc
	// next and count are the frames of the last read not yet returned
	// (the reader's own).
	next, count int

	avail  chan struct{} // one token: packets may be available
	kick   chan struct{} // one token: the deadline changed
	closed chan struct{}

	// io is held shared across every call into dev and exclusively by
	// Close, so the device is never stopped under a read or write.
	io       sync.RWMutex
	isClosed bool

	dlMu     sync.Mutex
	deadline time.Time

	wmu sync.Mutex // pad
	pad [vmnetMinFrame]byte

	closeOnce sync.Once
	closeErr  error
}

var _ Port = (*Interface)(nil)

func newInterface(dev device, p Params) (*Interface, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	return &Interface{
		dev: dev, params: p,
		descs:  make([]pktDesc, batchSize(p)),
		avail:  make(chan struct{}, 1),
		kick:   make(chan struct{}, 1),
		closed: make(chan struct{}),
	}, nil
}

// Params are what vmnet reported when the interface started.
func (i *Interface) Params() Params { return i.params }

// MaxFrame is vmnet's max packet size for this interface.
func (i *Interface) MaxFrame() int { return int(i.params.MaxPacketSize) }

// packetsAvailable is vmnet's event callback: it never blocks (it runs
// on vmnet's dispatch queue).
func (i *Interface) packetsAvailable() {
	select {
	case i.avail <- struct{}{}:
	default:
	}
}

// ReadFrame returns the next frame from vmnet, waiting for one.
func (i *Interface) ReadFrame(p []byte) (int, error) {
	for {
		if i.next < i.count {
			idx := i.next
			i.next++
			return i.copyOut(p, idx)
		}
		if dl := i.readDeadline(); !dl.IsZero() && !time.Now().Before(dl) {
			return 0, os.ErrDeadlineExceeded
		}
		n, err := i.readBatch()
		if err != nil {
			return 0, err
		}
		if n > 0 {
			i.next, i.count = 0, n
			continue
		}
		if err := i.wait(); err != nil {
			return 0, err
		}
	}
}

func (i *Interface) copyOut(p []byte, idx int) (int, error) {
	size := i.descs[idx].Size
	i.io.RLock()
	defer i.io.RUnlock()
	if i.isClosed {
		return 0, net.ErrClosed
	}
	if size > uint64(len(p)) || size > i.params.MaxPacketSize {
		return 0, fmt.Errorf("vmnet: a %d-byte frame: %w", size, ErrFrameTooLarge)
	}
	return copy(p, i.dev.packet(idx, int(size))), nil
}

func (i *Interface) readBatch() (int, error) {
	i.io.RLock()
	defer i.io.RUnlock()
	if i.isClosed {
		return 0, net.ErrClosed
	}
	resetForRead(i.descs, i.params.MaxPacketSize)
	n, err := i.dev.read(i.descs)
	if err != nil {
		return 0, err
	}
	if n < 0 || n > len(i.descs) {
		return 0, fmt.Errorf("vmnet: read returned %d packets for %d descriptors", n, len(i.descs))
	}
	return n, nil
}

// wait blocks until vmnet signals packets, the deadline changes or
// passes, or Close.
func (i *Interface) wait() error {
	var timeout <-chan time.Time
	if dl := i.readDeadline(); !dl.IsZero() {
		t := time.NewTimer(time.Until(dl))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-i.avail:
	case <-i.kick:
	case <-timeout:
	case <-i.closed:
		return net.ErrClosed
	}
	return nil
}

func (i *Interface) readDeadline() time.Time {
	i.dlMu.Lock()
	defer i.dlMu.Unlock()
	return i.deadline
}

// SetReadDeadline bounds ReadFrame, as net.Conn's does (os.ErrDeadlineExceeded);
// Pump uses it to end without stopping the interface.
func (i *Interface) SetReadDeadline(t time.Time) error {
	i.dlMu.Lock()
	i.deadline = t
	i.dlMu.Unlock()
	select {
	case i.kick <- struct{}{}:
	default:
	}
	return nil
}

// WriteFrame hands one frame to vmnet, padded to 64 bytes. It does not
// wait: a full vmnet gives ErrBufferFull.
func (i *Interface) WriteFrame(p []byte) error {
	if uint64(len(p)) > i.params.MaxPacketSize {
		return fmt.Errorf("vmnet: a %d-byte frame, the interface takes %d: %w", len(p), i.params.MaxPacketSize, ErrFrameTooLarge)
	}
	i.wmu.Lock()
	defer i.wmu.Unlock()
	frame := padFrame(p, &i.pad)
	i.io.RLock()
	defer i.io.RUnlock()
	if i.isClosed {
		return net.ErrClosed
	}
	return i.dev.write(frame, forWrite(len(frame)))
}

// Close stops the interface (vmnet_stop_interface, waiting for its
// completion handler) and ends a blocked ReadFrame.
func (i *Interface) Close() error {
	i.closeOnce.Do(func() {
		close(i.closed)
		i.io.Lock()
		defer i.io.Unlock()
		i.isClosed = true
		i.closeErr = i.dev.stop()
	})
	return i.closeErr
}
