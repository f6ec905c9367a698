package network

import (
	"crypto/sha256"
	"fmt"
	"net"
	"net/netip"

	"github.com/berthvm/berth/core/api"
)

// The pool new networks take their subnets from, one /24 each: private,
// and away from the ranges home and office networks, Docker (172.17/16)
// and Podman (10.88/16) favour.
var (
	pool        = netip.MustParsePrefix("10.89.0.0/16")
	poolBits    = 24
	DefaultName = "default"
)

// CheckSubnet says whether p can be a new network's subnet: IPv4, between
// /16 and /29, overlapping no other network's and none of the host's own
// (a container could not reach those).
func CheckSubnet(p netip.Prefix, used, host []netip.Prefix) error {
	p = p.Masked()
	switch {
	case !p.Addr().Is4():
		return fmt.Errorf("subnet %s: only IPv4 subnets are supported: %w", p, api.ErrInvalidArgument)
	case p.Bits() < 16 || p.Bits() > 29:
		return fmt.Errorf("subnet %s: the prefix must be /16 to /29: %w", p, api.ErrInvalidArgument)
	}
	for _, u := range used {
		if u.Overlaps(p) {
			return fmt.Errorf("subnet %s overlaps network subnet %s: pick another with --subnet: %w", p, u, api.ErrConflict)
		}
	}
	for _, h := range host {
		if h.Overlaps(p) {
			return fmt.Errorf("subnet %s overlaps this host's network %s: pick another with --subnet: %w", p, h, api.ErrConflict)
		}
	}
	return nil
}

// ChooseSubnet picks the first free /24 of the pool.
func ChooseSubnet(used, host []netip.Prefix) (netip.Prefix, error) {
	base := pool.Addr().As4()
	for i := 0; i < 1<<(poolBits-pool.Bits()); i++ {
		a := base
		a[2] = byte(i)
		p := netip.PrefixFrom(netip.AddrFrom4(a), poolBits)
		if CheckSubnet(p, used, host) == nil {
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("no free subnet left in %s: remove unused networks (berth network prune) or give one with --subnet: %w", pool, api.ErrUnavailable)
}

// Gateway is a subnet's first address: the network's DNS and way out.
func Gateway(p netip.Prefix) netip.Addr { return p.Masked().Addr().Next() }

// HostGateway is a subnet's last usable address: the host's loopback, for
// networks with host access (docker's host-gateway).
func HostGateway(p netip.Prefix) netip.Addr { return broadcast(p).Prev() }

func broadcast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	n := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	n |= (1 << (32 - p.Bits())) - 1
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

// UplinkAddress is the address below the host gateway (.253 in a /24):
// the far end of a network's uplink (vmnet's bridge, the Mac's own
// address on the network). It is kept from members on every network,
// with an uplink or not, so that a network can gain one (a Mac upgraded
// to macOS 26) without moving a container.
func UplinkAddress(p netip.Prefix) netip.Addr { return HostGateway(p).Prev() }

// Allocate returns the lowest free member address of p: after the
// gateway, before the uplink's address, the host gateway and the
// broadcast address.
func Allocate(p netip.Prefix, used map[netip.Addr]bool) (netip.Addr, error) {
	last := UplinkAddress(p)
	for a := Gateway(p).Next(); a.Less(last); a = a.Next() {
		if !used[a] {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("subnet %s has no free address left: %w", p, api.ErrUnavailable)
}

// MAC is a container's stable address on a network: locally administered
// and unicast, from the two ids.
func MAC(containerID, networkID string) string {
	sum := sha256.Sum256([]byte("berth-mac:" + containerID + ":" + networkID))
	return net.HardwareAddr{0x02, sum[0], sum[1], sum[2], sum[3], sum[4]}.String()
}

// HostPrefixes are the networks of this host's interfaces: a network must
// not take one of them.
func HostPrefixes() []netip.Prefix {
	var out []netip.Prefix
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if p, err := netip.ParsePrefix(ipn.String()); err == nil && p.Addr().Is4() && !p.Addr().IsLoopback() {
				out = append(out, p.Masked())
			}
		}
	}
	return out
}
