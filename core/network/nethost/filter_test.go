package nethost

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
)

// pkt describes a frame for the filter tests.
type pkt struct {
	dstMAC, srcMAC string
	etherType      uint16
	src, dst       string
	proto          byte
	dport          uint16
	flags          uint16 // IPv4 flags and fragment offset
	ihl            int    // IPv4 header length in 32-bit words; default 5
	cut            int    // bytes to cut off the end
	arpSHA, arpSPA string // ARP sender
	arpOp          uint16 // default a request
	arpTPA         string // ARP target; default the gateway
}

const (
	vmMAC    = "52:54:00:00:00:02"
	otherMAC = "52:54:00:00:00:03"
	bcastMAC = "ff:ff:ff:ff:ff:ff"
)

// build encodes p: Ethernet, then IPv4 with a TCP or UDP header (ports
// only), or ARP.
func (p pkt) build() []byte {
	mac := func(s string) []byte {
		m, err := net.ParseMAC(s)
		if err != nil {
			panic(err)
		}
		return m
	}
	ip4 := func(s string) []byte { a := netip.MustParseAddr(s).As4(); return a[:] }
	if p.srcMAC == "" {
		p.srcMAC = vmMAC
	}
	if p.dstMAC == "" {
		p.dstMAC = GatewayMAC
	}
	if p.etherType == 0 {
		p.etherType = etherTypeIPv4
	}
	b := append(mac(p.dstMAC), mac(p.srcMAC)...)
	b = binary.BigEndian.AppendUint16(b, p.etherType)
	switch p.etherType {
	case etherTypeIPv4:
		if p.src == "" {
			p.src = "10.89.1.2"
		}
		if p.ihl == 0 {
			p.ihl = 5
		}
		h := make([]byte, max(p.ihl*4, 20))
		h[0] = 4<<4 | byte(p.ihl)
		binary.BigEndian.PutUint16(h[6:8], p.flags)
		h[8] = 64
		h[9] = p.proto
		copy(h[12:16], ip4(p.src))
		copy(h[16:20], ip4(p.dst))
		l4 := make([]byte, 20)
		binary.BigEndian.PutUint16(l4[0:2], 40000)
		binary.BigEndian.PutUint16(l4[2:4], p.dport)
		switch p.proto {
		case protoTCP: // a SYN
			binary.BigEndian.PutUint32(l4[4:8], 1000)
			l4[12] = 5 << 4
			l4[13] = 0x02
			binary.BigEndian.PutUint16(l4[14:16], 65535)
		case protoUDP:
			l4 = l4[:8+4]
			binary.BigEndian.PutUint16(l4[4:6], uint16(len(l4)))
		}
		binary.BigEndian.PutUint16(h[2:4], uint16(len(h)+len(l4)))
		binary.BigEndian.PutUint16(h[10:12], ^checksum(h, 0))
		if p.proto == protoTCP || p.proto == protoUDP {
			// The pseudo-header: addresses, protocol, length.
			pseudo := append(append([]byte{}, h[12:20]...), 0, p.proto, byte(len(l4)>>8), byte(len(l4)))
			sumAt := 16
			if p.proto == protoUDP {
				sumAt = 6
			}
			binary.BigEndian.PutUint16(l4[sumAt:], ^checksum(l4, checksum(pseudo, 0)))
		}
		b = append(append(b, h...), l4...)
	case etherTypeARP:
		if p.arpSHA == "" {
			p.arpSHA = vmMAC
		}
		if p.arpSPA == "" {
			p.arpSPA = "10.89.1.2"
		}
		if p.arpOp == 0 {
			p.arpOp = 1
		}
		if p.arpTPA == "" {
			p.arpTPA = "10.89.1.1"
		}
		a := []byte{0, 1, 8, 0, 6, 4}
		a = binary.BigEndian.AppendUint16(a, p.arpOp)
		a = append(a, mac(p.arpSHA)...)
		a = append(a, ip4(p.arpSPA)...)
		a = append(a, make([]byte, 6)...)
		a = append(a, ip4(p.arpTPA)...)
		b = append(b, a...)
	default:
		b = append(b, make([]byte, 40)...)
	}
	return b[:len(b)-p.cut]
}

// checksum is the Internet checksum of b, folded, starting from sum.
func checksum(b []byte, sum uint16) uint16 {
	s := uint32(sum)
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}

func testFilter(t *testing.T, edit func(*Plan)) *Filter {
	t.Helper()
	p := basePlan()
	edit(&p)
	f, err := NewFilter(p, Attachment{VM: "vm", MAC: vmMAC, IP: "10.89.1.2", Socket: "/r/vm.sock", Peer: "/v/vm.sock"})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFilter(t *testing.T) {
	plain := func(*Plan) {}
	hostAccess := func(p *Plan) { p.HostAccess = true }
	internal := func(p *Plan) { p.Internal = true }
	internalHost := func(p *Plan) { p.Internal, p.HostAccess = true, true }
	cases := []struct {
		name string
		plan func(*Plan)
		p    pkt
		want Reason
	}{
		// What a guest does every day.
		{"TCP to the internet", plain, pkt{dst: "93.184.216.34", proto: protoTCP, dport: 443}, Pass},
		{"DNS at the gateway", plain, pkt{dst: "10.89.1.1", proto: protoUDP, dport: 53}, Pass},
		{"to a peer", plain, pkt{dstMAC: otherMAC, dst: "10.89.1.3", proto: protoTCP, dport: 80}, Pass},
		{"ARP", plain, pkt{dstMAC: bcastMAC, etherType: etherTypeARP}, Pass},
		{"ARP probe from 0.0.0.0", plain, pkt{dstMAC: bcastMAC, etherType: etherTypeARP, arpSPA: "0.0.0.0"}, Pass},
		{"IPv6 to a peer", plain, pkt{dstMAC: otherMAC, etherType: 0x86dd}, Pass},
		{"limited broadcast", plain, pkt{dstMAC: bcastMAC, dst: "255.255.255.255", proto: protoUDP, dport: 9}, Pass},
		{"DHCP discover", plain, pkt{dstMAC: bcastMAC, src: "0.0.0.0", dst: "255.255.255.255", proto: protoUDP, dport: 67}, Pass},
		{"reply to a published port's connection", plain, pkt{dst: "10.89.1.1", proto: protoTCP, dport: 45678}, Pass},
		{"a fragment to the internet", plain, pkt{dst: "93.184.216.34", proto: protoUDP, flags: 0x2000}, Pass},
		{"IP options", plain, pkt{dst: "93.184.216.34", proto: protoTCP, dport: 80, ihl: 6}, Pass},

		// The host's loopback, whichever way it is addressed.
		{"to 127.0.0.1 via the gateway", plain, pkt{dst: "127.0.0.1", proto: protoTCP, dport: 8080}, DropLoopback},
		{"to 127.9.9.9 over UDP", plain, pkt{dst: "127.9.9.9", proto: protoUDP, dport: 53}, DropLoopback},
		{"to 127.0.0.1 even with host access", hostAccess, pkt{dst: "127.0.0.1", proto: protoTCP, dport: 8080}, DropLoopback},
		{"to 127.0.0.1 as a fragment", plain, pkt{dst: "127.0.0.1", proto: protoTCP, flags: 0x0010}, DropLoopback},
		{"to 127.0.0.1 via a peer's MAC", plain, pkt{dstMAC: otherMAC, dst: "127.0.0.1", proto: protoTCP, dport: 80}, DropLoopback},
		{"to 0.0.0.0", plain, pkt{dst: "0.0.0.0", proto: protoTCP, dport: 8080}, DropThisHost},
		{"to 0.1.2.3", plain, pkt{dst: "0.1.2.3", proto: protoTCP, dport: 8080}, DropThisHost},
		{"to the host address without host access", plain, pkt{dst: "10.89.1.254", proto: protoTCP, dport: 8080}, DropNotOnNetwork},
		{"to the host address with host access", hostAccess, pkt{dst: "10.89.1.254", proto: protoTCP, dport: 8080}, Pass},

		// Other networks.
		{"to another network", plain, pkt{dst: "10.89.2.7", proto: protoTCP, dport: 80}, DropOtherNetwork},
		{"to another network via a peer's MAC", plain, pkt{dstMAC: otherMAC, dst: "10.89.3.7", proto: protoICMP}, DropOtherNetwork},

		// Addresses of the subnet nobody has: the forwarder would dial
		// them through the host.
		{"to an unused address via the gateway", plain, pkt{dst: "10.89.1.77", proto: protoTCP, dport: 80}, DropNotOnNetwork},
		{"subnet broadcast", plain, pkt{dstMAC: bcastMAC, dst: "10.89.1.255", proto: protoUDP, dport: 9}, Pass},

		// Internal networks.
		{"internal: to the internet", internal, pkt{dst: "93.184.216.34", proto: protoTCP, dport: 443}, DropNoWayOut},
		{"internal: to the host's LAN address", internal, pkt{dst: "192.0.2.2", proto: protoTCP, dport: 80}, DropNoWayOut},
		{"internal: UDP DNS at the gateway", internal, pkt{dst: "10.89.1.1", proto: protoUDP, dport: 53}, Pass},
		{"internal: TCP DNS at the gateway", internal, pkt{dst: "10.89.1.1", proto: protoTCP, dport: 53}, Pass},
		{"internal: ping the gateway", internal, pkt{dst: "10.89.1.1", proto: protoICMP}, Pass},
		{"internal: another port of the gateway", internal, pkt{dst: "10.89.1.1", proto: protoTCP, dport: 80}, DropGatewayOnlyDNS},
		{"internal: a fragment to the gateway", internal, pkt{dst: "10.89.1.1", proto: protoUDP, dport: 53, flags: 0x2000}, DropGatewayOnlyDNS},
		{"internal: to a peer", internal, pkt{dstMAC: otherMAC, dst: "10.89.1.3", proto: protoTCP, dport: 80}, Pass},
		{"internal: to the host without access", internal, pkt{dst: "10.89.1.254", proto: protoTCP, dport: 80}, DropNotOnNetwork},
		{"internal: to the host with access", internalHost, pkt{dst: "10.89.1.254", proto: protoTCP, dport: 80}, Pass},
		{"internal: loopback still", internalHost, pkt{dst: "127.0.0.1", proto: protoTCP, dport: 80}, DropLoopback},

		// Spoofing and garbage.
		{"another VM's MAC", plain, pkt{srcMAC: otherMAC, dst: "93.184.216.34", proto: protoTCP, dport: 80}, DropSpoofedMAC},
		{"the gateway's MAC", plain, pkt{srcMAC: GatewayMAC, dstMAC: otherMAC, dst: "10.89.1.3", proto: protoTCP, dport: 80}, DropSpoofedMAC},
		{"another VM's address", plain, pkt{src: "10.89.1.3", dst: "93.184.216.34", proto: protoTCP, dport: 80}, DropSpoofedIP},
		{"0.0.0.0 but not DHCP", plain, pkt{src: "0.0.0.0", dst: "93.184.216.34", proto: protoTCP, dport: 80}, DropSpoofedIP},
		{"ARP claiming the gateway", plain, pkt{dstMAC: bcastMAC, etherType: etherTypeARP, arpSPA: "10.89.1.1"}, DropSpoofedIP},
		{"ARP with another sender MAC", plain, pkt{dstMAC: bcastMAC, etherType: etherTypeARP, arpSHA: otherMAC}, DropSpoofedMAC},
		{"short ARP", plain, pkt{dstMAC: bcastMAC, etherType: etherTypeARP, cut: 1}, DropMalformed},
		{"runt", plain, pkt{dst: "93.184.216.34", proto: protoTCP, cut: 45}, DropRunt},
		{"truncated IPv4", plain, pkt{dst: "93.184.216.34", proto: protoTCP, cut: 25}, DropMalformed},
		{"IHL too small", plain, pkt{dst: "93.184.216.34", proto: protoTCP, ihl: 4}, DropMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := testFilter(t, tc.plan)
			if got := f.Check(tc.p.build()); got != tc.want {
				t.Fatalf("Check = %q; want %q", got, tc.want)
			}
		})
	}
}

func TestGuard(t *testing.T) {
	cases := []struct {
		plan func(*Plan)
		dst  string
		want Reason
	}{
		{func(*Plan) {}, "93.184.216.34", Pass},
		{func(*Plan) {}, "192.0.2.2", Pass},
		{func(*Plan) {}, "127.0.0.1", DropLoopback},
		{func(*Plan) {}, "0.0.0.0", DropThisHost},
		{func(*Plan) {}, "10.89.2.9", DropOtherNetwork},
		{func(*Plan) {}, "10.89.1.1", DropNotOnNetwork}, // the gateway itself: nothing to dial
		{func(*Plan) {}, "10.89.1.3", DropNotOnNetwork}, // a broadcast reached the gateway
		{func(*Plan) {}, "10.89.1.254", DropNotOnNetwork},
		{func(p *Plan) { p.HostAccess = true }, "10.89.1.254", Pass},
		{func(p *Plan) { p.Internal = true }, "93.184.216.34", DropNoWayOut},
		{func(p *Plan) { p.Internal = true }, "10.89.1.3", DropNoWayOut},
		{func(p *Plan) { p.Internal, p.HostAccess = true, true }, "10.89.1.254", Pass},
	}
	for _, tc := range cases {
		p := basePlan()
		tc.plan(&p)
		r, err := p.resolve()
		if err != nil {
			t.Fatal(err)
		}
		if got := guard(r, netip.MustParseAddr(tc.dst)); got != tc.want {
			t.Errorf("guard(internal=%v host=%v, %s) = %q; want %q", p.Internal, p.HostAccess, tc.dst, got, tc.want)
		}
	}
}

func TestReasonNames(t *testing.T) {
	seen := map[string]bool{}
	for r := Pass; r < numReasons; r++ {
		s := r.String()
		if s == "" || seen[s] {
			t.Errorf("reason %d has name %q", r, s)
		}
		seen[s] = true
	}
	if numReasons.String() != "unknown" {
		t.Error("an out-of-range reason has a name")
	}
}

func TestLookupLocal(t *testing.T) {
	p := basePlan()
	p.HostAccess = true
	r, _ := p.resolve()
	recs := map[string][]netip.Addr{
		"web":  {netip.MustParseAddr("10.89.1.3"), netip.MustParseAddr("10.89.1.4")},
		"db":   {netip.MustParseAddr("10.89.1.2")},
		"host": {netip.MustParseAddr("10.89.1.9")},
		"a.b":  {netip.MustParseAddr("10.89.1.5")},
	}
	cases := []struct {
		q     string
		want  []string
		local bool
	}{
		{"web.berth.internal.", []string{"10.89.1.3", "10.89.1.4"}, true},
		{"DB.Berth.Internal.", []string{"10.89.1.2"}, true},
		{"db.", []string{"10.89.1.2"}, true},
		{"a.b.", []string{"10.89.1.5"}, true},
		{"a.b.berth.internal.", []string{"10.89.1.5"}, true},
		{"host.berth.internal.", []string{"10.89.1.254"}, true}, // the host wins
		{"nope.berth.internal.", nil, true},                     // NXDOMAIN, not the host's resolvers
		{"berth.internal.", nil, true},
		{"example.com.", nil, false},
		{"nope.", nil, false},
	}
	for _, tc := range cases {
		got, local := lookupLocal(recs, r, tc.q)
		if local != tc.local || len(got) != len(tc.want) {
			t.Errorf("lookupLocal(%q) = %v, %v", tc.q, got, local)
			continue
		}
		for i := range got {
			if got[i].String() != tc.want[i] {
				t.Errorf("lookupLocal(%q) = %v", tc.q, got)
			}
		}
	}
	p.HostAccess = false
	r, _ = p.resolve()
	if got, _ := lookupLocal(recs, r, "host.berth.internal."); len(got) != 1 || got[0].String() != "10.89.1.9" {
		t.Errorf("without host access, host.berth.internal is a container's name: %v", got)
	}
}

// fakeUpstream stands for the host's resolvers.
type fakeUpstream struct{ asked []string }

func (f *fakeUpstream) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	f.asked = append(f.asked, host)
	return []net.IPAddr{{IP: net.IPv4(93, 184, 216, 34)}}, nil
}
func (f *fakeUpstream) LookupCNAME(_ context.Context, host string) (string, error) {
	f.asked = append(f.asked, host)
	return "cname." + host, nil
}
func (f *fakeUpstream) LookupMX(context.Context, string) ([]*net.MX, error) { return nil, nil }
func (f *fakeUpstream) LookupNS(context.Context, string) ([]*net.NS, error) { return nil, nil }
func (f *fakeUpstream) LookupTXT(context.Context, string) ([]string, error) { return nil, nil }
func (f *fakeUpstream) LookupSRV(context.Context, string, string, string) (string, []*net.SRV, error) {
	return "", nil, nil
}

func TestResolver(t *testing.T) {
	recs := map[string][]netip.Addr{"web": {netip.MustParseAddr("10.89.1.3")}}
	for _, internal := range []bool{false, true} {
		p := basePlan()
		p.Internal = internal
		r, _ := p.resolve()
		up := &fakeUpstream{}
		res := &resolver{r: r, records: func() map[string][]netip.Addr { return recs }, up: up}
		ctx := context.Background()
		if a, err := res.LookupIPAddr(ctx, "web.berth.internal."); err != nil || len(a) != 1 || a[0].IP.String() != "10.89.1.3" {
			t.Errorf("internal=%v: web = %v, %v", internal, a, err)
		}
		if _, err := res.LookupIPAddr(ctx, "gone.berth.internal."); err == nil {
			t.Errorf("internal=%v: a name of the zone that no container has resolved", internal)
		}
		if _, err := res.LookupIPAddr(ctx, "host.berth.internal."); err == nil {
			t.Errorf("internal=%v: the host resolved without host access", internal)
		}
		a, err := res.LookupIPAddr(ctx, "example.com.")
		if internal {
			if err == nil || len(up.asked) != 0 {
				t.Errorf("an internal network resolved example.com (%v) or asked the host (%v)", a, up.asked)
			}
		} else if err != nil || len(a) != 1 || len(up.asked) != 1 {
			t.Errorf("example.com = %v, %v; the host was asked %v", a, err, up.asked)
		}
		if c, err := res.LookupCNAME(ctx, "web.berth.internal."); err != nil || c != "web.berth.internal." {
			t.Errorf("CNAME of a container = %q, %v", c, err)
		}
		if _, err := res.LookupMX(ctx, "web.berth.internal."); err != nil {
			t.Errorf("MX of a container: %v", err)
		}
	}
}
