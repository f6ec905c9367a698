package vmnet

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// ethernet builds a frame: MACs, the given tags (TPID, TCI pairs), the
// EtherType, then payload.
func ethernet(typ uint16, payload []byte, tags ...uint16) []byte {
	f := []byte{0x52, 0x54, 0, 0, 0, 2, 0x52, 0x54, 0, 0, 0, 1}
	for _, tag := range tags {
		f = binary.BigEndian.AppendUint16(f, tag)
	}
	f = binary.BigEndian.AppendUint16(f, typ)
	return append(f, payload...)
}

// ipv4 is a minimal IPv4 header (ihl words long) from src to dst.
func ipv4(src, dst string, ihl byte) []byte {
	h := make([]byte, int(ihl)*4)
	h[0] = 0x40 | ihl
	h[9] = 6 // TCP
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(h[12:], s[:])
	copy(h[16:], d[:])
	return h
}

func TestFrameHelpers(t *testing.T) {
	ip := ipv4("10.77.0.2", "10.77.0.3", 5)
	for _, tc := range []struct {
		name     string
		frame    []byte
		typ      uint16
		payload  int
		ok       bool
		src, dst string // "" when not IPv4
	}{
		{"IPv4", ethernet(EtherTypeIPv4, ip), EtherTypeIPv4, 14, true, "10.77.0.2", "10.77.0.3"},
		{"IPv4 with options", ethernet(EtherTypeIPv4, ipv4("192.168.1.1", "8.8.8.8", 6)), EtherTypeIPv4, 14, true, "192.168.1.1", "8.8.8.8"},
		{"IPv4 in 802.1Q", ethernet(EtherTypeIPv4, ip, 0x8100, 5), EtherTypeIPv4, 18, true, "10.77.0.2", "10.77.0.3"},
		{"IPv4 in 802.1ad and 802.1Q", ethernet(EtherTypeIPv4, ip, 0x88a8, 5, 0x8100, 6), EtherTypeIPv4, 22, true, "10.77.0.2", "10.77.0.3"},
		{"three tags", ethernet(EtherTypeIPv4, ip, 0x88a8, 5, 0x8100, 6, 0x8100, 7), 0, 0, false, "", ""},
		{"ARP", ethernet(EtherTypeARP, make([]byte, 28)), EtherTypeARP, 14, true, "", ""},
		{"IPv6", ethernet(EtherTypeIPv6, make([]byte, 40)), EtherTypeIPv6, 14, true, "", ""},
		{"IPv4 type, IPv6 inside", ethernet(EtherTypeIPv4, append([]byte{0x60}, make([]byte, 39)...)), EtherTypeIPv4, 14, true, "", ""},
		{"IPv4 with a header length under 5", ethernet(EtherTypeIPv4, append([]byte{0x44}, ip[1:]...)), EtherTypeIPv4, 14, true, "", ""},
		{"IPv4 cut at 19 bytes", ethernet(EtherTypeIPv4, ip[:19]), EtherTypeIPv4, 14, true, "", ""},
		{"header only", ethernet(EtherTypeIPv4, nil), EtherTypeIPv4, 14, true, "", ""},
		{"tag cut short", ethernet(EtherTypeIPv4, nil, 0x8100, 5)[:16], 0, 0, false, "", ""},
		{"13 bytes", ethernet(EtherTypeIPv4, nil)[:13], 0, 0, false, "", ""},
		{"empty", nil, 0, 0, false, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			typ, payload, ok := EtherType(tc.frame)
			if typ != tc.typ || payload != tc.payload || ok != tc.ok {
				t.Fatalf("EtherType = %#04x, %d, %v; want %#04x, %d, %v", typ, payload, ok, tc.typ, tc.payload, tc.ok)
			}
			src, sok := IPv4Source(tc.frame)
			dst, dok := IPv4Destination(tc.frame)
			if tc.src == "" {
				if sok || dok {
					t.Fatalf("IPv4 addresses %v %v from a frame that has none", src, dst)
				}
				return
			}
			if !sok || !dok || src.String() != tc.src || dst.String() != tc.dst {
				t.Fatalf("IPv4 %v (%v) -> %v (%v); want %s -> %s", src, sok, dst, dok, tc.src, tc.dst)
			}
		})
	}
	// Every prefix of a real frame is safe to look at.
	full := ethernet(EtherTypeIPv4, ipv4("10.0.0.1", "10.0.0.2", 5), 0x8100, 1)
	for n := range len(full) {
		EtherType(full[:n])
		IPv4Source(full[:n])
		IPv4Destination(full[:n])
		DenyIPv4To(netip.MustParsePrefix("0.0.0.0/0"))(full[:n])
	}
}

func TestDenyIPv4To(t *testing.T) {
	f := DenyIPv4To(netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.77.0.4/32"))
	for _, tc := range []struct {
		name  string
		frame []byte
		pass  bool
	}{
		{"to a denied host", ethernet(EtherTypeIPv4, ipv4("10.77.0.2", "10.77.0.4", 5)), false},
		{"to a denied network", ethernet(EtherTypeIPv4, ipv4("10.77.0.2", "127.0.0.1", 5)), false},
		{"tagged, to a denied host", ethernet(EtherTypeIPv4, ipv4("10.77.0.2", "10.77.0.4", 5), 0x8100, 9), false},
		{"elsewhere", ethernet(EtherTypeIPv4, ipv4("10.77.0.2", "10.77.0.3", 5)), true},
		{"from a denied host", ethernet(EtherTypeIPv4, ipv4("10.77.0.4", "10.77.0.2", 5)), true},
		{"ARP", ethernet(EtherTypeARP, make([]byte, 28)), true},
		{"IPv6", ethernet(EtherTypeIPv6, make([]byte, 40)), true},
		{"IPv4 too short to tell", ethernet(EtherTypeIPv4, make([]byte, 10)), false},
		{"not a frame", []byte{1, 2, 3}, false},
	} {
		if got := f(tc.frame); got != tc.pass {
			t.Errorf("%s: pass = %v, want %v", tc.name, got, tc.pass)
		}
	}
}
