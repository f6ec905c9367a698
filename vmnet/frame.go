package vmnet

import (
	"encoding/binary"
	"net/netip"
)

// EtherTypes a network process filters on.
const (
	EtherTypeIPv4 uint16 = 0x0800
	EtherTypeARP  uint16 = 0x0806
	EtherTypeIPv6 uint16 = 0x86dd
	etherTypeVLAN uint16 = 0x8100 // 802.1Q
	etherTypeQinQ uint16 = 0x88a8 // 802.1ad
)

// maxTags is how many VLAN tags EtherType looks through (802.1ad: an
// outer and an inner tag).
const maxTags = 2

// EtherType returns the EtherType of what frame carries, looking through
// up to two VLAN tags (802.1Q, 802.1ad), and where that payload starts.
// A guest can tag its frames; a filter that read only the outer type would
// let a tagged IPv4 packet pass as "not IPv4". ok is false for a frame too
// short to hold its header and tags.
func EtherType(frame []byte) (typ uint16, payload int, ok bool) {
	off := 12
	for range maxTags + 1 {
		if len(frame) < off+2 {
			return 0, 0, false
		}
		typ = binary.BigEndian.Uint16(frame[off:])
		if typ != etherTypeVLAN && typ != etherTypeQinQ {
			return typ, off + 2, true
		}
		off += 4
	}
	// More tags than any switch stacks: not a frame to reason about.
	return 0, 0, false
}

// ipv4Header returns the IPv4 header frame carries, or nil: the EtherType
// is IPv4 (through VLAN tags), the version is 4, and the header's
// addresses are all in the frame.
func ipv4Header(frame []byte) []byte {
	typ, off, ok := EtherType(frame)
	if !ok || typ != EtherTypeIPv4 || len(frame) < off+20 {
		return nil
	}
	h := frame[off:]
	if h[0]>>4 != 4 || h[0]&0x0f < 5 {
		return nil
	}
	return h
}

// IPv4Source returns the source address of the IPv4 packet frame carries.
// ok is false for anything else (ARP, IPv6, a short or malformed frame).
func IPv4Source(frame []byte) (addr netip.Addr, ok bool) {
	h := ipv4Header(frame)
	if h == nil {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte(h[12:16])), true
}

// IPv4Destination returns the destination address of the IPv4 packet
// frame carries. ok is false for anything else.
func IPv4Destination(frame []byte) (addr netip.Addr, ok bool) {
	h := ipv4Header(frame)
	if h == nil {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte(h[16:20])), true
}

// DenyIPv4To returns a Filter that drops IPv4 packets to any address in
// prefixes and passes every other frame (ARP, IPv6, IPv4 elsewhere). A
// frame that says it is IPv4 but is too short to hold a header is dropped
// too: it cannot be shown to go elsewhere.
func DenyIPv4To(prefixes ...netip.Prefix) Filter {
	ps := append([]netip.Prefix(nil), prefixes...)
	return func(frame []byte) bool {
		typ, _, ok := EtherType(frame)
		if !ok {
			return false
		}
		if typ != EtherTypeIPv4 {
			return true
		}
		dst, ok := IPv4Destination(frame)
		if !ok {
			return false
		}
		for _, p := range ps {
			if p.Contains(dst) {
				return false
			}
		}
		return true
	}
}
