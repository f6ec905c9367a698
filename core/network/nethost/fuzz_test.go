package nethost

import (
	"bytes"
	"net"
	"net/netip"
	"strings"
	"testing"
)

// FuzzFilterFrame decides about any frame a VM may send, on a network
// of each kind, then routes it as the uplink would. The filter never
// passes a frame from another MAC or (for IPv4) another address than
// the VM's, nor one to the host's loopback; it does not change the
// frame; and a frame goes out by the uplink only once it is up. Frames
// from the uplink reach only the VM they are for.
func FuzzFilterFrame(f *testing.F) {
	for _, p := range []pkt{
		{dst: "93.184.216.34", proto: protoTCP, dport: 443},
		{dst: "10.89.1.1", proto: protoUDP, dport: 53},
		{src: "0.0.0.0", dst: "255.255.255.255", proto: protoUDP, dport: 67},
		{dst: "127.0.0.1", proto: protoTCP, dport: 22},
		{dst: "10.89.2.5", proto: protoICMP, flags: 0x2000},
		{dst: "10.89.1.3", ihl: 6, cut: 1},
		{etherType: etherTypeARP, arpSHA: vmMAC, arpSPA: "10.89.1.2"},
		{etherType: etherTypeARP, arpSHA: otherMAC, arpSPA: "10.89.1.9", arpOp: 2},
		{etherType: 0x86dd},
	} {
		frame := p.build()
		f.Add(frame, uint8(0))
		f.Add(frame, uint8(7))
	}
	f.Add([]byte{1, 2, 3}, uint8(1))

	f.Fuzz(func(t *testing.T, frame []byte, kind uint8) {
		p := basePlan()
		p.Internal = kind&1 != 0
		p.HostAccess = kind&2 != 0
		if kind&4 != 0 {
			p.Uplink = UplinkVmnet
		}
		r, err := p.resolve()
		if err != nil {
			t.Fatal(err)
		}
		a := Attachment{VM: "vm", MAC: vmMAC, IP: "10.89.1.2", Socket: "/r/vm.sock", Peer: "/v/vm.sock"}
		flt := newFilter(r, a)
		orig := bytes.Clone(frame)
		reason := flt.Check(frame)
		if !bytes.Equal(frame, orig) {
			t.Fatal("Check changed the frame")
		}
		if reason >= numReasons {
			t.Fatalf("reason %d", reason)
		}
		if reason == Pass {
			checkPassed(t, flt, frame)
			bridge, _ := net.ParseMAC(bridgeMACString)
			for _, phase := range []uplinkPhase{uplinkStarting, uplinkUp, uplinkDown} {
				h := routeFromVM(r, phase, bridge, frame)
				if h == toUplink && phase != uplinkUp || h == dropNotReady && phase != uplinkStarting {
					t.Fatalf("routeFromVM in phase %v: %v", phase, h)
				}
				if h != toSwitch && r.Uplink == "" {
					t.Fatalf("routeFromVM without an uplink: %v", h)
				}
			}
		}

		vm := &member{mac: [6]byte(flt.mac), ip: flt.ip}
		other := &member{mac: [6]byte{0x52, 0x54, 0, 0, 0, 3}, ip: netip.MustParseAddr("10.89.1.3")}
		m, drop := routeFromUplink(newMembers(vm, other), frame)
		if (m != nil) != (drop == uplinkPass) || drop >= numUplinkDrops {
			t.Fatalf("routeFromUplink: %v, %v", m, drop)
		}
		if m != nil && frame[0]&1 == 0 && !bytes.Equal(frame[0:6], m.mac[:]) {
			t.Fatalf("a unicast frame for %x reached the VM at %x", frame[0:6], m.mac)
		}
		if sha, ok := bridgeMAC(r, frame); ok && (sha[0]&1 != 0 || bytes.Equal(sha, make([]byte, 6))) {
			t.Fatalf("far end's MAC %v", sha)
		}
	})
}

// checkPassed checks a frame the filter passed against the rules every
// network has.
func checkPassed(t *testing.T, flt *Filter, frame []byte) {
	t.Helper()
	if !bytes.Equal(frame[6:12], flt.mac) {
		t.Fatalf("passed a frame from MAC %x", frame[6:12])
	}
	if len(frame) < 14+20 || frame[12] != 0x08 || frame[13] != 0x00 {
		return
	}
	ip := frame[14:]
	src, dst := netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20]))
	if src != flt.ip && !(src.IsUnspecified() && ip[9] == protoUDP) {
		t.Fatalf("passed a frame from %v", src)
	}
	if loopback.Contains(dst) || thisNetwork.Contains(dst) {
		t.Fatalf("passed a frame to %v", dst)
	}
	for _, b := range flt.r.blocked {
		if b.Contains(dst) {
			t.Fatalf("passed a frame to %v, on another network", dst)
		}
	}
}

// FuzzLookupLocal answers the names a VM's DNS queries ask for (the
// query itself is parsed by gvisor-tap-vsock's DNS server, not here): a
// name under the network's domain is always answered locally, never by
// the host's resolvers, and only ever with the network's addresses.
func FuzzLookupLocal(f *testing.F) {
	for _, q := range []string{"web.berth.internal.", "DB.Berth.Internal.", "db.", "host.berth.internal.",
		"berth.internal", "example.com.", ".", "", "a..berth.internal."} {
		f.Add(q, true)
	}
	f.Fuzz(func(t *testing.T, q string, hostAccess bool) {
		p := basePlan()
		p.HostAccess = hostAccess
		p.DNSDomain = "berth.internal"
		r, err := p.resolve()
		if err != nil {
			t.Fatal(err)
		}
		recs := map[string][]netip.Addr{"web": {netip.MustParseAddr("10.89.1.3")}, "db": {netip.MustParseAddr("10.89.1.2")}}
		addrs, local := lookupLocal(recs, r, q)
		name := strings.ToLower(strings.TrimSuffix(q, "."))
		if (name == "berth.internal" || strings.HasSuffix(name, ".berth.internal")) && !local {
			t.Fatalf("%q goes to the host's resolvers", q)
		}
		for _, a := range addrs {
			if !r.subnet.Contains(a) {
				t.Fatalf("%q answered with %v, off the network", q, a)
			}
		}
		if len(addrs) > 0 && !local {
			t.Fatalf("%q answered with addresses but not locally", q)
		}
	})
}
