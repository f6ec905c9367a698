package nethost

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
)

const bridgeMACString = "be:e5:00:00:00:fd"

// TestRouteFromVM: where a VM's frame goes, first through its Filter (the
// rules that hold with or without an uplink), then routeFromVM.
func TestRouteFromVM(t *testing.T) {
	withUplink := func(p *Plan) { p.Uplink = UplinkVmnet }
	hostAccess := func(p *Plan) { p.Uplink, p.HostAccess = UplinkVmnet, true }
	internal := func(p *Plan) { p.Uplink, p.Internal = UplinkVmnet, true }
	none := func(*Plan) {}
	syn := func(dst string) pkt { return pkt{dst: dst, proto: protoTCP, dport: 443} }
	vlan := syn("93.184.216.34").build()
	vlan = append(append(append([]byte{}, vlan[:12]...), 0x81, 0x00, 0, 7), vlan[12:]...)
	type want struct {
		reason   Reason
		starting hop // while the uplink starts
		up       hop // once it is up
		down     hop // after it failed
	}
	out := want{Pass, dropNotReady, toUplink, toSwitch}                             // the way out
	stay := want{Pass, toSwitch, toSwitch, toSwitch}                                // the gateway's or a member's, whatever the uplink does
	atBridge := want{Pass, toSwitch, toUplink, toSwitch}                            // to the far end's MAC, once it is known
	dropped := func(r Reason) want { return want{r, toSwitch, toSwitch, toSwitch} } // never routed
	cases := []struct {
		name  string
		plan  func(*Plan)
		frame []byte
		want  want
	}{
		{"to the internet", withUplink, syn("93.184.216.34").build(), out},
		{"UDP to the internet", withUplink, pkt{dst: "1.1.1.1", proto: protoUDP, dport: 443}.build(), out},
		{"ICMP to the internet", withUplink, pkt{dst: "1.1.1.1", proto: protoICMP}.build(), out},
		{"to the host's LAN (outside the subnet)", withUplink, syn("192.168.1.10").build(), out},
		{"a fragment to the internet", withUplink, pkt{dst: "1.1.1.1", proto: protoUDP, flags: 0x0010}.build(), out},
		{"to the internet, with host access", hostAccess, syn("93.184.216.34").build(), out},
		{"without an uplink", none, syn("93.184.216.34").build(), stay},
		// An internal network: the plan drops its uplink, the filter its frames.
		{"internal", internal, syn("93.184.216.34").build(), dropped(DropNoWayOut)},
		// What the filter drops never reaches a route.
		{"to the host's loopback", withUplink, syn("127.0.0.1").build(), dropped(DropLoopback)},
		{"to 0.0.0.0/8", withUplink, syn("0.1.2.3").build(), dropped(DropThisHost)},
		{"to another network", withUplink, syn("10.89.2.7").build(), dropped(DropOtherNetwork)},
		{"to the uplink's far end through the gateway", withUplink, syn("10.89.1.253").build(), dropped(DropNotOnNetwork)},
		{"spoofed source", withUplink, pkt{src: "10.89.1.9", dst: "1.1.1.1", proto: protoTCP}.build(), dropped(DropSpoofedIP)},
		// The gateway's, as without an uplink.
		{"DNS at the gateway", withUplink, pkt{dst: "10.89.1.1", proto: protoUDP, dport: 53}.build(), stay},
		{"the host address", hostAccess, syn("10.89.1.254").build(), stay},
		{"another member", withUplink, pkt{dstMAC: otherMAC, dst: "10.89.1.3", proto: protoTCP}.build(), stay},
		{"limited broadcast", withUplink, pkt{dstMAC: bcastMAC, dst: "255.255.255.255", proto: protoUDP, dport: 67}.build(), stay},
		{"limited broadcast to the gateway's MAC", withUplink, pkt{dst: "255.255.255.255", proto: protoUDP}.build(), stay},
		{"multicast", withUplink, pkt{dstMAC: "01:00:5e:00:00:fb", dst: "224.0.0.251", proto: protoUDP, dport: 5353}.build(), stay},
		{"link-local", withUplink, syn("169.254.169.254").build(), stay},
		{"reserved", withUplink, syn("240.0.0.1").build(), stay},
		{"outside, but not to the gateway's MAC", withUplink, pkt{dstMAC: otherMAC, dst: "1.1.1.1", proto: protoTCP}.build(), stay},
		{"VLAN-tagged", withUplink, vlan, stay},
		{"IPv6", withUplink, pkt{etherType: 0x86dd}.build(), stay},
		// The far end's own address, at its MAC: what the VM answers
		// to connections the far end opened.
		{"to the far end", withUplink, pkt{dstMAC: bridgeMACString, dst: "10.89.1.253", proto: protoTCP, dport: 40000}.build(), out},
		{"to another member at the far end's MAC", withUplink, pkt{dstMAC: bridgeMACString, dst: "10.89.1.3", proto: protoTCP}.build(), stay},
		// ARP: the VM's answers and questions to the far end go there;
		// the rest stays.
		{"ARP answer to the far end", withUplink, pkt{etherType: etherTypeARP, dstMAC: bridgeMACString, arpOp: arpReply, arpTPA: "10.89.1.253"}.build(), out},
		{"ARP answer to the far end's other address", withUplink, pkt{etherType: etherTypeARP, dstMAC: bridgeMACString, arpOp: arpReply, arpTPA: "203.0.113.80"}.build(), atBridge},
		{"ARP question for the far end", withUplink, pkt{etherType: etherTypeARP, dstMAC: bcastMAC, arpTPA: "10.89.1.253"}.build(), out},
		{"ARP refresh of the far end", withUplink, pkt{etherType: etherTypeARP, dstMAC: bridgeMACString, arpTPA: "10.89.1.253"}.build(), out},
		{"ARP question for a member", withUplink, pkt{etherType: etherTypeARP, dstMAC: bcastMAC, arpTPA: "10.89.1.3"}.build(), stay},
		{"ARP question for the gateway", withUplink, pkt{etherType: etherTypeARP, dstMAC: bcastMAC}.build(), stay},
		{"ARP answer to the gateway", withUplink, pkt{etherType: etherTypeARP, arpOp: arpReply}.build(), stay},
		{"ARP answer to the far end, without an uplink", none, pkt{etherType: etherTypeARP, dstMAC: bridgeMACString, arpOp: arpReply, arpTPA: "10.89.1.253"}.build(), stay},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := basePlan()
			tc.plan(&p)
			r, err := p.resolve()
			if err != nil {
				t.Fatal(err)
			}
			if got := newFilter(r, Attachment{VM: "vm", MAC: vmMAC, IP: "10.89.1.2"}).Check(tc.frame); got != tc.want.reason {
				t.Fatalf("filter: %v; want %v", got, tc.want.reason)
			}
			if tc.want.reason != Pass {
				return
			}
			// While it starts the far end's MAC is not known; once up it
			// is, and stays known if it goes down.
			bridge, _ := net.ParseMAC(bridgeMACString)
			for _, c := range []struct {
				phase  uplinkPhase
				bridge net.HardwareAddr
				want   hop
			}{{uplinkStarting, nil, tc.want.starting}, {uplinkUp, bridge, tc.want.up}, {uplinkDown, bridge, tc.want.down}} {
				if got := routeFromVM(r, c.phase, c.bridge, tc.frame); got != c.want {
					t.Errorf("uplink %v: %v; want %v", c.phase, got, c.want)
				}
			}
		})
	}
	r, _ := basePlan().resolve()
	if got := routeFromVM(r, uplinkUp, nil, []byte{1, 2, 3}); got != toSwitch {
		t.Errorf("a runt: %v", got)
	}
}

// TestRouteFromUplink: which VM a frame from the uplink reaches.
func TestRouteFromUplink(t *testing.T) {
	m1 := &member{mac: [6]byte{0x52, 0x54, 0, 0, 0, 2}, ip: netip.MustParseAddr("10.89.1.2")}
	m2 := &member{mac: [6]byte{0x52, 0x54, 0, 0, 0, 3}, ip: netip.MustParseAddr("10.89.1.3")}
	ms := newMembers(m1, m2)
	// Frames from the far end: its MAC, its address.
	from := func(p pkt) []byte {
		p.srcMAC = bridgeMACString
		if p.etherType == etherTypeARP {
			p.arpSHA, p.arpSPA = bridgeMACString, "10.89.1.253"
		} else if p.src == "" {
			p.src = "93.184.216.34"
		}
		return p.build()
	}
	badARP := from(pkt{etherType: etherTypeARP, dstMAC: bcastMAC, arpTPA: "10.89.1.2"})
	badARP[14+4] = 8 // a hardware address of 8 bytes
	for _, tc := range []struct {
		name  string
		frame []byte
		to    *member
		why   uplinkDrop
	}{
		{"IPv4 to a VM", from(pkt{dstMAC: vmMAC, dst: "10.89.1.2", proto: protoTCP}), m1, uplinkPass},
		{"IPv4 to the other VM", from(pkt{dstMAC: otherMAC, dst: "10.89.1.3", proto: protoUDP}), m2, uplinkPass},
		{"to a VM's MAC for the other's address", from(pkt{dstMAC: vmMAC, dst: "10.89.1.3", proto: protoTCP}), nil, uplinkDropWrongAddress},
		{"to a VM's MAC for an address outside", from(pkt{dstMAC: vmMAC, dst: "8.8.8.8", proto: protoTCP}), nil, uplinkDropWrongAddress},
		{"to a MAC nobody has", from(pkt{dstMAC: "52:54:00:00:00:99", dst: "10.89.1.2", proto: protoTCP}), nil, uplinkDropNoMember},
		{"to the gateway's MAC", from(pkt{dst: "10.89.1.1", proto: protoTCP}), nil, uplinkDropNoMember},
		{"ARP question for a VM", from(pkt{etherType: etherTypeARP, dstMAC: bcastMAC, arpTPA: "10.89.1.3"}), m2, uplinkPass},
		{"ARP question for a VM, unicast (a refresh)", from(pkt{etherType: etherTypeARP, dstMAC: vmMAC, arpTPA: "10.89.1.2"}), m1, uplinkPass},
		{"ARP question for nobody", from(pkt{etherType: etherTypeARP, dstMAC: bcastMAC, arpTPA: "10.89.1.77"}), nil, uplinkDropBroadcast},
		{"ARP question for the gateway", from(pkt{etherType: etherTypeARP, dstMAC: bcastMAC, arpTPA: "10.89.1.1"}), nil, uplinkDropBroadcast},
		{"broadcast ARP answer (gratuitous)", from(pkt{etherType: etherTypeARP, dstMAC: bcastMAC, arpOp: arpReply, arpTPA: "10.89.1.2"}), nil, uplinkDropBroadcast},
		{"the far end's answer to the gateway", from(pkt{etherType: etherTypeARP, arpOp: arpReply, arpTPA: "10.89.1.1"}), nil, uplinkDropNoMember},
		{"DHCP broadcast", from(pkt{dstMAC: bcastMAC, src: "10.89.1.253", dst: "255.255.255.255", proto: protoUDP, dport: 68}), nil, uplinkDropBroadcast},
		{"IPv4 multicast", from(pkt{dstMAC: "01:00:5e:00:00:fb", src: "10.89.1.253", dst: "224.0.0.251", proto: protoUDP}), nil, uplinkDropBroadcast},
		{"IPv6 to a VM's MAC", from(pkt{etherType: 0x86dd, dstMAC: vmMAC}), nil, uplinkDropNotIPv4},
		{"VLAN-tagged", from(pkt{etherType: 0x8100, dstMAC: vmMAC}), nil, uplinkDropNotIPv4},
		{"a runt", []byte{1, 2, 3}, nil, uplinkDropMalformed},
		{"a short IPv4 header", from(pkt{dstMAC: vmMAC, dst: "10.89.1.2", proto: protoTCP})[:30], nil, uplinkDropMalformed},
		{"an ARP packet not about IPv4 over Ethernet", badARP, nil, uplinkDropMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			to, why := routeFromUplink(ms, tc.frame)
			if to != tc.to || why != tc.why {
				t.Fatalf("to %v (%v); want %v (%v)", to, why, tc.to, tc.why)
			}
		})
	}
	if to, why := routeFromUplink(newMembers(), from(pkt{etherType: etherTypeARP, dstMAC: bcastMAC, arpTPA: "10.89.1.2"})); to != nil || why != uplinkDropBroadcast {
		t.Errorf("with no VM: %v %v", to, why)
	}
}

// TestBridgeMAC: the far end's MAC is learnt from ARP in which it speaks
// for its own address, and from nothing else.
func TestBridgeMAC(t *testing.T) {
	p := basePlan()
	p.Uplink = UplinkVmnet
	r, err := p.resolve()
	if err != nil {
		t.Fatal(err)
	}
	bridge, _ := net.ParseMAC(bridgeMACString)
	arp := func(op uint16, srcMAC, sha, spa string) []byte {
		return pkt{etherType: etherTypeARP, dstMAC: bcastMAC, srcMAC: srcMAC, arpOp: op, arpSHA: sha, arpSPA: spa, arpTPA: "10.89.1.2"}.build()
	}
	for _, tc := range []struct {
		name  string
		frame []byte
		ok    bool
	}{
		{"its question", arp(arpRequest, bridgeMACString, bridgeMACString, "10.89.1.253"), true},
		{"its answer", arp(arpReply, bridgeMACString, bridgeMACString, "10.89.1.253"), true},
		{"another address", arp(arpRequest, bridgeMACString, bridgeMACString, "10.89.1.252"), false},
		{"a multicast sender", arp(arpRequest, "01:00:5e:00:00:01", "01:00:5e:00:00:01", "10.89.1.253"), false},
		{"a zero sender", arp(arpRequest, "00:00:00:00:00:00", "00:00:00:00:00:00", "10.89.1.253"), false},
		{"a sender that is not the frame's", arp(arpRequest, otherMAC, bridgeMACString, "10.89.1.253"), false},
		{"not ARP", pkt{srcMAC: bridgeMACString, src: "10.89.1.253", dst: "10.89.1.2", proto: protoUDP}.build(), false},
	} {
		got, ok := bridgeMAC(r, tc.frame)
		if ok != tc.ok || ok && !bytes.Equal(got, bridge) {
			t.Errorf("%s: %v %v; want %v", tc.name, got, ok, tc.ok)
		}
	}
	// Without an uplink, nobody is the far end.
	r0, _ := basePlan().resolve()
	if _, ok := bridgeMAC(r0, arp(arpRequest, bridgeMACString, bridgeMACString, "10.89.1.253")); ok {
		t.Error("learnt a far end without an uplink")
	}

	// The uplink's question for the far end: from the gateway, 42 bytes.
	q := whoHasBridge(r)
	op, sha, spa, tpa, ok := parseARP(q)
	if len(q) != 42 || !ok || op != arpRequest || sha.String() != GatewayMAC || spa != r.gateway || tpa != r.uplinkIP ||
		!bytes.Equal(q[0:6], ethBroadcast[:]) || net.HardwareAddr(q[6:12]).String() != GatewayMAC || binary.BigEndian.Uint16(q[12:14]) != etherTypeARP {
		t.Fatalf("who-has %x: op %d sha %s spa %s tpa %s", q, op, sha, spa, tpa)
	}
}
