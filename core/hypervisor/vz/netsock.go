package vz

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/berthvm/berth/core/api"
)

// connectDatagram makes the host end of a NIC attached to a userspace
// network (a VZFileHandleNetworkDeviceAttachment): a unix datagram socket
// bound to local, so the network can answer, and connected to remote,
// where the network (gvisor-tap-vsock's AcceptVfkit) listens. It sends
// the "VFKT" greeting, which tells the network our address before the
// guest sends its first frame (the network consumes it).
func connectDatagram(local, remote string) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	if err != nil {
		return nil, fmt.Errorf("network socket: %w", err)
	}
	unix.CloseOnExec(fd)
	fail := func(what string, err error) (*os.File, error) {
		unix.Close(fd)
		_ = os.Remove(local)
		return nil, fmt.Errorf("network socket %s: %s: %w: %w", remote, what, err, api.ErrUnavailable)
	}
	_ = os.Remove(local)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: local}); err != nil {
		return fail("bind "+local, err)
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: remote}); err != nil {
		return fail("connect (is the network running?)", err)
	}
	// Frames come in bursts; the framework's recommended sizes (and
	// vfkit's): 1 MiB to send, 4 MiB to receive.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 1<<20); err != nil {
		return fail("SO_SNDBUF", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20); err != nil {
		return fail("SO_RCVBUF", err)
	}
	if _, err := unix.Write(fd, []byte("VFKT")); err != nil {
		return fail("greeting", err)
	}
	return os.NewFile(uintptr(fd), local), nil
}
