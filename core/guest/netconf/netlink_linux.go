package netconf

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/api"
)

// A minimal rtnetlink client: enough to bring links up and add an IPv4
// address and a default route, so the guest needs no ip or udhcpc tool.

var nlSeq atomic.Uint32

type nlRequest struct {
	typ   uint16
	flags uint16
	body  []byte
}

func (r *nlRequest) attr(typ uint16, data []byte) {
	l := 4 + len(data)
	b := make([]byte, 4, (l+3)&^3)
	binary.NativeEndian.PutUint16(b[0:2], uint16(l))
	binary.NativeEndian.PutUint16(b[2:4], typ)
	b = append(b, data...)
	b = append(b, make([]byte, ((l+3)&^3)-l)...)
	r.body = append(r.body, b...)
}

// nlDo sends one request and waits for its acknowledgement.
func nlDo(r nlRequest) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink bind: %w", err)
	}
	seq := nlSeq.Add(1)
	msg := make([]byte, unix.NLMSG_HDRLEN, unix.NLMSG_HDRLEN+len(r.body))
	binary.NativeEndian.PutUint32(msg[0:4], uint32(unix.NLMSG_HDRLEN+len(r.body)))
	binary.NativeEndian.PutUint16(msg[4:6], r.typ)
	binary.NativeEndian.PutUint16(msg[6:8], r.flags|unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	binary.NativeEndian.PutUint32(msg[8:12], seq)
	msg = append(msg, r.body...)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink send: %w", err)
	}
	buf := make([]byte, 8192)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return fmt.Errorf("netlink receive: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return fmt.Errorf("netlink parse: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != seq || m.Header.Type != unix.NLMSG_ERROR {
				continue
			}
			if len(m.Data) < 4 {
				return fmt.Errorf("netlink: short error message")
			}
			if code := int32(binary.NativeEndian.Uint32(m.Data[0:4])); code != 0 {
				return unix.Errno(-code)
			}
			return nil
		}
	}
}

// linkUp sets a link up, and its MTU when mtu > 0.
func linkUp(index, mtu int) error {
	body := make([]byte, unix.SizeofIfInfomsg)
	body[0] = unix.AF_UNSPEC
	binary.NativeEndian.PutUint32(body[4:8], uint32(index))
	binary.NativeEndian.PutUint32(body[8:12], unix.IFF_UP)
	binary.NativeEndian.PutUint32(body[12:16], unix.IFF_UP)
	r := nlRequest{typ: unix.RTM_NEWLINK, body: body}
	if mtu > 0 {
		var v [4]byte
		binary.NativeEndian.PutUint32(v[:], uint32(mtu))
		r.attr(unix.IFLA_MTU, v[:])
	}
	return nlDo(r)
}

func addAddr(index int, ipnet *net.IPNet) error {
	return changeAddr(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_REPLACE, index, ipnet)
}

func delAddr(index int, ipnet *net.IPNet) error {
	return changeAddr(unix.RTM_DELADDR, 0, index, ipnet)
}

func changeAddr(typ, flags uint16, index int, ipnet *net.IPNet) error {
	ip4 := ipnet.IP.To4()
	if ip4 == nil {
		return fmt.Errorf("address %s: only IPv4 is supported: %w", ipnet, api.ErrUnsupported)
	}
	ones, _ := ipnet.Mask.Size()
	body := make([]byte, unix.SizeofIfAddrmsg)
	body[0], body[1], body[3] = unix.AF_INET, byte(ones), unix.RT_SCOPE_UNIVERSE
	if ip4.IsLoopback() {
		body[3] = unix.RT_SCOPE_HOST // as ip(8) does
	}
	binary.NativeEndian.PutUint32(body[4:8], uint32(index))
	r := nlRequest{typ: typ, flags: flags, body: body}
	r.attr(unix.IFA_LOCAL, ip4)
	r.attr(unix.IFA_ADDRESS, ip4)
	return nlDo(r)
}

func addDefaultRoute(gw net.IP) error {
	gw4 := gw.To4()
	if gw4 == nil {
		return fmt.Errorf("gateway %s: only IPv4 is supported: %w", gw, api.ErrUnsupported)
	}
	body := make([]byte, unix.SizeofRtMsg)
	body[0] = unix.AF_INET
	body[4] = unix.RT_TABLE_MAIN
	body[5] = unix.RTPROT_BOOT
	body[6] = unix.RT_SCOPE_UNIVERSE
	body[7] = unix.RTN_UNICAST
	r := nlRequest{typ: unix.RTM_NEWROUTE, flags: unix.NLM_F_CREATE | unix.NLM_F_REPLACE, body: body}
	r.attr(unix.RTA_GATEWAY, gw4)
	return nlDo(r)
}

// Configure is Apply without the status, for callers that only set
// static addresses.
func Configure(cfg proto.NetworkConfig) error {
	_, err := Apply(context.Background(), cfg)
	return err
}

// prefixNet converts for the netlink helpers.
func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}
}

// Apply configures the guest's NICs from cfg: every interface up with its
// static address or a DHCP lease, then the default route, and reports
// what was set. The whole config is checked before anything is changed.
// Leases are renewed in the background until ReleaseLeases.
func Apply(ctx context.Context, cfg proto.NetworkConfig) (_ proto.NetworkStatus, err error) {
	var st proto.NetworkStatus
	static := make([]*net.IPNet, len(cfg.Interfaces))
	for n, i := range cfg.Interfaces {
		if i.Address == proto.AddressDHCP {
			continue
		}
		ip, ipnet, err := net.ParseCIDR(i.Address)
		if err != nil {
			return st, fmt.Errorf("interface address %q is neither CIDR (10.0.2.15/24) nor %q: %w", i.Address, proto.AddressDHCP, api.ErrInvalidArgument)
		}
		ipnet.IP = ip
		static[n] = ipnet
	}
	var gw net.IP
	if cfg.Gateway != "" {
		if gw = net.ParseIP(cfg.Gateway); gw == nil {
			return st, fmt.Errorf("gateway %q is not an IP address: %w", cfg.Gateway, api.ErrInvalidArgument)
		}
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = proto.DefaultDHCPTimeout
	}
	if lo, err := net.InterfaceByName("lo"); err == nil {
		if err := linkUp(lo.Index, 0); err != nil {
			return st, fmt.Errorf("bring up lo: %w", err)
		}
	}
	var keepers []*dhcpBinding
	var routeOwner *dhcpBinding
	defer func() {
		// A lease got before a later step failed is given back: the
		// server's pool must not hold it for a guest that gave up.
		if err != nil {
			for _, b := range keepers {
				b.release()
			}
		}
	}()
	for n, i := range cfg.Interfaces {
		nic, err := ifaceFor(i)
		if err != nil {
			return st, err
		}
		if err := linkUp(nic.Index, i.MTU); err != nil {
			return st, fmt.Errorf("bring up %s: %w", nic.Name, err)
		}
		is := proto.InterfaceStatus{MAC: nic.HardwareAddr.String(), Name: nic.Name, MTU: i.MTU}
		if static[n] != nil {
			if err := addAddr(nic.Index, static[n]); err != nil {
				return st, fmt.Errorf("address %s on %s: %w", i.Address, nic.Name, err)
			}
			is.Address = static[n].String()
			st.Interfaces = append(st.Interfaces, is)
			continue
		}
		b, err := acquireOn(ctx, nic, timeout)
		if err != nil {
			return st, err
		}
		keepers = append(keepers, b)
		l := b.keeper.lease
		if i.MTU == 0 && l.mtu > 0 {
			if err := linkUp(nic.Index, l.mtu); err != nil {
				return st, fmt.Errorf("MTU %d from DHCP on %s: %w", l.mtu, nic.Name, err)
			}
			is.MTU = l.mtu
		}
		if err := addAddr(nic.Index, prefixNet(l.addr)); err != nil {
			return st, fmt.Errorf("address %s from DHCP on %s: %w", l.addr, nic.Name, err)
		}
		is.Address = l.addr.String()
		is.Lease = &proto.Lease{Server: l.server.String(), Domain: l.domain, Duration: l.duration}
		if l.router.IsValid() {
			is.Lease.Router = l.router.String()
			if gw == nil {
				gw, routeOwner = l.router.AsSlice(), b
			}
		}
		for _, d := range l.dns {
			is.Lease.DNS = append(is.Lease.DNS, d.String())
			if !slices.Contains(st.DNS, d.String()) {
				st.DNS = append(st.DNS, d.String())
			}
		}
		if l.domain != "" && !slices.Contains(st.Search, l.domain) {
			st.Search = append(st.Search, l.domain)
		}
		st.Interfaces = append(st.Interfaces, is)
	}
	if gw != nil {
		if err := addDefaultRoute(gw); err != nil {
			return st, fmt.Errorf("default route via %s: %w", gw, err)
		}
		st.Gateway = gw.String()
	}
	if routeOwner != nil {
		routeOwner.ownsRoute = true
	}
	for _, b := range keepers {
		b.start()
	}
	return st, nil
}

// ifaceFor finds the guest NIC for i: by MAC, else by name.
func ifaceFor(i proto.Interface) (*net.Interface, error) {
	if i.MAC == "" {
		return net.InterfaceByName(i.Name)
	}
	mac, err := net.ParseMAC(i.MAC)
	if err != nil {
		return nil, fmt.Errorf("interface MAC %q: %w", i.MAC, api.ErrInvalidArgument)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		ifs, err := net.Interfaces()
		if err != nil {
			return nil, err
		}
		for _, n := range ifs {
			if n.HardwareAddr.String() == mac.String() {
				return &n, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no network interface with MAC %s in the guest: %w", i.MAC, api.ErrNotFound)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
