package nethost

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/vmnet"
)

// Plan is one network as its process runs it: written by the core to
// RUN_DIR/plan.json before the process starts, and fixed for the
// process's life (a changed network is a new process).
type Plan struct {
	// ID is the network's id; Name is its name (both appear in Hello,
	// Status and every error).
	ID   string `json:"id"`
	Name string `json:"name"`
	// Subnet is the network's IPv4 prefix ("10.89.1.0/24"); Gateway is
	// the engine's own address in it, the containers' router and DNS
	// server.
	Subnet  string `json:"subnet"`
	Gateway string `json:"gateway"`
	// Internal networks have no way out: containers reach each other and
	// the gateway's DNS (names of this network only), nothing else.
	Internal bool `json:"internal,omitempty"`
	// HostAccess lets containers reach the host's loopback through
	// HostIP, the address host.DNSDomain resolves to. Without it the
	// host's loopback is unreachable and host.DNSDomain does not resolve.
	HostAccess bool `json:"host_access,omitempty"`
	// HostIP is the address that stands for the host's 127.0.0.1 when
	// HostAccess is set; default DefaultHostIP(Subnet). The core must not
	// give it to a container. Without HostAccess it is ignored (and
	// Status shows none).
	HostIP string `json:"host_ip,omitempty"`
	// Blocked are the other Berth networks' subnets: frames to them are
	// dropped, so that networks stay apart even though each engine could
	// reach any address through the host.
	Blocked []string `json:"blocked,omitempty"`
	// Uplink is the network's way out: "" for the gateway's user-mode
	// NAT (gvisor-tap-vsock's forwarders dial through the host's
	// sockets); UplinkVmnet for a vmnet interface in shared mode (macOS:
	// the Mac's kernel NATs, as Internet Sharing); "tap:NAME" for the
	// existing Linux TAP device NAME (the host's kernel routes or NATs
	// what it gets). With an uplink, IPv4 frames to addresses outside the
	// subnet go to it and everything else (DNS, host access, members,
	// published ports) stays with the gateway; an uplink that cannot start
	// leaves the network on user-mode NAT (Status.Uplink says why).
	// Internal networks have no way out: a plan that names an uplink for
	// one runs without it.
	Uplink string `json:"uplink,omitempty"`
	// UplinkIP is the uplink's far end (vmnet's bridge, the TAP device's
	// address), in the subnet and nobody else's; default
	// DefaultUplinkIP(Subnet). The core must not give it to a container.
	// Without an uplink it is checked and ignored.
	UplinkIP string `json:"uplink_ip,omitempty"`
	// MTU of the network; default DefaultMTU.
	MTU int `json:"mtu,omitempty"`
	// DNSDomain is the zone of container names; default DefaultDNSDomain.
	DNSDomain string `json:"dns_domain,omitempty"`
}

const (
	// DefaultMTU is the MTU of a network that names none.
	DefaultMTU = 1500
	// DefaultDNSDomain is the zone container names live in: NAME and
	// NAME.berth.internal resolve to a container, host.berth.internal to
	// the host (with HostAccess).
	DefaultDNSDomain = "berth.internal"
	// HostName is the name, in DNSDomain, of the host.
	HostName = "host"
	// GatewayMAC is the engine's MAC address on every network (each
	// network is its own Ethernet segment, so one address serves all);
	// locally administered, unicast.
	GatewayMAC = "5a:94:ef:e4:0c:dd"
)

// Uplink kinds (Plan.Uplink).
const (
	// UplinkVmnet: a vmnet interface in shared mode (macOS).
	UplinkVmnet = "vmnet"
	// UplinkTapPrefix, then a device's name: a Linux TAP device.
	UplinkTapPrefix = "tap:"
)

// DefaultUplinkIP is the far end of a network's uplink: the address below
// DefaultHostIP (.253 in a /24), which no container gets.
func DefaultUplinkIP(subnet netip.Prefix) netip.Addr {
	return DefaultHostIP(subnet).Prev()
}

// DefaultHostIP is the address that stands for the host on a network
// with host access: the subnet's last host address (.254 in a /24).
func DefaultHostIP(subnet netip.Prefix) netip.Addr {
	return lastAddr(subnet).Prev()
}

// lastAddr is p's broadcast address.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	bits := p.Bits()
	for i := range 4 {
		keep := min(max(bits-8*i, 0), 8)
		a[i] |= byte(0xff >> keep)
	}
	return netip.AddrFrom4(a)
}

// resolved is a validated plan with its addresses parsed and defaults
// applied: what the process and the filter work from.
type resolved struct {
	Plan
	subnet  netip.Prefix
	gateway netip.Addr
	hostIP  netip.Addr // invalid without HostAccess
	// uplinkIP is the uplink's far end; invalid without an uplink (and
	// on internal networks, whose Uplink resolve clears).
	uplinkIP netip.Addr
	blocked  []netip.Prefix
	gwMAC    net.HardwareAddr
}

// special are IPv4 ranges no network may use: the host's loopback and
// "this network" (both reach the host's own services), link-local
// (gvisor's forwarder treats it as cloud metadata), multicast and the
// reserved block.
var special = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "\"this network\" (0.0.0.0/8)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback (127.0.0.0/8)"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local (169.254.0.0/16)"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast (224.0.0.0/4)"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved (240.0.0.0/4)"},
}

// Validate checks p and fills in its defaults; it touches nothing.
func (p Plan) Validate() error {
	_, err := p.resolve()
	return err
}

func (p Plan) resolve() (*resolved, error) {
	name := p.Name
	if name == "" {
		name = p.ID
	}
	bad := func(format string, args ...any) (*resolved, error) {
		return nil, fmt.Errorf("network %q: %s: %w", name, fmt.Sprintf(format, args...), api.ErrInvalidArgument)
	}
	if p.ID == "" || p.Name == "" {
		return bad("a network needs an id and a name")
	}
	r := &resolved{Plan: p}
	r.Blocked = append([]string(nil), p.Blocked...)
	var err error
	if r.subnet, err = netip.ParsePrefix(p.Subnet); err != nil || !r.subnet.Addr().Is4() {
		return bad("subnet %q is not an IPv4 prefix such as 10.89.0.0/24", p.Subnet)
	}
	if r.subnet != r.subnet.Masked() {
		return bad("subnet %q has host bits set: did you mean %s?", p.Subnet, r.subnet.Masked())
	}
	if b := r.subnet.Bits(); b < 8 || b > 29 {
		return bad("subnet %s: the prefix length must be between 8 and 29", r.subnet)
	}
	for _, s := range special {
		if s.prefix.Overlaps(r.subnet) {
			return bad("subnet %s overlaps %s", r.subnet, s.what)
		}
	}
	inside := func(what, s string) (netip.Addr, error) {
		a, err := netip.ParseAddr(s)
		switch {
		case err != nil || !a.Is4():
			return a, fmt.Errorf("%s %q is not an IPv4 address", what, s)
		case !r.subnet.Contains(a):
			return a, fmt.Errorf("%s %s is outside the subnet %s", what, a, r.subnet)
		case a == r.subnet.Addr() || a == lastAddr(r.subnet):
			return a, fmt.Errorf("%s %s is the subnet's network or broadcast address", what, a)
		}
		return a, nil
	}
	if r.gateway, err = inside("gateway", p.Gateway); err != nil {
		return bad("%v", err)
	}
	switch {
	case p.HostAccess && p.HostIP == "":
		r.hostIP = DefaultHostIP(r.subnet)
		r.HostIP = r.hostIP.String()
	case p.HostAccess:
		if r.hostIP, err = inside("host address", p.HostIP); err != nil {
			return bad("%v", err)
		}
	case p.HostIP != "":
		// The address the host would have: checked, then unused.
		if _, err := inside("host address", p.HostIP); err != nil {
			return bad("%v", err)
		}
		r.HostIP = ""
	}
	if r.hostIP.IsValid() && r.hostIP == r.gateway {
		return bad("the host address and the gateway are both %s", r.gateway)
	}
	if err := r.resolveUplink(p, inside); err != nil {
		return bad("%v", err)
	}
	for _, b := range p.Blocked {
		bp, err := netip.ParsePrefix(b)
		if err != nil || !bp.Addr().Is4() {
			return bad("blocked subnet %q is not an IPv4 prefix", b)
		}
		if bp.Overlaps(r.subnet) {
			return bad("blocked subnet %s overlaps the network's own %s", bp, r.subnet)
		}
		r.blocked = append(r.blocked, bp.Masked())
	}
	switch {
	case p.MTU == 0:
		r.MTU = DefaultMTU
	case p.MTU < 576 || p.MTU > 65535:
		return bad("MTU %d is outside 576..65535", p.MTU)
	}
	if p.DNSDomain == "" {
		r.DNSDomain = DefaultDNSDomain
	}
	r.DNSDomain = strings.ToLower(strings.TrimSuffix(r.DNSDomain, "."))
	if !validDomain(r.DNSDomain) {
		return bad("DNS domain %q is not a domain name", p.DNSDomain)
	}
	r.gwMAC, _ = net.ParseMAC(GatewayMAC)
	return r, nil
}

// validDomain reports whether s is a DNS name of letters, digits and
// hyphens in labels of 1 to 63 characters.
func validDomain(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// resolveUplink checks the plan's uplink and its address, and clears
// both where they do not apply: an internal network has no way out.
func (r *resolved) resolveUplink(p Plan, inside func(what, s string) (netip.Addr, error)) error {
	switch {
	case p.Uplink == "" || p.Uplink == UplinkVmnet:
	case strings.HasPrefix(p.Uplink, UplinkTapPrefix):
		if vmnet.CheckTapName(strings.TrimPrefix(p.Uplink, UplinkTapPrefix)) != nil {
			return fmt.Errorf("uplink %q: a TAP device's name is 1-15 characters, without '/', ':' or spaces", p.Uplink)
		}
	default:
		return fmt.Errorf("uplink %q is none of \"\" (user-mode NAT), %q and %q", p.Uplink, UplinkVmnet, UplinkTapPrefix+"NAME")
	}
	ip := DefaultUplinkIP(r.subnet)
	if p.UplinkIP != "" {
		var err error
		if ip, err = inside("uplink address", p.UplinkIP); err != nil {
			return err
		}
	}
	if p.Uplink == "" || p.Internal {
		r.Uplink, r.UplinkIP = "", ""
		return nil
	}
	switch {
	case ip == r.gateway:
		return fmt.Errorf("the uplink address and the gateway are both %s", ip)
	case r.hostIP.IsValid() && ip == r.hostIP:
		return fmt.Errorf("the uplink address and the host address are both %s", ip)
	}
	r.uplinkIP = ip
	r.UplinkIP = ip.String()
	return nil
}
