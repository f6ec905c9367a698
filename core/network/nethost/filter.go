package nethost

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
)

// Why frames from VMs are filtered at all: gvisor's gateway stack is
// promiscuous and spoofs any address, and its TCP and UDP forwarders
// net.Dial() whatever destination a guest sends to. A guest with root
// could address a frame to the gateway's MAC with 127.0.0.1 as its
// destination and reach services bound to the host's loopback, or any
// other Berth network's subnet through the host. So every frame a VM
// sends is checked here before gvisor sees it, and the forwarders check
// the destination again before they dial (guard).

// Reason says why a frame was dropped (or Pass).
type Reason uint8

const (
	Pass Reason = iota
	// DropRunt: shorter than an Ethernet header.
	DropRunt
	// DropMalformed: an IPv4 or ARP packet whose header does not parse.
	DropMalformed
	// DropSpoofedMAC: the source MAC (or ARP sender) is not the VM's.
	DropSpoofedMAC
	// DropSpoofedIP: the source address (or ARP sender) is not the VM's.
	DropSpoofedIP
	// DropLoopback: to 127.0.0.0/8, the host's loopback.
	DropLoopback
	// DropThisHost: to 0.0.0.0/8, which a dial on the host turns into
	// its loopback.
	DropThisHost
	// DropOtherNetwork: to another Berth network's subnet.
	DropOtherNetwork
	// DropNoWayOut: an internal network's frame to outside its subnet.
	DropNoWayOut
	// DropGatewayOnlyDNS: on an internal network, the gateway answers
	// DNS and pings only.
	DropGatewayOnlyDNS
	// DropNotOnNetwork: to an address of the subnet that no VM and not
	// the gateway has (the forwarder would dial it through the host);
	// this includes the host address of a network without host access.
	DropNotOnNetwork
	numReasons
)

var reasonNames = [numReasons]string{
	Pass:               "pass",
	DropRunt:           "runt frame",
	DropMalformed:      "malformed packet",
	DropSpoofedMAC:     "source MAC is not the VM's",
	DropSpoofedIP:      "source address is not the VM's",
	DropLoopback:       "to the host's loopback",
	DropThisHost:       "to 0.0.0.0/8",
	DropOtherNetwork:   "to another network",
	DropNoWayOut:       "internal network: no way out",
	DropGatewayOnlyDNS: "internal network: the gateway serves DNS only",
	DropNotOnNetwork:   "no such address on the network",
}

func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}

var (
	loopback    = netip.MustParsePrefix("127.0.0.0/8")
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")
	broadcastIP = netip.AddrFrom4([4]byte{255, 255, 255, 255})
)

const (
	etherTypeIPv4 = 0x0800
	etherTypeARP  = 0x0806
	protoICMP     = 1
	protoTCP      = 6
	protoUDP      = 17
	dnsPort       = 53
	dhcpPort      = 67
)

// Filter decides about the frames one VM sends. It is immutable and
// safe for concurrent use.
type Filter struct {
	r   *resolved
	mac net.HardwareAddr
	ip  netip.Addr
}

// NewFilter returns the filter for attachment a on network p.
func NewFilter(p Plan, a Attachment) (*Filter, error) {
	r, err := p.resolve()
	if err != nil {
		return nil, err
	}
	if a, err = a.check(r); err != nil {
		return nil, err
	}
	return newFilter(r, a), nil
}

func newFilter(r *resolved, a Attachment) *Filter {
	mac, _ := net.ParseMAC(a.MAC)
	ip, _ := netip.ParseAddr(a.IP)
	return &Filter{r: r, mac: mac, ip: ip}
}

// Check decides about one Ethernet frame (no FCS) sent by the VM.
func (f *Filter) Check(frame []byte) Reason {
	if len(frame) < 14 {
		return DropRunt
	}
	dstMAC, srcMAC := frame[0:6], frame[6:12]
	if !bytes.Equal(srcMAC, f.mac) {
		return DropSpoofedMAC
	}
	switch binary.BigEndian.Uint16(frame[12:14]) {
	case etherTypeIPv4:
	case etherTypeARP:
		return f.checkARP(frame[14:])
	default:
		// IPv6 and the rest: the gateway stack speaks only IPv4 and ARP,
		// so these reach other VMs of this network or nothing.
		return Pass
	}
	ip := frame[14:]
	if len(ip) < 20 || ip[0]>>4 != 4 {
		return DropMalformed
	}
	ihl := int(ip[0]&0x0f) * 4
	if ihl < 20 || len(ip) < ihl {
		return DropMalformed
	}
	proto := ip[9]
	src := netip.AddrFrom4([4]byte(ip[12:16]))
	dst := netip.AddrFrom4([4]byte(ip[16:20]))
	fragment := binary.BigEndian.Uint16(ip[6:8])&0x3fff != 0 // MF or an offset
	l4 := ip[ihl:]
	dstPort := -1
	if !fragment && (proto == protoTCP || proto == protoUDP) && len(l4) >= 4 {
		dstPort = int(binary.BigEndian.Uint16(l4[2:4]))
	}
	if src != f.ip && !(src.IsUnspecified() && proto == protoUDP && dstPort == dhcpPort) {
		return DropSpoofedIP
	}
	r := f.r
	switch {
	case loopback.Contains(dst):
		return DropLoopback
	case thisNetwork.Contains(dst):
		return DropThisHost
	}
	for _, b := range r.blocked {
		if b.Contains(dst) {
			return DropOtherNetwork
		}
	}
	switch {
	case dst == broadcastIP:
		// Other VMs get it; the gateway's forwarders ignore it.
		return Pass
	case r.hostIP.IsValid() && dst == r.hostIP:
		return Pass
	case dst == r.gateway:
		if !r.Internal {
			return Pass
		}
		if proto == protoICMP || dstPort == dnsPort {
			return Pass
		}
		return DropGatewayOnlyDNS
	case !r.subnet.Contains(dst):
		if r.Internal {
			return DropNoWayOut
		}
		return Pass
	case bytes.Equal(dstMAC, r.gwMAC):
		return DropNotOnNetwork
	}
	// To another VM of the network (or a broadcast: guard stops what of
	// it reaches the gateway's forwarders).
	return Pass
}

// checkARP keeps a VM from claiming another's address (or the
// gateway's) in ARP.
func (f *Filter) checkARP(arp []byte) Reason {
	if len(arp) < 28 {
		return DropMalformed
	}
	if binary.BigEndian.Uint16(arp[2:4]) != etherTypeIPv4 || arp[4] != 6 || arp[5] != 4 {
		return Pass // not about IPv4 over Ethernet: nobody here uses it
	}
	if !bytes.Equal(arp[8:14], f.mac) {
		return DropSpoofedMAC
	}
	if spa := netip.AddrFrom4([4]byte(arp[14:18])); spa != f.ip && !spa.IsUnspecified() {
		return DropSpoofedIP
	}
	return Pass
}

// guard decides, just before a gateway forwarder dials dst through the
// host, whether it may: the second line behind Filter (a frame that
// passed the filter as a broadcast still reaches the forwarders), and the
// rule that decides what the host dials.
func guard(r *resolved, dst netip.Addr) Reason {
	if r.hostIP.IsValid() && dst == r.hostIP {
		return Pass // NAT makes it the host's 127.0.0.1: the opt-in
	}
	switch {
	case r.Internal:
		return DropNoWayOut
	case loopback.Contains(dst):
		return DropLoopback
	case thisNetwork.Contains(dst):
		return DropThisHost
	case r.subnet.Contains(dst):
		return DropNotOnNetwork
	}
	for _, b := range r.blocked {
		if b.Contains(dst) {
			return DropOtherNetwork
		}
	}
	return Pass
}
