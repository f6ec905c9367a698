package netconf

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
)

var (
	testMAC    = net.HardwareAddr{0x02, 0x42, 0xac, 0x11, 0x00, 0x02}
	otherMAC   = net.HardwareAddr{0x02, 0x42, 0xac, 0x11, 0x00, 0x03}
	serverAddr = netip.MustParseAddr("192.168.64.1")
)

func ip4(s string) []byte { a := netip.MustParseAddr(s).As4(); return a[:] }

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func TestDHCPEncodeDecode(t *testing.T) {
	m := discoverMsg(0xdeadbeef, testMAC, 3)
	m.opts[optDomain] = bytes.Repeat([]byte("a"), 300) // split in two instances
	b := encodeDHCP(m)
	if len(b) < dhcpMinLen {
		t.Fatalf("%d bytes, want at least %d", len(b), dhcpMinLen)
	}
	if b[0] != bootRequest || b[1] != 1 || b[2] != 6 || binary.BigEndian.Uint32(b[4:8]) != 0xdeadbeef ||
		binary.BigEndian.Uint16(b[8:10]) != 3 || binary.BigEndian.Uint16(b[10:12]) != dhcpFlagBroadcast ||
		!bytes.Equal(b[28:34], testMAC) || binary.BigEndian.Uint32(b[236:240]) != dhcpCookie {
		t.Fatalf("header % x", b[:44])
	}
	if b[240] != optMsgType || b[241] != 1 || b[242] != dhcpDiscover {
		t.Fatalf("option 53 is not first: % x", b[240:250])
	}
	got, err := decodeDHCP(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.xid != m.xid || got.flags != m.flags || got.secs != 3 || got.chaddr.String() != testMAC.String() ||
		got.msgType() != dhcpDiscover || !bytes.Equal(got.opts[optParams], dhcpParams) ||
		len(got.opts[optDomain]) != 300 || got.ciaddr != netip.IPv4Unspecified() {
		t.Fatalf("round trip: %+v", got)
	}

	sel := selectMsg(7, testMAC, 0, dhcpMsg{yiaddr: netip.MustParseAddr("192.168.64.5"), opts: map[byte][]byte{optServerID: ip4("192.168.64.1")}})
	if d, _ := decodeDHCP(encodeDHCP(sel)); d.addrOpt(optRequestedIP) != netip.MustParseAddr("192.168.64.5") ||
		d.addrOpt(optServerID) != serverAddr || d.msgType() != dhcpRequest || d.ciaddr != netip.IPv4Unspecified() {
		t.Fatalf("select: %+v", d)
	}
	ren := renewMsg(8, testMAC, 0, netip.MustParseAddr("192.168.64.5"))
	if d, _ := decodeDHCP(encodeDHCP(ren)); d.ciaddr != netip.MustParseAddr("192.168.64.5") || d.flags != 0 ||
		d.opts[optRequestedIP] != nil || d.opts[optServerID] != nil {
		t.Fatalf("renew: %+v", d)
	}
	rel := releaseMsg(9, testMAC, dhcpLease{addr: netip.MustParsePrefix("192.168.64.5/24"), server: serverAddr})
	if d, _ := decodeDHCP(encodeDHCP(rel)); d.msgType() != dhcpRelease || d.ciaddr != netip.MustParseAddr("192.168.64.5") ||
		d.addrOpt(optServerID) != serverAddr {
		t.Fatalf("release: %+v", d)
	}
}

// reply builds a server message as bytes, with raw options appended in
// the given order (so tests can write malformed or repeated ones).
func rawReply(xid uint32, mac net.HardwareAddr, yiaddr string, opts ...[]byte) []byte {
	b := encodeDHCP(dhcpMsg{op: bootReply, xid: xid, chaddr: mac, yiaddr: netip.MustParseAddr(yiaddr)})
	b = b[:dhcpFixedLen+4]
	for _, o := range opts {
		b = append(b, o...)
	}
	return b
}

func TestDecodeDHCP(t *testing.T) {
	good := rawReply(1, testMAC, "10.0.2.15", []byte{optMsgType, 1, dhcpAck}, []byte{optEnd})
	overload := rawReply(1, testMAC, "10.0.2.15", []byte{optMsgType, 1, dhcpAck, optOverload, 1, 3, optEnd})
	copy(overload[108:], []byte{optRouter, 4, 10, 0, 2, 2, optEnd})
	copy(overload[44:], []byte{optDNS, 4, 10, 0, 2, 3, optEnd})
	cases := []struct {
		name    string
		b       []byte
		wantErr string
		check   func(dhcpMsg) bool
	}{
		{"good", good, "", func(m dhcpMsg) bool { return m.msgType() == dhcpAck && m.yiaddr == netip.MustParseAddr("10.0.2.15") }},
		{"short", good[:239], "shorter than the 240-byte header", nil},
		{"bad cookie", append(append([]byte{}, good[:236]...), 1, 2, 3, 4), "magic cookie", nil},
		{"long hardware address", func() []byte { b := bytes.Clone(good); b[2] = 17; return b }(), "hardware address length 17", nil},
		{"option without length", rawReply(1, testMAC, "10.0.2.15", []byte{optMsgType}), "option 53 in the options has no length", nil},
		{"option overruns", rawReply(1, testMAC, "10.0.2.15", []byte{optDNS, 8, 1, 2, 3, 4}), "option 6 in the options claims 8 bytes, 4 remain", nil},
		{"no end option", rawReply(1, testMAC, "10.0.2.15", []byte{optMsgType, 1, dhcpOffer}), "",
			func(m dhcpMsg) bool { return m.msgType() == dhcpOffer }},
		{"pads and data after end", rawReply(1, testMAC, "10.0.2.15", []byte{optPad, optPad, optMsgType, 1, dhcpNak, optEnd, optDNS, 99}), "",
			func(m dhcpMsg) bool { return m.msgType() == dhcpNak && m.opts[optDNS] == nil }},
		{"repeated option concatenates", rawReply(1, testMAC, "10.0.2.15", []byte{optDNS, 4, 1, 1, 1, 1, optDNS, 4, 8, 8, 8, 8, optEnd}), "",
			func(m dhcpMsg) bool { return len(m.addrsOpt(optDNS)) == 2 }},
		{"overloaded file and sname", overload, "", func(m dhcpMsg) bool {
			return m.addrOpt(optRouter) == netip.MustParseAddr("10.0.2.2") && m.addrOpt(optDNS) == netip.MustParseAddr("10.0.2.3")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := decodeDHCP(c.b)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || !errors.Is(err, api.ErrCorrupt) {
					t.Fatalf("err = %v, want %q (ErrCorrupt)", err, c.wantErr)
				}
				return
			}
			if err != nil || !c.check(m) {
				t.Fatalf("%+v, %v", m, err)
			}
		})
	}
}

func TestLeaseFrom(t *testing.T) {
	full := map[byte][]byte{
		optMsgType: {dhcpAck}, optSubnetMask: ip4("255.255.255.0"), optRouter: ip4("192.168.64.1"),
		optDNS: append(ip4("192.168.64.1"), ip4("1.1.1.1")...), optDomain: []byte("lan\x00"), optMTU: {0x05, 0xdc},
		optLeaseTime: u32(86400), optServerID: ip4("192.168.64.1"),
	}
	// ack is a vmnet-like ACK with some options changed (nil deletes).
	ack := func(changes map[byte][]byte) dhcpMsg {
		o := map[byte][]byte{}
		for k, v := range full {
			o[k] = v
		}
		for k, v := range changes {
			if v == nil {
				delete(o, k)
			} else {
				o[k] = v
			}
		}
		return dhcpMsg{op: bootReply, yiaddr: netip.MustParseAddr("192.168.64.7"), opts: o}
	}
	base := dhcpLease{addr: netip.MustParsePrefix("192.168.64.7/24"), server: serverAddr, router: serverAddr,
		dns: []netip.Addr{serverAddr, netip.MustParseAddr("1.1.1.1")}, domain: "lan", mtu: 1500,
		duration: 24 * time.Hour, renew: 12 * time.Hour, rebind: 21 * time.Hour}
	// want is the base lease changed by f.
	want := func(f func(l *dhcpLease)) dhcpLease {
		l := base
		l.dns = slices.Clone(base.dns)
		f(&l)
		return l
	}
	infinite := func(l *dhcpLease) { l.duration, l.renew, l.rebind = 0, 0, 0 }
	cases := []struct {
		name    string
		m       dhcpMsg
		want    dhcpLease
		wantErr string
	}{
		{"vmnet-like", ack(nil), base, ""},
		{"no mask: class C default", ack(optMap{optSubnetMask: nil}), base, ""},
		{"no mask: class A default", func() dhcpMsg {
			m := ack(optMap{optSubnetMask: nil})
			m.yiaddr = netip.MustParseAddr("10.0.2.15")
			return m
		}(),
			want(func(l *dhcpLease) { l.addr = netip.MustParsePrefix("10.0.2.15/8") }), ""},
		{"infinite lease", ack(optMap{optLeaseTime: u32(infiniteLease)}), want(infinite), ""},
		{"no lease time: infinite", ack(optMap{optLeaseTime: nil}), want(infinite), ""},
		{"T1 and T2 given", ack(optMap{optRenewal: u32(600), optRebinding: u32(900)}),
			want(func(l *dhcpLease) { l.renew, l.rebind = 10*time.Minute, 15*time.Minute }), ""},
		{"T1 after T2 is capped", ack(optMap{optRenewal: u32(5000), optRebinding: u32(900)}),
			want(func(l *dhcpLease) { l.renew, l.rebind = 15*time.Minute, 15*time.Minute }), ""},
		{"T2 beyond the lease is ignored", ack(optMap{optRebinding: u32(999999)}), base, ""},
		{"domain with a newline is dropped", ack(optMap{optDomain: []byte("lan\nnameserver 6.6.6.6")}),
			want(func(l *dhcpLease) { l.domain = "" }), ""},
		{"tiny MTU ignored", ack(optMap{optMTU: {0, 20}}), want(func(l *dhcpLease) { l.mtu = 0 }), ""},
		{"malformed MTU ignored", ack(optMap{optMTU: {5}}), want(func(l *dhcpLease) { l.mtu = 0 }), ""},
		{"unspecified router skipped", ack(optMap{optRouter: append(ip4("0.0.0.0"), ip4("192.168.64.254")...)}),
			want(func(l *dhcpLease) { l.router = netip.MustParseAddr("192.168.64.254") }), ""},
		{"no router", ack(optMap{optRouter: nil}), want(func(l *dhcpLease) { l.router = netip.Addr{} }), ""},
		{"duplicate and zero DNS dropped", ack(optMap{optDNS: append(append(ip4("8.8.8.8"), ip4("0.0.0.0")...), ip4("8.8.8.8")...)}),
			want(func(l *dhcpLease) { l.dns = []netip.Addr{netip.MustParseAddr("8.8.8.8")} }), ""},
		{"malformed DNS list ignored", ack(optMap{optDNS: []byte{8, 8, 8}}), want(func(l *dhcpLease) { l.dns = nil }), ""},
		{"zero address", func() dhcpMsg { m := ack(nil); m.yiaddr = netip.IPv4Unspecified(); return m }(), dhcpLease{}, "not a usable unicast address"},
		{"broadcast address", func() dhcpMsg { m := ack(nil); m.yiaddr = broadcast4; return m }(), dhcpLease{}, "not a usable unicast address"},
		{"holey mask", ack(optMap{optSubnetMask: ip4("255.0.255.0")}), dhcpLease{}, "subnet mask 255.0.255.0"},
		{"/32 mask", ack(optMap{optSubnetMask: ip4("255.255.255.255")}), dhcpLease{}, "not a usable prefix"},
		{"short mask", ack(optMap{optSubnetMask: {255, 255}}), dhcpLease{}, "subnet mask option has 2 bytes"},
		{"zero lease", ack(optMap{optLeaseTime: u32(0)}), dhcpLease{}, "lease time of 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := leaseFrom(c.m)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || !errors.Is(err, api.ErrCorrupt) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

type optMap = map[byte][]byte

func TestUDP4(t *testing.T) {
	src, dst := netip.MustParseAddr("10.0.2.15"), broadcast4
	payload := []byte("a DHCP message of odd length")
	b := encodeUDP4(src, dst, 68, 67, payload)
	if checksum(b[:20], 0) != 0 {
		t.Fatal("IP header checksum does not verify")
	}
	// The UDP checksum verifies over the pseudo-header.
	var pseudo uint32
	for i := 12; i < 20; i += 2 {
		pseudo += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if checksum(b[20:], pseudo+17+uint32(len(b)-20)) != 0 {
		t.Fatal("UDP checksum does not verify")
	}
	s, d, sp, dp, p, err := decodeUDP4(append(bytes.Clone(b), 0, 0, 0, 0)) // Ethernet padding
	if err != nil || s != src || d != dst || sp != 68 || dp != 67 || !bytes.Equal(p, payload) {
		t.Fatalf("decode: %v %v %d %d %q %v", s, d, sp, dp, p, err)
	}
	mod := func(f func(b []byte)) []byte { c := bytes.Clone(b); f(c); return c }
	refix := func(c []byte) { c[10], c[11] = 0, 0; binary.BigEndian.PutUint16(c[10:12], checksum(c[:20], 0)) }
	bad := []struct {
		name, want string
		b          []byte
	}{
		{"short", "19 bytes", b[:19]},
		{"IPv6", "IP version 6", mod(func(c []byte) { c[0] = 0x65; refix(c) })},
		{"checksum", "header checksum", mod(func(c []byte) { c[8]++ })},
		{"TCP", "protocol 6", mod(func(c []byte) { c[9] = 6; refix(c) })},
		{"fragment", "fragment", mod(func(c []byte) { c[6] = 0x20; refix(c) })},
		{"truncated", "total length", b[:30]},
		{"UDP length", "UDP length", mod(func(c []byte) { binary.BigEndian.PutUint16(c[24:26], 4000) })},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			if _, _, _, _, _, err := decodeUDP4(c.b); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
	// Don't-fragment is not a fragment.
	if _, _, _, _, _, err := decodeUDP4(mod(func(c []byte) { c[6] = 0x40; refix(c) })); err != nil {
		t.Fatalf("DF set: %v", err)
	}
}

// fakeDHCP is an in-memory network with a scripted DHCP server: serve
// answers each client message with zero or more replies.
type fakeDHCP struct {
	mu    sync.Mutex
	serve func(req dhcpMsg, src netip.Addr) [][]byte
	sent  []dhcpMsg
	srcs  []netip.Addr
	inbox chan []byte
}

func newFake(serve func(req dhcpMsg, src netip.Addr) [][]byte) *fakeDHCP {
	return &fakeDHCP{serve: serve, inbox: make(chan []byte, 64)}
}

func (f *fakeDHCP) send(b []byte, src netip.Addr) error {
	m, err := decodeDHCP(b)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.sent = append(f.sent, m)
	f.srcs = append(f.srcs, src)
	f.mu.Unlock()
	for _, r := range f.serve(m, src) {
		f.inbox <- r
	}
	return nil
}

func (f *fakeDHCP) recv(deadline time.Time) ([]byte, error) {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case b := <-f.inbox:
		return b, nil
	case <-t.C:
		return nil, os.ErrDeadlineExceeded
	}
}

func (f *fakeDHCP) close() error { return nil }

func (f *fakeDHCP) messages() []dhcpMsg {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]dhcpMsg(nil), f.sent...)
}

// server is a well-behaved server's reply to req: an OFFER to a
// DISCOVER, an ACK to a REQUEST, for addr, from id.
func server(req dhcpMsg, addr string, id netip.Addr, typ byte) []byte {
	s := id.As4()
	return encodeDHCP(dhcpMsg{op: bootReply, xid: req.xid, chaddr: req.chaddr, yiaddr: netip.MustParseAddr(addr),
		opts: map[byte][]byte{optMsgType: {typ}, optServerID: s[:], optSubnetMask: ip4("255.255.255.0"),
			optRouter: ip4("10.0.2.2"), optDNS: ip4("10.0.2.3"), optLeaseTime: u32(86400)}})
}

func answer(req dhcpMsg, addr string, id netip.Addr) []byte {
	switch req.msgType() {
	case dhcpDiscover:
		return server(req, addr, id, dhcpOffer)
	case dhcpRequest:
		return server(req, addr, id, dhcpAck)
	}
	return nil
}

func fastClient(f dhcpConn) *dhcpClient {
	c := newDHCPClient(f, testMAC, "eth0")
	c.firstWait, c.maxWait = 10*time.Millisecond, 40*time.Millisecond
	return c
}

func TestDHCPAcquire(t *testing.T) {
	gw := netip.MustParseAddr("10.0.2.2")
	other := netip.MustParseAddr("10.0.2.99")
	cases := []struct {
		name    string
		serve   func(n int, req dhcpMsg) [][]byte // n counts client messages from 0
		wantErr []string
		check   func(t *testing.T, sent []dhcpMsg)
	}{
		{"offer and ack", func(_ int, req dhcpMsg) [][]byte { return [][]byte{answer(req, "10.0.2.15", gw)} }, nil,
			func(t *testing.T, sent []dhcpMsg) {
				if len(sent) != 2 || sent[0].msgType() != dhcpDiscover || sent[1].msgType() != dhcpRequest ||
					sent[0].flags != dhcpFlagBroadcast || sent[1].xid != sent[0].xid ||
					sent[1].addrOpt(optRequestedIP) != netip.MustParseAddr("10.0.2.15") || sent[1].addrOpt(optServerID) != gw {
					t.Fatalf("client sent %+v", sent)
				}
			}},
		{"silent at first: retransmits", func(n int, req dhcpMsg) [][]byte {
			if n < 3 {
				return nil
			}
			return [][]byte{answer(req, "10.0.2.15", gw)}
		}, nil, func(t *testing.T, sent []dhcpMsg) {
			if len(sent) != 5 || sent[3].msgType() != dhcpDiscover || sent[3].xid != sent[0].xid {
				t.Fatalf("client sent %d messages: %+v", len(sent), sent)
			}
		}},
		{"foreign and broken replies are ignored", func(_ int, req dhcpMsg) [][]byte {
			wrongXID, wrongMAC := req, req
			wrongXID.xid++
			wrongMAC.chaddr = otherMAC
			return [][]byte{[]byte("garbage"), server(wrongXID, "10.0.2.66", gw, dhcpOffer), server(wrongMAC, "10.0.2.67", gw, dhcpOffer),
				encodeDHCP(req), // our own broadcast, looped back
				answer(req, "10.0.2.15", gw)}
		}, nil, nil},
		{"second server's ack ignored", func(_ int, req dhcpMsg) [][]byte {
			if req.msgType() == dhcpRequest {
				return [][]byte{server(req, "10.0.2.99", other, dhcpAck), answer(req, "10.0.2.15", gw)}
			}
			return [][]byte{answer(req, "10.0.2.15", gw), answer(req, "10.0.2.99", other)}
		}, nil, nil},
		{"NAK starts over", func(n int, req dhcpMsg) [][]byte {
			if n == 1 {
				return [][]byte{server(req, "10.0.2.15", gw, dhcpNak)}
			}
			return [][]byte{answer(req, "10.0.2.15", gw)}
		}, nil, func(t *testing.T, sent []dhcpMsg) {
			if len(sent) != 4 || sent[2].msgType() != dhcpDiscover || sent[2].xid == sent[0].xid {
				t.Fatalf("after a NAK the client sent %+v", sent)
			}
		}},
		{"request unanswered: discover again", func(n int, req dhcpMsg) [][]byte {
			if req.msgType() == dhcpRequest && n < 5 {
				return nil
			}
			return [][]byte{answer(req, "10.0.2.15", gw)}
		}, nil, func(t *testing.T, sent []dhcpMsg) {
			if len(sent) != 7 || sent[5].msgType() != dhcpDiscover {
				t.Fatalf("client sent %+v", sent)
			}
		}},
		{"no server", func(int, dhcpMsg) [][]byte { return nil },
			[]string{"no DHCP offer on eth0 (MAC 02:42:ac:11:00:02) within 300ms"}, nil},
		{"offers but no ack", func(_ int, req dhcpMsg) [][]byte {
			if req.msgType() == dhcpDiscover {
				return [][]byte{answer(req, "10.0.2.15", gw)}
			}
			return nil
		}, []string{"no DHCP acknowledgement on eth0 (MAC 02:42:ac:11:00:02) from server 10.0.2.2 for 10.0.2.15 within 300ms"}, nil},
		{"only NAKs", func(_ int, req dhcpMsg) [][]byte {
			if req.msgType() == dhcpDiscover {
				return [][]byte{answer(req, "10.0.2.15", gw)}
			}
			nak := server(req, "0.0.0.0", gw, dhcpNak)
			m, _ := decodeDHCP(nak)
			m.opts[optMessage] = []byte("address\x00 in use\n")
			return [][]byte{encodeDHCP(m)}
		}, []string{"no DHCP lease on eth0", "DHCP server 10.0.2.2 refused the request (NAK): address in use"}, nil},
		{"bad ack", func(_ int, req dhcpMsg) [][]byte {
			if req.msgType() == dhcpDiscover {
				return [][]byte{answer(req, "10.0.2.15", gw)}
			}
			return [][]byte{server(req, "0.0.0.0", gw, dhcpAck)}
		}, []string{"DHCP server 10.0.2.2 on eth0", "not a usable unicast address"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := 0
			f := newFake(func(req dhcpMsg, _ netip.Addr) [][]byte { defer func() { n++ }(); return c.serve(n, req) })
			l, err := fastClient(f).acquire(context.Background(), 300*time.Millisecond)
			if c.wantErr != nil {
				for _, w := range c.wantErr {
					if err == nil || !strings.Contains(err.Error(), w) {
						t.Fatalf("err = %v, want %q", err, w)
					}
				}
				if !strings.Contains(c.name, "bad") && !errors.Is(err, api.ErrUnavailable) {
					t.Fatalf("err = %v, want ErrUnavailable", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if l.addr != netip.MustParsePrefix("10.0.2.15/24") || l.router != gw || l.server != gw {
				t.Fatalf("lease %+v", l)
			}
			if c.check != nil {
				c.check(t, f.messages())
			}
		})
	}

	t.Run("canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		f := newFake(func(dhcpMsg, netip.Addr) [][]byte { cancel(); return nil })
		if _, err := fastClient(f).acquire(ctx, time.Minute); !errors.Is(err, api.ErrCanceled) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestDHCPRenewAndRelease(t *testing.T) {
	gw := netip.MustParseAddr("10.0.2.2")
	cur := dhcpLease{addr: netip.MustParsePrefix("10.0.2.15/24"), server: gw, duration: time.Hour}
	f := newFake(func(req dhcpMsg, _ netip.Addr) [][]byte { return [][]byte{answer(req, "10.0.2.15", gw)} })
	l, err := fastClient(f).renew(context.Background(), cur)
	if err != nil || l.addr != cur.addr || l.duration != 24*time.Hour {
		t.Fatalf("renew: %+v, %v", l, err)
	}
	if m := f.messages()[0]; m.ciaddr != cur.addr.Addr() || m.msgType() != dhcpRequest || f.srcs[0] != cur.addr.Addr() {
		t.Fatalf("renewal sent %+v from %v", m, f.srcs[0])
	}

	nak := newFake(func(req dhcpMsg, _ netip.Addr) [][]byte { return [][]byte{server(req, "0.0.0.0", gw, dhcpNak)} })
	var ne *nakError
	if _, err := fastClient(nak).renew(context.Background(), cur); !errors.As(err, &ne) || ne.server != gw {
		t.Fatalf("renew after NAK: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	silent := newFake(func(dhcpMsg, netip.Addr) [][]byte { return nil })
	if _, err := fastClient(silent).renew(ctx, cur); err == nil || !strings.Contains(err.Error(), "renew the DHCP lease of 10.0.2.15 on eth0") {
		t.Fatalf("silent server: %v", err)
	}

	rel := newFake(func(dhcpMsg, netip.Addr) [][]byte { return nil })
	if err := fastClient(rel).release(cur); err != nil {
		t.Fatal(err)
	}
	if m := rel.messages()[0]; m.msgType() != dhcpRelease || m.ciaddr != cur.addr.Addr() || m.addrOpt(optServerID) != gw {
		t.Fatalf("release sent %+v", m)
	}
}

func TestNextRenewal(t *testing.T) {
	g := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	day := dhcpLease{duration: 24 * time.Hour, renew: 12 * time.Hour, rebind: 21 * time.Hour}
	short := dhcpLease{duration: 60 * time.Second, renew: 30 * time.Second, rebind: 52 * time.Second}
	cases := []struct {
		name string
		now  time.Time
		l    dhcpLease
		want time.Time
	}{
		{"infinite", g, dhcpLease{}, time.Time{}},
		{"fresh: at T1", g.Add(time.Minute), day, g.Add(12 * time.Hour)},
		{"after T1: half the time left", g.Add(12 * time.Hour), day, g.Add(18 * time.Hour)},
		{"near expiry: at least the minimum", g.Add(24*time.Hour - 4*time.Second), day, g.Add(24*time.Hour + 6*time.Second)},
		{"expired: keep trying", g.Add(25 * time.Hour), day, g.Add(25*time.Hour + renewRetryMin)},
		{"short lease", g, short, g.Add(30 * time.Second)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := nextRenewal(c.now, g, c.l); !got.Equal(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

// The keeper renews at T1 and applies a lease that moved.
func TestLeaseKeeper(t *testing.T) {
	gw := netip.MustParseAddr("10.0.2.2")
	var mu sync.Mutex
	addr := "10.0.2.15"
	f := newFake(func(req dhcpMsg, _ netip.Addr) [][]byte {
		mu.Lock()
		defer mu.Unlock()
		m, _ := decodeDHCP(answer(req, addr, gw))
		m.opts[optLeaseTime] = u32(1) // T1 at 500 ms
		addr = "10.0.2.16"            // the next renewal moves the address
		return [][]byte{encodeDHCP(m)}
	})
	applied := make(chan [2]dhcpLease, 4)
	k := &leaseKeeper{
		dial:    func() (*dhcpClient, error) { return fastClient(f), nil },
		apply:   func(old, cur dhcpLease) error { applied <- [2]dhcpLease{old, cur}; return nil },
		attempt: time.Second,
		lease:   dhcpLease{addr: netip.MustParsePrefix("10.0.2.15/24"), server: gw, router: gw, duration: time.Second, renew: 500 * time.Millisecond, rebind: 875 * time.Millisecond},
		granted: time.Now(),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { k.run(ctx); close(done) }()
	select {
	case a := <-applied:
		// The first renewal kept 10.0.2.15 (no apply); the second moved it.
		if a[0].addr.String() != "10.0.2.15/24" || a[1].addr.String() != "10.0.2.16/24" {
			t.Fatalf("applied %+v", a)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no renewal moved the lease; client sent %d messages", len(f.messages()))
	}
	cancel()
	<-done
	sent := f.messages()
	if len(sent) < 2 || sent[0].ciaddr != netip.MustParseAddr("10.0.2.15") || sent[0].msgType() != dhcpRequest {
		t.Fatalf("renewals %+v", sent)
	}
}
