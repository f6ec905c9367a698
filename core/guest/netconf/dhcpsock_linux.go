package netconf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Sockets for the DHCP client. A packet socket (AF_PACKET, cooked: the
// kernel handles the Ethernet header) is used first, as udhcpc and
// systemd-networkd do: it sends from 0.0.0.0 and receives replies
// whether the server broadcasts them or unicasts them to the offered
// address, which the kernel's IP stack would drop while the interface has
// no address. Kernels without CONFIG_PACKET fall back to a UDP socket
// bound to the device, which relies on servers honouring the broadcast
// flag (slirp, macOS bootpd and busybox udhcpd do).

var broadcast4 = netip.AddrFrom4([4]byte{255, 255, 255, 255})

func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

// openDHCPConn opens the client's socket on interface n.
func openDHCPConn(n *net.Interface) (dhcpConn, error) {
	c, err := openPacketConn(n.Index)
	if errors.Is(err, unix.EAFNOSUPPORT) {
		slog.Debug("dhcp: no packet sockets in this kernel, using UDP", "interface", n.Name)
		return openUDPConn(n.Name)
	}
	return c, err
}

// dhcpFilter accepts IPv4 UDP datagrams to port 68 that are not
// fragments; offsets count from the IP header (SOCK_DGRAM).
var dhcpFilter = []unix.SockFilter{
	{Code: unix.BPF_LD | unix.BPF_B | unix.BPF_ABS, K: 9},                      // protocol
	{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: 17, Jt: 0, Jf: 5},      // UDP?
	{Code: unix.BPF_LD | unix.BPF_H | unix.BPF_ABS, K: 6},                      // flags, fragment offset
	{Code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, K: 0x3fff, Jt: 3},        // fragment: drop
	{Code: unix.BPF_LDX | unix.BPF_B | unix.BPF_MSH, K: 0},                     // X = IP header length
	{Code: unix.BPF_LD | unix.BPF_H | unix.BPF_IND, K: 2},                      // UDP destination port
	{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: dhcpClientPort, Jt: 1}, // 68?
	{Code: unix.BPF_RET | unix.BPF_K, K: 0},
	{Code: unix.BPF_RET | unix.BPF_K, K: 0xffff},
}

type packetConn struct {
	fd      int
	ifindex int
	buf     []byte
}

func openPacketConn(ifindex int) (*packetConn, error) {
	proto := htons(unix.ETH_P_IP)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(proto))
	if err != nil {
		return nil, fmt.Errorf("packet socket: %w", err)
	}
	prog := unix.SockFprog{Len: uint16(len(dhcpFilter)), Filter: &dhcpFilter[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("packet socket filter: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifindex}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind packet socket: %w", err)
	}
	return &packetConn{fd: fd, ifindex: ifindex, buf: make([]byte, 1<<16)}, nil
}

func (p *packetConn) send(msg []byte, src netip.Addr) error {
	pkt := encodeUDP4(src, broadcast4, dhcpClientPort, dhcpServerPort, msg)
	to := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: p.ifindex, Halen: 6,
		Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	return unix.Sendto(p.fd, pkt, 0, to)
}

func (p *packetConn) recv(deadline time.Time) ([]byte, error) {
	for {
		n, err := recvBefore(p.fd, p.buf, deadline)
		if err != nil {
			return nil, err
		}
		_, _, _, dport, payload, err := decodeUDP4(p.buf[:n])
		if err != nil || dport != dhcpClientPort {
			continue
		}
		return append([]byte(nil), payload...), nil
	}
}

func (p *packetConn) close() error { return unix.Close(p.fd) }

type udpConn struct {
	fd  int
	buf []byte
}

func openUDPConn(ifname string) (*udpConn, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("UDP socket: %w", err)
	}
	for _, o := range []int{unix.SO_REUSEADDR, unix.SO_BROADCAST} {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, o, 1); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("UDP socket option: %w", err)
		}
	}
	if err := unix.BindToDevice(fd, ifname); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind UDP socket to %s: %w", ifname, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: dhcpClientPort}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind UDP port %d: %w", dhcpClientPort, err)
	}
	return &udpConn{fd: fd, buf: make([]byte, 1<<16)}, nil
}

// send ignores src: the kernel uses the interface's address, or 0.0.0.0
// while it has none.
func (u *udpConn) send(msg []byte, _ netip.Addr) error {
	return unix.Sendto(u.fd, msg, 0, &unix.SockaddrInet4{Port: dhcpServerPort, Addr: broadcast4.As4()})
}

func (u *udpConn) recv(deadline time.Time) ([]byte, error) {
	n, err := recvBefore(u.fd, u.buf, deadline)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), u.buf[:n]...), nil
}

func (u *udpConn) close() error { return unix.Close(u.fd) }

// recvBefore reads one datagram from fd, or fails with
// os.ErrDeadlineExceeded once deadline has passed.
func recvBefore(fd int, buf []byte, deadline time.Time) (int, error) {
	for {
		ms := 0
		if d := time.Until(deadline); d > 0 {
			ms = int((d + time.Millisecond - 1) / time.Millisecond)
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, ms)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("poll: %w", err)
		}
		if n == 0 {
			if time.Now().Before(deadline) {
				continue
			}
			return 0, os.ErrDeadlineExceeded
		}
		n, _, err = unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("receive: %w", err)
		}
		return n, nil
	}
}
