package netconf

import (
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
)

// FuzzDecodeDHCP reads what any machine on the guest's network may send
// the guest's DHCP client. A message that decodes re-encodes (encodeDHCP)
// to one that decodes to the same message; a lease taken from it is
// usable: a unicast address, renewal before rebinding before expiry, DNS
// servers without repeats, and a domain that cannot inject lines into
// resolv.conf.
func FuzzDecodeDHCP(f *testing.F) {
	ack := discoverMsg(7, testMAC, 0)
	ack.op, ack.yiaddr = bootReply, netip.MustParseAddr("10.0.2.15")
	ack.opts = map[byte][]byte{optMsgType: {dhcpAck}, optSubnetMask: ip4("255.255.255.0"), optRouter: ip4("10.0.2.2"),
		optDNS: append(ip4("10.0.2.3"), ip4("10.0.2.3")...), optDomain: []byte("example.test"), optMTU: {0x05, 0xdc},
		optLeaseTime: u32(3600), optRenewal: u32(4000), optRebinding: u32(100), optServerID: ip4("10.0.2.2")}
	f.Add(encodeDHCP(ack))
	f.Add(encodeDHCP(discoverMsg(1, testMAC, 3)))
	over := encodeDHCP(dhcpMsg{op: bootReply, chaddr: testMAC, yiaddr: netip.MustParseAddr("192.168.1.9"),
		opts: map[byte][]byte{optOverload: {3}, optLeaseTime: u32(0xffffffff)}})
	copy(over[108:], []byte{optDomain, 3, 'a', '\n', 'b', optEnd})
	copy(over[44:], []byte{optDNS, 4, 0, 0, 0, 0, optEnd})
	f.Add(over)
	f.Add(encodeDHCP(dhcpMsg{op: bootReply, chaddr: testMAC, yiaddr: netip.MustParseAddr("1.2.3.4"),
		opts: map[byte][]byte{optDNS: []byte(strings.Repeat("\x08\x08\x08\x08", 100))}}))
	f.Add([]byte("short"))

	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeDHCP(b)
		if err != nil {
			if !errors.Is(err, errMalformed) || !errors.Is(err, api.ErrCorrupt) {
				t.Fatalf("decodeDHCP: %v is not a malformed-message error", err)
			}
			return
		}
		again, err := decodeDHCP(encodeDHCP(m))
		if err != nil {
			t.Fatalf("decodeDHCP of a re-encoded message: %v", err)
		}
		if !reflect.DeepEqual(m, again) {
			t.Fatalf("decoded %+v, re-encoded and decoded %+v", m, again)
		}
		_ = answers(m, 7, testMAC)
		l, err := leaseFrom(m)
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("leaseFrom: %v is not a malformed-message error", err)
			}
			return
		}
		a := l.addr.Addr()
		if !l.addr.IsValid() || !a.Is4() || a.IsUnspecified() || a.IsMulticast() || a.IsLoopback() || l.addr.Bits() == 0 {
			t.Fatalf("lease address %v is not usable", l.addr)
		}
		if l.duration < 0 || l.renew < 0 || l.renew > l.rebind || (l.duration > 0 && l.rebind > l.duration) {
			t.Fatalf("lease times: duration %v, renew %v, rebind %v", l.duration, l.renew, l.rebind)
		}
		for i, d := range l.dns {
			if d.IsUnspecified() || slices.Contains(l.dns[:i], d) {
				t.Fatalf("DNS servers %v", l.dns)
			}
		}
		if strings.ContainsAny(l.domain, " \t\r\n#;\x00") {
			t.Fatalf("domain %q would inject into resolv.conf", l.domain)
		}
		if l.mtu != 0 && l.mtu < 68 {
			t.Fatalf("MTU %d", l.mtu)
		}
	})
}

// FuzzDecodeUDP4 reads what the guest's packet socket receives: a
// datagram that decodes, re-encoded by encodeUDP4, decodes to the same
// addresses, ports and payload.
func FuzzDecodeUDP4(f *testing.F) {
	src, dst := netip.MustParseAddr("10.0.2.2"), netip.MustParseAddr("255.255.255.255")
	f.Add(encodeUDP4(src, dst, 67, 68, encodeDHCP(discoverMsg(1, testMAC, 0))))
	f.Add(append(encodeUDP4(src, dst, 1, 2, []byte("padded")), 0, 0, 0, 0))
	opts := encodeUDP4(src, dst, 1, 2, nil)
	opts[0] = 0x46 // an options word the checksum no longer covers
	f.Add(opts)
	f.Add([]byte{0x45, 0, 0, 20})

	f.Fuzz(func(t *testing.T, b []byte) {
		s, d, sp, dp, payload, err := decodeUDP4(b)
		if err != nil {
			if !errors.Is(err, api.ErrCorrupt) {
				t.Fatalf("decodeUDP4: %v is not api.ErrCorrupt", err)
			}
			return
		}
		if len(payload) > len(b) {
			t.Fatalf("payload of %d bytes from a %d-byte datagram", len(payload), len(b))
		}
		s2, d2, sp2, dp2, p2, err := decodeUDP4(encodeUDP4(s, d, sp, dp, payload))
		if err != nil {
			t.Fatalf("decodeUDP4 of a re-encoded datagram: %v", err)
		}
		if s2 != s || d2 != d || sp2 != sp || dp2 != dp || string(p2) != string(payload) {
			t.Fatalf("re-encoded %v:%d > %v:%d %q as %v:%d > %v:%d %q", s, sp, d, dp, payload, s2, sp2, d2, dp2, p2)
		}
	})
}
