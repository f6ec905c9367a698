package netconf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/berthvm/berth/core/api"
)

// DHCPv4 messages (RFC 2131, options RFC 2132) and the IPv4/UDP framing
// the guest's packet socket needs: pure functions, no I/O, so every case
// (malformed input included) is table-tested.

// Message types (option 53).
const (
	dhcpDiscover = 1
	dhcpOffer    = 2
	dhcpRequest  = 3
	dhcpAck      = 5
	dhcpNak      = 6
	dhcpRelease  = 7
)

// Options.
const (
	optPad         = 0
	optSubnetMask  = 1
	optRouter      = 3
	optDNS         = 6
	optDomain      = 15
	optMTU         = 26
	optRequestedIP = 50
	optLeaseTime   = 51
	optOverload    = 52
	optMsgType     = 53
	optServerID    = 54
	optParams      = 55
	optMessage     = 56
	optMaxSize     = 57
	optRenewal     = 58
	optRebinding   = 59
	optEnd         = 255
)

const (
	bootRequest       = 1
	bootReply         = 2
	dhcpFlagBroadcast = 0x8000
	dhcpServerPort    = 67
	dhcpClientPort    = 68
	dhcpFixedLen      = 236 // op through file, before the magic cookie
	dhcpCookie        = 0x63825363
	// dhcpMinLen is the BOOTP minimum (300 bytes) that old relays and
	// servers expect; shorter requests are padded.
	dhcpMinLen = 300
	// dhcpMaxSize is what the client announces (option 57): an Ethernet
	// MTU's worth, so servers never truncate DNS lists to 576 bytes.
	dhcpMaxSize = 1500 - 20 - 8
)

// dhcpParams are the options the client asks for (option 55).
var dhcpParams = []byte{optSubnetMask, optRouter, optDNS, optDomain, optMTU, optLeaseTime, optServerID, optRenewal, optRebinding}

// dhcpMsg is one DHCP message. Addresses are IPv4; the zero netip.Addr
// encodes as 0.0.0.0.
type dhcpMsg struct {
	op                             byte
	xid                            uint32
	secs                           uint16
	flags                          uint16
	ciaddr, yiaddr, siaddr, giaddr netip.Addr
	chaddr                         net.HardwareAddr
	opts                           map[byte][]byte
}

func (m dhcpMsg) msgType() byte {
	if v := m.opts[optMsgType]; len(v) == 1 {
		return v[0]
	}
	return 0
}

// addrOpt is a single-address option, invalid if absent or malformed.
func (m dhcpMsg) addrOpt(code byte) netip.Addr {
	if v := m.opts[code]; len(v) == 4 {
		return netip.AddrFrom4([4]byte(v))
	}
	return netip.Addr{}
}

// addrsOpt is a list-of-addresses option; malformed lists give none.
func (m dhcpMsg) addrsOpt(code byte) []netip.Addr {
	v := m.opts[code]
	if len(v) == 0 || len(v)%4 != 0 {
		return nil
	}
	var out []netip.Addr
	for i := 0; i < len(v); i += 4 {
		out = append(out, netip.AddrFrom4([4]byte(v[i:i+4])))
	}
	return out
}

// secondsOpt is a 32-bit seconds option (lease, T1, T2); ok is false if
// absent or malformed.
func (m dhcpMsg) secondsOpt(code byte) (uint32, bool) {
	if v := m.opts[code]; len(v) == 4 {
		return binary.BigEndian.Uint32(v), true
	}
	return 0, false
}

func put4(b []byte, a netip.Addr) {
	if a.Is4() {
		v := a.As4()
		copy(b, v[:])
	}
}

// encodeDHCP is the wire form of m: the fixed BOOTP header, the magic
// cookie, option 53 first (some servers look only there), the other
// options in code order, the end option, padding to 300 bytes.
func encodeDHCP(m dhcpMsg) []byte {
	b := make([]byte, dhcpFixedLen+4, dhcpMinLen)
	b[0] = m.op
	b[1] = 1 // Ethernet
	b[2] = byte(len(m.chaddr))
	binary.BigEndian.PutUint32(b[4:8], m.xid)
	binary.BigEndian.PutUint16(b[8:10], m.secs)
	binary.BigEndian.PutUint16(b[10:12], m.flags)
	put4(b[12:16], m.ciaddr)
	put4(b[16:20], m.yiaddr)
	put4(b[20:24], m.siaddr)
	put4(b[24:28], m.giaddr)
	copy(b[28:44], m.chaddr)
	binary.BigEndian.PutUint32(b[dhcpFixedLen:], dhcpCookie)
	codes := make([]int, 0, len(m.opts))
	for c := range m.opts {
		if c != optMsgType && c != optPad && c != optEnd {
			codes = append(codes, int(c))
		}
	}
	slices.Sort(codes)
	if _, ok := m.opts[optMsgType]; ok {
		codes = append([]int{optMsgType}, codes...)
	}
	for _, c := range codes {
		v := m.opts[byte(c)]
		// Values over 255 bytes are split into several instances of the
		// option, which the receiver concatenates (RFC 3396).
		for first := true; first || len(v) > 0; first = false {
			n := min(len(v), 255)
			b = append(b, byte(c), byte(n))
			b = append(b, v[:n]...)
			v = v[n:]
		}
	}
	b = append(b, optEnd)
	for len(b) < dhcpMinLen {
		b = append(b, optPad)
	}
	return b
}

var errMalformed = errors.New("malformed DHCP message")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s: %w", errMalformed, fmt.Sprintf(format, args...), api.ErrCorrupt)
}

// decodeDHCP parses a message. Options repeated are concatenated (RFC
// 3396); options overloaded into the file and sname fields (option 52)
// are read too.
func decodeDHCP(b []byte) (dhcpMsg, error) {
	if len(b) < dhcpFixedLen+4 {
		return dhcpMsg{}, malformed("%d bytes, shorter than the %d-byte header", len(b), dhcpFixedLen+4)
	}
	if c := binary.BigEndian.Uint32(b[dhcpFixedLen:]); c != dhcpCookie {
		return dhcpMsg{}, malformed("magic cookie %#08x, want %#08x", c, dhcpCookie)
	}
	hlen := int(b[2])
	if hlen > 16 {
		return dhcpMsg{}, malformed("hardware address length %d", hlen)
	}
	m := dhcpMsg{
		op:     b[0],
		xid:    binary.BigEndian.Uint32(b[4:8]),
		secs:   binary.BigEndian.Uint16(b[8:10]),
		flags:  binary.BigEndian.Uint16(b[10:12]),
		ciaddr: netip.AddrFrom4([4]byte(b[12:16])),
		yiaddr: netip.AddrFrom4([4]byte(b[16:20])),
		siaddr: netip.AddrFrom4([4]byte(b[20:24])),
		giaddr: netip.AddrFrom4([4]byte(b[24:28])),
		chaddr: net.HardwareAddr(slices.Clone(b[28 : 28+hlen])),
		opts:   map[byte][]byte{},
	}
	if err := parseOptions(b[dhcpFixedLen+4:], m.opts, "options"); err != nil {
		return dhcpMsg{}, err
	}
	if ov := m.opts[optOverload]; len(ov) == 1 {
		// Order per RFC 2131 4.1: options, then file, then sname.
		if ov[0]&1 != 0 {
			if err := parseOptions(b[108:236], m.opts, "file field"); err != nil {
				return dhcpMsg{}, err
			}
		}
		if ov[0]&2 != 0 {
			if err := parseOptions(b[44:108], m.opts, "sname field"); err != nil {
				return dhcpMsg{}, err
			}
		}
	}
	return m, nil
}

func parseOptions(b []byte, into map[byte][]byte, where string) error {
	for i := 0; i < len(b); {
		code := b[i]
		switch code {
		case optPad:
			i++
			continue
		case optEnd:
			return nil
		}
		if i+1 >= len(b) {
			return malformed("option %d in the %s has no length", code, where)
		}
		n := int(b[i+1])
		if i+2+n > len(b) {
			return malformed("option %d in the %s claims %d bytes, %d remain", code, where, n, len(b)-i-2)
		}
		into[code] = append(into[code], b[i+2:i+2+n]...)
		i += 2 + n
	}
	// A missing end option is tolerated: the buffer ended cleanly.
	return nil
}

// dhcpLease is what an ACK grants.
type dhcpLease struct {
	addr   netip.Prefix // the address with the subnet's prefix length
	server netip.Addr   // server identifier (option 54)
	router netip.Addr   // first router, invalid if none
	dns    []netip.Addr
	domain string
	mtu    int
	// duration is the lease time, 0 for an infinite lease; renew (T1)
	// and rebind (T2) are counted from when the lease was granted.
	duration, renew, rebind time.Duration
}

const infiniteLease = 0xffffffff

// leaseFrom validates an ACK and extracts the lease.
func leaseFrom(m dhcpMsg) (dhcpLease, error) {
	ip := m.yiaddr
	if !ip.Is4() || ip.IsUnspecified() || ip.IsMulticast() || ip.IsLoopback() || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return dhcpLease{}, malformed("offered address %s is not a usable unicast address", ip)
	}
	bits := 0
	if v := m.opts[optSubnetMask]; v != nil {
		if len(v) != 4 {
			return dhcpLease{}, malformed("subnet mask option has %d bytes", len(v))
		}
		ones, size := net.IPMask(v).Size()
		if size == 0 || ones == 0 || ones > 31 {
			return dhcpLease{}, malformed("subnet mask %s is not a usable prefix", net.IP(v))
		}
		bits = ones
	} else {
		// No mask: the address's class decides, as RFC 2131 clients do.
		ones, _ := net.IP(ip.AsSlice()).DefaultMask().Size()
		bits = ones
	}
	l := dhcpLease{addr: netip.PrefixFrom(ip, bits), server: m.addrOpt(optServerID)}
	for _, r := range m.addrsOpt(optRouter) {
		if r.IsUnspecified() {
			continue
		}
		l.router = r
		break
	}
	for _, d := range m.addrsOpt(optDNS) {
		if !d.IsUnspecified() && !slices.Contains(l.dns, d) {
			l.dns = append(l.dns, d)
		}
	}
	l.domain = cleanDomain(m.opts[optDomain])
	if v := m.opts[optMTU]; len(v) == 2 {
		// 68 is the IPv4 minimum; smaller values are nonsense, ignored.
		if mtu := int(binary.BigEndian.Uint16(v)); mtu >= 68 {
			l.mtu = mtu
		}
	}
	secs, ok := m.secondsOpt(optLeaseTime)
	if !ok || secs == infiniteLease {
		return l, nil // infinite: never renewed
	}
	if secs == 0 {
		return dhcpLease{}, malformed("lease time of 0 seconds")
	}
	l.duration = time.Duration(secs) * time.Second
	// duration/8*7, not duration*7/8: a lease of 2^32-2 seconds is
	// near time.Duration's range, and times 7 it would wrap negative.
	l.renew, l.rebind = l.duration/2, l.duration/8*7
	t1, ok1 := m.secondsOpt(optRenewal)
	t2, ok2 := m.secondsOpt(optRebinding)
	r1, r2 := time.Duration(t1)*time.Second, time.Duration(t2)*time.Second
	if ok2 && r2 > 0 && r2 <= l.duration {
		l.rebind = r2
	}
	if ok1 && r1 > 0 && r1 <= l.rebind {
		l.renew = r1
	}
	if l.renew > l.rebind {
		l.renew = l.rebind
	}
	return l, nil
}

// cleanDomain keeps a domain name (option 15) only if it is a plain DNS
// name: it goes into resolv.conf's search line, where spaces or newlines
// from a server would inject directives.
func cleanDomain(v []byte) string {
	for len(v) > 0 && v[len(v)-1] == 0 {
		v = v[:len(v)-1]
	}
	if len(v) == 0 || len(v) > 253 {
		return ""
	}
	for _, c := range v {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_'
		if !ok {
			return ""
		}
	}
	return string(v)
}

// clientMsg starts a client message with the fields every one carries.
func clientMsg(typ byte, xid uint32, mac net.HardwareAddr, secs uint16) dhcpMsg {
	var size [2]byte
	binary.BigEndian.PutUint16(size[:], dhcpMaxSize)
	return dhcpMsg{op: bootRequest, xid: xid, secs: secs, chaddr: mac,
		opts: map[byte][]byte{optMsgType: {typ}, optParams: dhcpParams, optMaxSize: size[:]}}
}

// discoverMsg asks servers for offers. The broadcast flag makes servers
// broadcast their replies, which any client socket receives before the
// interface has an address.
func discoverMsg(xid uint32, mac net.HardwareAddr, secs uint16) dhcpMsg {
	m := clientMsg(dhcpDiscover, xid, mac, secs)
	m.flags = dhcpFlagBroadcast
	return m
}

// selectMsg requests the address of one offer (SELECTING state).
func selectMsg(xid uint32, mac net.HardwareAddr, secs uint16, offer dhcpMsg) dhcpMsg {
	m := clientMsg(dhcpRequest, xid, mac, secs)
	m.flags = dhcpFlagBroadcast
	y := offer.yiaddr.As4()
	m.opts[optRequestedIP] = y[:]
	m.opts[optServerID] = offer.opts[optServerID]
	return m
}

// renewMsg extends a bound lease. It is broadcast (the REBINDING form,
// which any server answers) so the client needs no ARP entry for the
// server: the same packet path works in every state.
func renewMsg(xid uint32, mac net.HardwareAddr, secs uint16, addr netip.Addr) dhcpMsg {
	m := clientMsg(dhcpRequest, xid, mac, secs)
	m.ciaddr = addr
	return m
}

// releaseMsg gives a lease back.
func releaseMsg(xid uint32, mac net.HardwareAddr, l dhcpLease) dhcpMsg {
	m := dhcpMsg{op: bootRequest, xid: xid, chaddr: mac, ciaddr: l.addr.Addr(),
		opts: map[byte][]byte{optMsgType: {dhcpRelease}}}
	if l.server.Is4() {
		s := l.server.As4()
		m.opts[optServerID] = s[:]
	}
	return m
}

// answers reports whether reply m belongs to request xid from mac.
func answers(m dhcpMsg, xid uint32, mac net.HardwareAddr) bool {
	return m.op == bootReply && m.xid == xid && len(m.chaddr) >= len(mac) && string(m.chaddr[:len(mac)]) == string(mac)
}

// IPv4/UDP framing for the packet socket, which sends and receives whole
// IP datagrams (the kernel adds and strips the Ethernet header).

func checksum(b []byte, initial uint32) uint16 {
	sum := initial
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// encodeUDP4 wraps payload in UDP and IPv4 headers, checksums included.
func encodeUDP4(src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	const ipLen, udpLen = 20, 8
	b := make([]byte, ipLen+udpLen+len(payload))
	b[0] = 0x45 // version 4, 5 words of header
	binary.BigEndian.PutUint16(b[2:4], uint16(len(b)))
	b[8] = 64 // TTL
	b[9] = 17 // UDP
	put4(b[12:16], src)
	put4(b[16:20], dst)
	binary.BigEndian.PutUint16(b[10:12], checksum(b[:ipLen], 0))
	u := b[ipLen:]
	binary.BigEndian.PutUint16(u[0:2], sport)
	binary.BigEndian.PutUint16(u[2:4], dport)
	binary.BigEndian.PutUint16(u[4:6], uint16(udpLen+len(payload)))
	copy(u[udpLen:], payload)
	// Pseudo-header: addresses, protocol, UDP length.
	var pseudo uint32
	for i := 12; i < 20; i += 2 {
		pseudo += uint32(b[i])<<8 | uint32(b[i+1])
	}
	pseudo += 17 + uint32(len(u))
	cs := checksum(u, pseudo)
	if cs == 0 {
		cs = 0xffff // 0 means "no checksum" in UDP over IPv4
	}
	binary.BigEndian.PutUint16(u[6:8], cs)
	return b
}

// decodeUDP4 unwraps an IPv4 UDP datagram. The UDP checksum is not
// checked: with virtio offloads a host may hand over datagrams whose
// checksum was never filled in, and DHCP replies are matched by
// transaction id and hardware address anyway.
func decodeUDP4(b []byte) (src, dst netip.Addr, sport, dport uint16, payload []byte, err error) {
	fail := func(format string, args ...any) (netip.Addr, netip.Addr, uint16, uint16, []byte, error) {
		return netip.Addr{}, netip.Addr{}, 0, 0, nil, fmt.Errorf("bad IPv4 datagram: %s: %w", fmt.Sprintf(format, args...), api.ErrCorrupt)
	}
	if len(b) < 20 {
		return fail("%d bytes", len(b))
	}
	if b[0]>>4 != 4 {
		return fail("IP version %d", b[0]>>4)
	}
	ihl := int(b[0]&0xf) * 4
	total := int(binary.BigEndian.Uint16(b[2:4]))
	if ihl < 20 || total < ihl+8 || total > len(b) {
		return fail("header length %d, total length %d, %d bytes", ihl, total, len(b))
	}
	if checksum(b[:ihl], 0) != 0 {
		return fail("header checksum")
	}
	if b[9] != 17 {
		return fail("protocol %d, not UDP", b[9])
	}
	if binary.BigEndian.Uint16(b[6:8])&0x3fff != 0 {
		return fail("fragment")
	}
	b = b[:total] // Ethernet pads short frames
	u := b[ihl:]
	ulen := int(binary.BigEndian.Uint16(u[4:6]))
	if ulen < 8 || ulen > len(u) {
		return fail("UDP length %d of %d bytes", ulen, len(u))
	}
	return netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20])),
		binary.BigEndian.Uint16(u[0:2]), binary.BigEndian.Uint16(u[2:4]), u[8:ulen], nil
}
