// Package netconf gives the guest its network addresses: each NIC up,
// found by MAC address, with a static address or a lease from its own
// DHCP client (DISCOVER to ACK, renewed in the background, released at
// power off: macOS's NAT offers only DHCP), then the default route, all
// through netlink, so the guest needs no ip or udhcpc tool. Apply takes
// the host's proto.NetworkConfig and reports a proto.NetworkStatus;
// ReleaseLeases is for PID 1's power off.
//
// It runs only in the guest (Linux; core/guest's RealSystem calls it):
// the host must not import it. It knows the protocol's network types and
// nothing else of the session, the server or the hypervisors. The DHCP
// messages are pure functions (dhcpmsg_linux.go) and the exchange is
// written against a connection interface, so both are tested without a
// network; the sockets are in dhcpsock_linux.go.
package netconf
