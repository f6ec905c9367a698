package nethost

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Who holds a port, on Linux: the kernel lists sockets in
// /proc/net/{tcp,tcp6,udp,udp6} with their inode, and /proc/PID/fd/N of
// the owning process links to "socket:[INODE]". The parsing is here,
// pure; portholder_linux.go reads the files.

// procNetSocket is one line of /proc/net/{tcp,udp}[6].
type procNetSocket struct {
	Local netip.AddrPort
	State uint8 // TCP states: 0x0A is LISTEN; UDP: 0x07 unconnected
	Inode uint64
}

// tcpListen is the LISTEN state in /proc/net/tcp.
const tcpListen = 0x0A

// parseProcNet reads the text of a /proc/net/{tcp,udp}[6] file. Lines
// that do not parse are skipped.
func parseProcNet(text string) []procNetSocket {
	var out []procNetSocket
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 10 || !strings.HasSuffix(f[0], ":") {
			continue // the header, or a blank line
		}
		local, err := parseProcNetAddr(f[1])
		if err != nil {
			continue
		}
		st, err1 := strconv.ParseUint(f[3], 16, 8)
		inode, err2 := strconv.ParseUint(f[9], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, procNetSocket{Local: local, State: uint8(st), Inode: inode})
	}
	return out
}

// parseProcNetAddr reads "0100007F:1F90" (127.0.0.1:8080) or its IPv6
// form. The kernel prints the address as 32-bit words in the host's byte
// order, which is little-endian on every host Berth runs on.
func parseProcNetAddr(s string) (netip.AddrPort, error) {
	h, p, ok := strings.Cut(s, ":")
	port, err := strconv.ParseUint(p, 16, 16)
	if !ok || err != nil || (len(h) != 8 && len(h) != 32) {
		return netip.AddrPort{}, fmt.Errorf("socket address %q", s)
	}
	b := make([]byte, len(h)/2)
	for i := 0; i < len(h); i += 8 {
		w, err := strconv.ParseUint(h[i:i+8], 16, 32)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("socket address %q", s)
		}
		binary.LittleEndian.PutUint32(b[i/2:], uint32(w))
	}
	a, _ := netip.AddrFromSlice(b)
	return netip.AddrPortFrom(a, uint16(port)), nil
}

// holdingInodes returns the inodes of sockets in socks that keep proto
// (tcp or udp) port from being bound on host ("" for every address):
// listening TCP sockets, bound UDP sockets, on the same address or on a
// wildcard.
func holdingInodes(socks []procNetSocket, proto, host string, port uint16) []uint64 {
	var want netip.Addr
	if host != "" {
		want, _ = netip.ParseAddr(host)
	}
	var out []uint64
	for _, s := range socks {
		if s.Local.Port() != port || s.Inode == 0 || (proto == "tcp" && s.State != tcpListen) {
			continue
		}
		a := s.Local.Addr().Unmap()
		if !want.IsValid() || want.IsUnspecified() || a.IsUnspecified() || a == want.Unmap() {
			out = append(out, s.Inode)
		}
	}
	return out
}

// socketInode reads an fd link's target, "socket:[12345]".
func socketInode(link string) (uint64, bool) {
	s, ok := strings.CutPrefix(link, "socket:[")
	if !ok || !strings.HasSuffix(s, "]") {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSuffix(s, "]"), 10, 64)
	return n, err == nil
}
