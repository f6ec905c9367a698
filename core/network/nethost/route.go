package nethost

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
)

// Where frames go on a network with an uplink (Plan.Uplink): pure
// decisions, made per frame by the VMs' pumps and the uplink's reader
// (uplink.go), tested table by table.
//
// The gateway stays the containers' router and DNS server: a VM sends
// every frame for outside its subnet to the gateway's MAC. Of those, the
// IPv4 packets to unicast addresses outside the subnet (what passed the
// VM's Filter: not the host's loopback, not another network, not out of
// an internal network) go to the uplink with their destination MAC made
// the bridge's, so that the uplink's far end (vmnet's bridge, a TAP
// device's kernel) routes them; everything else stays on gvisor's
// switch. The far end answers the containers' own addresses: it asks
// for their MACs by ARP, which goes to the VM that has the address, and
// sends to those MACs, which go to that VM's socket; the VMs' answers,
// and what they send to the far end's own address, go back to it.
// Nothing else from the uplink reaches a VM.

// uplinkPhase is how far the uplink has come.
type uplinkPhase uint32

const (
	// uplinkStarting: the port is opening, or the bridge's MAC is not
	// known yet. Frames for it are dropped (counted): sending them to the
	// gateway's NAT meanwhile would split connections across two ways
	// out, and the wait is one ARP exchange.
	uplinkStarting uplinkPhase = iota
	// uplinkUp: the way out is the uplink.
	uplinkUp
	// uplinkDown: it could not start, or failed; the gateway's user-mode
	// NAT is the way out for good (Status.Uplink.Error says why).
	uplinkDown
)

func (p uplinkPhase) String() string {
	switch p {
	case uplinkStarting:
		return "starting"
	case uplinkUp:
		return "up"
	case uplinkDown:
		return "down"
	}
	return "unknown"
}

// hop is where a frame from a VM goes.
type hop uint8

const (
	// toSwitch: gvisor-tap-vsock's switch (other VMs, the gateway: DNS,
	// host access, published ports, and user-mode NAT).
	toSwitch hop = iota
	// toUplink: the uplink, with the bridge's MAC as destination.
	toUplink
	// dropNotReady: for the uplink, which is still starting.
	dropNotReady
)

func (h hop) String() string {
	switch h {
	case toSwitch:
		return "switch"
	case toUplink:
		return "uplink"
	case dropNotReady:
		return "drop: uplink not ready"
	}
	return "unknown"
}

// reserved is 240.0.0.0/4: never a destination on the internet.
var reserved = netip.MustParsePrefix("240.0.0.0/4")

// routeFromVM decides where a frame a VM sent, which its Filter passed,
// goes on network r while the uplink is in phase, its far end at bridge
// (nil until known).
func routeFromVM(r *resolved, phase uplinkPhase, bridge net.HardwareAddr, frame []byte) hop {
	if r.Uplink == "" || len(frame) < 14 {
		return toSwitch
	}
	var up hop
	switch phase {
	case uplinkUp:
		up = toUplink
	case uplinkStarting:
		up = dropNotReady
	default:
		return toSwitch
	}
	switch binary.BigEndian.Uint16(frame[12:14]) {
	case etherTypeIPv4:
		// Untagged only: the Filter read a tagged frame as not IPv4.
		if len(frame) < 14+20 {
			return toSwitch
		}
		dst := netip.AddrFrom4([4]byte(frame[30:34]))
		if dst == r.uplinkIP {
			// The far end itself, at the MAC it gave the VM: the
			// answers to what it opened to a member (the Mac reaching a
			// container by address). Through the gateway's MAC the
			// Filter drops it.
			return up
		}
		if !bytes.Equal(frame[0:6], r.gwMAC) || r.subnet.Contains(dst) || !dst.IsGlobalUnicast() || reserved.Contains(dst) {
			// A member's, the gateway's (as without an uplink), a
			// broadcast, multicast, link-local: the switch's.
			return toSwitch
		}
		return up
	case etherTypeARP:
		// The VM's questions for the far end's address, and its answers
		// to the far end (whose questions may come from any of its
		// addresses: the source of the packet it is about to send).
		_, _, _, tpa, ok := parseARP(frame)
		if ok && (tpa == r.uplinkIP || bridge != nil && bytes.Equal(frame[0:6], bridge)) {
			return up
		}
	}
	return toSwitch
}

// uplinkDrop says why a frame from the uplink reached no VM (or
// uplinkPass).
type uplinkDrop uint8

const (
	uplinkPass uplinkDrop = iota
	// uplinkDropMalformed: too short for its header, or an ARP packet
	// not about IPv4 over Ethernet.
	uplinkDropMalformed
	// uplinkDropNotIPv4: neither IPv4 nor ARP (IPv6, tagged frames...):
	// Berth's networks carry IPv4.
	uplinkDropNotIPv4
	// uplinkDropNoMember: unicast to a MAC no VM of the network has (the
	// gateway's included: the far end's answers to the uplink's own ARP).
	uplinkDropNoMember
	// uplinkDropWrongAddress: to a VM's MAC, for another address than
	// the VM's.
	uplinkDropWrongAddress
	// uplinkDropBroadcast: a broadcast or multicast that is not an ARP
	// question for a VM's address (DHCP, the far end's chatter).
	uplinkDropBroadcast
	numUplinkDrops
)

var uplinkDropNames = [numUplinkDrops]string{
	uplinkPass:             "pass",
	uplinkDropMalformed:    "runt or malformed",
	uplinkDropNotIPv4:      "neither IPv4 nor ARP",
	uplinkDropNoMember:     "to a MAC no VM has",
	uplinkDropWrongAddress: "to a VM's MAC for another address",
	uplinkDropBroadcast:    "broadcast for no VM",
}

func (d uplinkDrop) String() string {
	if d < numUplinkDrops {
		return uplinkDropNames[d]
	}
	return "unknown"
}

// member is one VM as the uplink's reader finds it.
type member struct {
	mac [6]byte
	ip  netip.Addr
	out *nic // nil in tests
}

// members are the network's VMs by MAC and by address; immutable once
// made (the host makes a new one on every attach and detach).
type members struct {
	byMAC map[[6]byte]*member
	byIP  map[netip.Addr]*member
}

func newMembers(ms ...*member) *members {
	t := &members{byMAC: map[[6]byte]*member{}, byIP: map[netip.Addr]*member{}}
	for _, m := range ms {
		t.byMAC[m.mac] = m
		t.byIP[m.ip] = m
	}
	return t
}

// routeFromUplink decides which VM a frame from the uplink goes to.
func routeFromUplink(ms *members, frame []byte) (*member, uplinkDrop) {
	if len(frame) < 14 {
		return nil, uplinkDropMalformed
	}
	dstMAC := [6]byte(frame[0:6])
	typ := binary.BigEndian.Uint16(frame[12:14])
	if typ != etherTypeIPv4 && typ != etherTypeARP {
		return nil, uplinkDropNotIPv4
	}
	// The address the frame is for: an IPv4 destination, an ARP target.
	var to netip.Addr
	var op uint16
	if typ == etherTypeARP {
		var ok bool
		if op, _, _, to, ok = parseARP(frame); !ok {
			return nil, uplinkDropMalformed
		}
	} else {
		if len(frame) < 14+20 {
			return nil, uplinkDropMalformed
		}
		to = netip.AddrFrom4([4]byte(frame[30:34]))
	}
	if dstMAC[0]&1 != 0 { // broadcast, multicast
		if m := ms.byIP[to]; m != nil && typ == etherTypeARP && op == arpRequest {
			return m, uplinkPass
		}
		return nil, uplinkDropBroadcast
	}
	m := ms.byMAC[dstMAC]
	switch {
	case m == nil:
		return nil, uplinkDropNoMember
	case to != m.ip:
		return nil, uplinkDropWrongAddress
	}
	return m, uplinkPass
}

// ARP operations.
const (
	arpRequest = 1
	arpReply   = 2
)

// parseARP reads an ARP packet about IPv4 over Ethernet from frame.
func parseARP(frame []byte) (op uint16, sha net.HardwareAddr, spa, tpa netip.Addr, ok bool) {
	if len(frame) < 14+28 || binary.BigEndian.Uint16(frame[12:14]) != etherTypeARP {
		return 0, nil, spa, tpa, false
	}
	a := frame[14:]
	if binary.BigEndian.Uint16(a[0:2]) != 1 || binary.BigEndian.Uint16(a[2:4]) != etherTypeIPv4 || a[4] != 6 || a[5] != 4 {
		return 0, nil, spa, tpa, false
	}
	return binary.BigEndian.Uint16(a[6:8]), net.HardwareAddr(a[8:14]), netip.AddrFrom4([4]byte(a[14:18])), netip.AddrFrom4([4]byte(a[24:28])), true
}

// bridgeMAC is the far end's MAC, if frame from the uplink is an ARP
// packet in which the far end says who it is (its question for a VM, or
// its answer to the uplink's own).
func bridgeMAC(r *resolved, frame []byte) (net.HardwareAddr, bool) {
	_, sha, spa, _, ok := parseARP(frame)
	if !ok || spa != r.uplinkIP || sha[0]&1 != 0 || bytes.Equal(sha, make([]byte, 6)) || !bytes.Equal(frame[6:12], sha) {
		return nil, false
	}
	return net.HardwareAddr(bytes.Clone(sha)), true
}

// whoHasBridge is the gateway's ARP question for the uplink's far end.
func whoHasBridge(r *resolved) []byte {
	f := make([]byte, 0, 42)
	f = append(f, ethBroadcast[:]...)
	f = append(f, r.gwMAC...)
	f = binary.BigEndian.AppendUint16(f, etherTypeARP)
	f = append(f, 0, 1, 8, 0, 6, 4, 0, arpRequest)
	f = append(f, r.gwMAC...)
	f = append(f, r.gateway.AsSlice()...)
	f = append(f, 0, 0, 0, 0, 0, 0)
	return append(f, r.uplinkIP.AsSlice()...)
}

var ethBroadcast = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
