package vmnet

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berthvm/berth/core/api"
)

// tapReadBuf holds any frame a TAP device hands up: its MTU may grow
// after OpenTap (IP's 64 KiB, an Ethernet header, a VLAN tag).
const tapReadBuf = 65535 + 14 + 4

// OpenTap opens the existing Linux TAP device name as a Port: the frames
// the host's kernel sends out of that interface are read, and frames
// written enter the kernel as received on it (one read or write, one
// frame: IFF_NO_PI). It is Linux's counterpart of a vmnet interface: a
// port whose far end is the host's own network stack, which routes or
// NATs what it gets.
//
// The device must exist (ip tuntap add dev NAME mode tap [user USER]):
// OpenTap never creates one, so the port vanishes with the process while
// the device and its addresses stay the administrator's. It takes
// CAP_NET_ADMIN or being the device's owner, and fails if another
// process has it open. MaxFrame is the device's MTU, when opened, plus the
// Ethernet header. Off Linux it fails with api.ErrUnsupported.
func OpenTap(name string) (Port, error) {
	if err := CheckTapName(name); err != nil {
		return nil, err
	}
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("vmnet: TAP device %s: %v (create it with: ip tuntap add dev %s mode tap): %w", name, err, name, api.ErrNotFound)
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("vmnet: TAP device %s: open /dev/net/tun: %w", name, err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("vmnet: TAP device %s: %v: %w", name, err, api.ErrInvalidArgument)
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		why := err.Error()
		switch {
		case errors.Is(err, unix.EPERM):
			why = "permission denied: it takes CAP_NET_ADMIN or being the device's owner (ip tuntap add ... user USER)"
		case errors.Is(err, unix.EBUSY):
			why = "another process has it open"
		case errors.Is(err, unix.EINVAL):
			why = "it is not a TAP device"
		}
		return nil, fmt.Errorf("vmnet: TAP device %s: %s: %w", name, why, err)
	}
	// TUNSETIFF makes a new device when none has the name: the one seen
	// above may have gone in between. Only the device that was there is
	// wanted (closing a new one removes it).
	if now, err := net.InterfaceByName(name); err != nil || now.Index != ifc.Index {
		unix.Close(fd)
		return nil, fmt.Errorf("vmnet: TAP device %s went away while being opened: %w", name, api.ErrNotFound)
	}
	// Non-blocking, so os.File polls it and read deadlines work.
	return &tap{f: os.NewFile(uintptr(fd), "tap:"+name), name: name, max: ifc.MTU + 14, buf: make([]byte, tapReadBuf)}, nil
}

// tap is an open TAP device.
type tap struct {
	f    *os.File
	name string
	max  int
	buf  []byte // the reader's
}

var _ Port = (*tap)(nil)

// ReadFrame reads the next frame the kernel sends out of the device.
func (t *tap) ReadFrame(p []byte) (int, error) {
	n, err := t.f.Read(t.buf)
	if errors.Is(err, os.ErrClosed) {
		return 0, fmt.Errorf("vmnet: read from %s: %w", t.name, net.ErrClosed) // as Port promises
	}
	if err != nil {
		return 0, err
	}
	if n > len(p) {
		return 0, fmt.Errorf("vmnet: a %d-byte frame from %s: %w", n, t.name, ErrFrameTooLarge)
	}
	return copy(p, t.buf[:n]), nil
}

// WriteFrame hands the kernel one frame, as received on the device. A
// device that is down takes none (EIO): reported as ErrNoPeer, so that a
// pump drops the frame and goes on.
func (t *tap) WriteFrame(p []byte) error {
	if len(p) > t.max {
		return fmt.Errorf("vmnet: a %d-byte frame, %s takes %d: %w", len(p), t.name, t.max, ErrFrameTooLarge)
	}
	_, err := t.f.Write(p)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EIO):
		return fmt.Errorf("vmnet: write to %s: %w (%w: the device is down)", t.name, ErrNoPeer, err)
	case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.ENOBUFS):
		return fmt.Errorf("vmnet: write to %s: %w (%w)", t.name, ErrBufferFull, err)
	case errors.Is(err, unix.EINVAL):
		return fmt.Errorf("vmnet: write to %s: %w (%w)", t.name, ErrFrameRefused, err)
	}
	return fmt.Errorf("vmnet: write to %s: %w", t.name, err)
}

// MaxFrame is the device's MTU when it was opened, plus 14.
func (t *tap) MaxFrame() int { return t.max }

// SetReadDeadline bounds ReadFrame; Pump uses it to end without closing.
func (t *tap) SetReadDeadline(d time.Time) error { return t.f.SetReadDeadline(d) }

// Close lets go of the device (which stays, with its addresses).
func (t *tap) Close() error { return t.f.Close() }
