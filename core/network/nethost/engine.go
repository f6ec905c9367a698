package nethost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/containers/gvisor-tap-vsock/pkg/services/dns"
	"github.com/containers/gvisor-tap-vsock/pkg/services/forwarder"
	"github.com/containers/gvisor-tap-vsock/pkg/tap"
	"github.com/containers/gvisor-tap-vsock/pkg/types"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// engine is gvisor-tap-vsock's user-mode network: an Ethernet switch
// whose ports are the VMs' attachments (VfkitProtocol: one datagram, one
// frame) and the gateway, a TCP/IP stack that is the gateway (NAT out
// through the host's sockets, DNS), and the host side of published
// ports.
//
// It is assembled from gvisor-tap-vsock's parts rather than with
// virtualnetwork.New, which would give the same switch, stack and
// forwarders but (1) a DNS server whose records can only be added, never
// replaced or removed (Records replaces them: here the server's upstream
// resolver answers the network's names), (2) forwarders that dial
// whatever a guest addresses, with no place to refuse (here guard does,
// before each dial), and (3) host listeners whose errors do not say a
// port is taken (forward.go listens itself). No DHCP server: the core
// gives each guest a static address through its agent.
type engine struct {
	r     *resolved
	sw    *tap.Switch
	stack *stack.Stack

	dnsUDP *gonet.UDPConn
	dnsTCP *gonet.TCPListener

	records atomic.Pointer[map[string][]netip.Addr]
	guarded [numReasons]atomic.Uint64 // dials refused by guard, by reason
	closing atomic.Bool
}

// nicID is the gateway stack's one NIC.
const nicID = 1

func newEngine(r *resolved) (*engine, error) {
	e := &engine{r: r}
	empty := map[string][]netip.Addr{}
	e.records.Store(&empty)
	var virtualIPs []string
	if r.hostIP.IsValid() {
		virtualIPs = []string{r.hostIP.String()}
	}
	ep, err := tap.NewLinkEndpoint(false, uint32(r.MTU), r.gwMAC.String(), r.gateway.String(), virtualIPs)
	if err != nil {
		return nil, fmt.Errorf("network %q: gateway link: %w", r.Name, err)
	}
	e.sw = tap.NewSwitch(false)
	ep.Connect(e.sw)
	e.sw.Connect(ep)

	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4},
	})
	e.stack = s
	fail := func(what string, terr tcpip.Error) (*engine, error) {
		s.Close()
		return nil, fmt.Errorf("network %q: %s: %s", r.Name, what, terr)
	}
	if terr := s.CreateNIC(nicID, ep); terr != nil {
		return fail("gateway NIC", terr)
	}
	gw := tcpip.AddrFrom4(r.gateway.As4())
	if terr := s.AddProtocolAddress(nicID, tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber,
		AddressWithPrefix: gw.WithPrefix()}, stack.AddressProperties{}); terr != nil {
		return fail("gateway address", terr)
	}
	// The gateway answers for every address (that is how it NATs out):
	// what it may answer for is decided by Filter and guard.
	if terr := s.SetSpoofing(nicID, true); terr != nil {
		return fail("spoofing", terr)
	}
	if terr := s.SetPromiscuousMode(nicID, true); terr != nil {
		return fail("promiscuous mode", terr)
	}
	subnet, serr := tcpip.NewSubnet(tcpip.AddrFrom4(r.subnet.Addr().As4()), tcpip.MaskFromBytes(net.CIDRMask(r.subnet.Bits(), 32)))
	if serr != nil {
		s.Close()
		return nil, fmt.Errorf("network %q: subnet: %w", r.Name, serr)
	}
	s.SetRouteTable([]tcpip.Route{{Destination: subnet, NIC: nicID}})

	// The host address reaches the host's loopback, if it exists at all.
	nat := map[tcpip.Address]tcpip.Address{}
	if r.hostIP.IsValid() {
		nat[tcpip.AddrFrom4(r.hostIP.As4())] = tcpip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	var natLock sync.Mutex
	tcpFwd := forwarder.TCP(s, nat, &natLock, false)
	s.SetTransportProtocolHandler(tcp.ProtocolNumber, e.guarded1(tcpFwd.HandlePacket))
	udpFwd := forwarder.UDP(s, nat, &natLock, false)
	s.SetTransportProtocolHandler(udp.ProtocolNumber, e.guarded1(udpFwd.HandlePacket))

	dnsAddr := tcpip.FullAddress{NIC: nicID, Addr: gw, Port: dnsPort}
	if e.dnsUDP, err = gonet.DialUDP(s, &dnsAddr, nil, ipv4.ProtocolNumber); err != nil {
		s.Close()
		return nil, fmt.Errorf("network %q: DNS on udp: %w", r.Name, err)
	}
	if e.dnsTCP, err = gonet.ListenTCP(s, dnsAddr, ipv4.ProtocolNumber); err != nil {
		e.dnsUDP.Close()
		s.Close()
		return nil, fmt.Errorf("network %q: DNS on tcp: %w", r.Name, err)
	}
	res := &resolver{r: r, records: func() map[string][]netip.Addr { return *e.records.Load() }, up: &net.Resolver{}}
	srv, err := dns.NewWithUpstreamResolver(e.dnsUDP, e.dnsTCP, nil, res)
	if err != nil {
		e.close()
		return nil, fmt.Errorf("network %q: DNS: %w", r.Name, err)
	}
	go e.logEnd("DNS server (udp)", srv.Serve)
	go e.logEnd("DNS server (tcp)", srv.ServeTCP)
	return e, nil
}

// logEnd runs serve and logs how it ended, unless by the engine closing.
func (e *engine) logEnd(what string, serve func() error) {
	if err := serve(); err != nil && !e.closing.Load() {
		slog.Warn(what+" ended", "network", e.r.Name, "err", err)
	}
}

// guarded1 wraps a forwarder's packet handler with guard: a packet the
// guard refuses is consumed (dropped) without a dial.
func (e *engine) guarded1(handle func(stack.TransportEndpointID, *stack.PacketBuffer) bool) func(stack.TransportEndpointID, *stack.PacketBuffer) bool {
	return func(id stack.TransportEndpointID, pkt *stack.PacketBuffer) bool {
		dst := netip.AddrFrom4(id.LocalAddress.As4())
		if why := guard(e.r, dst); why != Pass {
			e.guarded[why].Add(1)
			return true
		}
		return handle(id, pkt)
	}
}

// accept moves frames between conn (one VM's attachment) and the switch
// until conn fails or is closed.
func (e *engine) accept(ctx context.Context, conn net.Conn) error {
	return e.sw.Accept(ctx, conn, types.VfkitProtocol)
}

// dialTCP opens a connection from the gateway to a guest.
func (e *engine) dialTCP(ctx context.Context, ip netip.Addr, port uint16) (net.Conn, error) {
	return gonet.DialContextTCP(ctx, e.stack, tcpip.FullAddress{NIC: nicID, Addr: tcpip.AddrFrom4(ip.As4()), Port: port}, ipv4.ProtocolNumber)
}

// dialUDP opens a UDP "connection" from the gateway to a guest.
func (e *engine) dialUDP(ip netip.Addr, port uint16) (net.Conn, error) {
	return gonet.DialUDP(e.stack, nil, &tcpip.FullAddress{NIC: nicID, Addr: tcpip.AddrFrom4(ip.As4()), Port: port}, ipv4.ProtocolNumber)
}

// probe asks, by ARP from the gateway, who has ip. The switch learns a
// VM's MAC only from the frames the VM sends and does not flood frames
// for a MAC it has not learned: after this process restarts, a VM that
// says nothing is unreachable from its peers (whose ARP caches still
// know it) until it answers such a request.
func (e *engine) probe(ip netip.Addr) {
	_ = e.stack.GetLinkAddress(nicID, tcpip.AddrFrom4(ip.As4()), tcpip.Address{}, ipv4.ProtocolNumber, func(stack.LinkResolutionResult) {})
}

// setRecords replaces the network's names (checked and normalized).
func (e *engine) setRecords(rs []Record) {
	m := map[string][]netip.Addr{}
	for _, rec := range rs {
		m[rec.Name] = append(m[rec.Name], netip.MustParseAddr(rec.IP))
	}
	e.records.Store(&m)
}

func (e *engine) close() {
	e.closing.Store(true)
	if e.dnsUDP != nil {
		e.dnsUDP.Close()
	}
	if e.dnsTCP != nil {
		e.dnsTCP.Close()
	}
	e.stack.Close()
}

// resolver is the DNS server's upstream: the network's names first; then,
// unless the network is internal (a DNS query out would be a way out),
// the host's resolvers.
type resolver struct {
	r       *resolved
	records func() map[string][]netip.Addr
	up      upstream
}

// upstream is what gvisor-tap-vsock's DNS server asks of its resolver
// (net.Resolver's methods).
type upstream interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	LookupCNAME(ctx context.Context, host string) (string, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupNS(ctx context.Context, name string) ([]*net.NS, error)
	LookupSRV(ctx context.Context, service, proto, name string) (string, []*net.SRV, error)
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

var _ upstream = (*resolver)(nil)

var errNoSuchName = errors.New("no such name")

// local answers for the names the network owns, and for every name on an
// internal network.
func (r *resolver) local(host string) (bool, []netip.Addr, error) {
	addrs, local := lookupLocal(r.records(), r.r, host)
	switch {
	case local && len(addrs) == 0:
		return true, nil, errNoSuchName
	case local:
		return true, addrs, nil
	case r.r.Internal:
		return true, nil, errNoSuchName
	}
	return false, nil, nil
}

func (r *resolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	if local, addrs, err := r.local(host); local {
		out := make([]net.IPAddr, len(addrs))
		for i, a := range addrs {
			out[i] = net.IPAddr{IP: a.AsSlice()}
		}
		return out, err
	}
	return r.up.LookupIPAddr(ctx, host)
}

func (r *resolver) LookupCNAME(ctx context.Context, host string) (string, error) {
	if local, _, err := r.local(host); local {
		return host, err
	}
	return r.up.LookupCNAME(ctx, host)
}

func (r *resolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	if local, _, err := r.local(name); local {
		return nil, err
	}
	return r.up.LookupMX(ctx, name)
}

func (r *resolver) LookupNS(ctx context.Context, name string) ([]*net.NS, error) {
	if local, _, err := r.local(name); local {
		return nil, err
	}
	return r.up.LookupNS(ctx, name)
}

func (r *resolver) LookupSRV(ctx context.Context, service, proto, name string) (string, []*net.SRV, error) {
	if local, _, err := r.local(name); local {
		return "", nil, err
	}
	return r.up.LookupSRV(ctx, service, proto, name)
}

func (r *resolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	if local, _, err := r.local(name); local {
		return nil, err
	}
	return r.up.LookupTXT(ctx, name)
}
