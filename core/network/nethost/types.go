package nethost

import (
	"cmp"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/berthvm/berth/core/api"
)

// Attachment is one VM's NIC on the network: a pair of unix datagram
// sockets, one frame a datagram.
type Attachment struct {
	// VM names the attachment (the container's VM id).
	VM string `json:"vm"`
	// MAC and IP are the NIC's, as the core configured them in the guest:
	// frames from the VM with another source are dropped.
	MAC string `json:"mac"`
	IP  string `json:"ip"`
	// Socket is this process's end, which Attach binds, before the VM
	// starts. Peer is the VM's end: QEMU binds it (-netdev
	// dgram,local.path=Peer,remote.path=Socket); on macOS the vm-host
	// binds it and connects to Socket.
	Socket string `json:"socket"`
	Peer   string `json:"peer"`
}

// Record is one DNS name of the network: NAME and NAME.DNSDomain resolve
// to IP. A name may have several records (several addresses, in turn).
type Record struct {
	Name string `json:"name"`
	IP   string `json:"ip"`
}

// Forward publishes a port: HostIP:HostPort on the host, forwarded to
// GuestIP:GuestPort on the network.
type Forward struct {
	Proto string `json:"proto"` // "tcp" or "udp"
	// HostIP is the host address to listen on; "" for every address
	// (IPv4 and IPv6).
	HostIP string `json:"host_ip,omitempty"`
	// HostPort 0 in Expose picks a free port, which the reply names.
	HostPort  uint16 `json:"host_port"`
	GuestIP   string `json:"guest_ip"`
	GuestPort uint16 `json:"guest_port"`
}

// ForwardKey names a published port: a host address, port and protocol
// can be published once.
type ForwardKey struct {
	Proto    string `json:"proto"`
	HostIP   string `json:"host_ip,omitempty"`
	HostPort uint16 `json:"host_port"`
}

// Key is f's ForwardKey.
func (f Forward) Key() ForwardKey { return ForwardKey{f.Proto, f.HostIP, f.HostPort} }

// String is "127.0.0.1:8080/tcp" (docker's way), or ":8080/tcp" for
// every address.
func (k ForwardKey) String() string {
	host := k.HostIP
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(int(k.HostPort)) + "/" + k.Proto
}

// String is "127.0.0.1:8080/tcp -> 10.89.0.2:80".
func (f Forward) String() string {
	return f.Key().String() + " -> " + net.JoinHostPort(f.GuestIP, strconv.Itoa(int(f.GuestPort)))
}

// State is what a network's process should be doing: the whole of it,
// as Sync takes it.
type State struct {
	Attachments []Attachment `json:"attachments"`
	Records     []Record     `json:"records"`
	Forwards    []Forward    `json:"forwards"`
}

// Hello identifies a network's process.
type Hello struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	PID      int    `json:"pid"`
	Version  string `json:"version"`  // Berth's version (buildinfo)
	Protocol int    `json:"protocol"` // ProtocolVersion
}

// ProtocolVersion is the control protocol's version: a core that finds a
// process speaking another (after an upgrade) restarts it.
const ProtocolVersion = 1

// Status is a network's process as the menu bar and `berth network
// inspect` show it.
type Status struct {
	Hello
	Subnet     string `json:"subnet"`
	Gateway    string `json:"gateway"`
	Internal   bool   `json:"internal,omitempty"`
	HostAccess bool   `json:"host_access,omitempty"`
	HostIP     string `json:"host_ip,omitempty"`
	DNSDomain  string `json:"dns_domain"`

	Attachments []AttachmentStatus `json:"attachments"`
	Forwards    []ForwardStatus    `json:"forwards"`
	Records     []Record           `json:"records"`

	// BytesToVMs and BytesFromVMs count every frame the engine's switch
	// moved.
	BytesToVMs   uint64 `json:"bytes_to_vms"`
	BytesFromVMs uint64 `json:"bytes_from_vms"`
	// Refused counts connections the gateway refused to open through the
	// host for a guest, by reason: what got past the frame filter (a
	// broadcast) and was stopped before the dial.
	Refused map[string]uint64 `json:"refused,omitempty"`
	// Uplink is the network's uplink, if its plan has one; without one
	// the gateway's user-mode NAT is the way out.
	Uplink *UplinkStatus `json:"uplink,omitempty"`
}

// UplinkStatus is a network's uplink (Plan.Uplink) and its traffic.
type UplinkStatus struct {
	// Kind is the plan's Uplink ("vmnet", "tap:NAME"); Address is its far
	// end's (vmnet's bridge, the TAP device's address).
	Kind    string `json:"kind"`
	Address string `json:"address"`
	// State is "starting" (frames for outside are dropped, NotReady),
	// "up" (they go through the uplink), or "down": for good, the
	// gateway's user-mode NAT is the way out, and Error says why.
	State string `json:"state"`
	Error string `json:"error,omitempty"`
	// BridgeMAC is the far end's MAC, learnt by ARP.
	BridgeMAC string `json:"bridge_mac,omitempty"`
	// Frames and bytes out (from VMs, through the uplink) and in (from
	// the uplink to VMs).
	FramesOut uint64 `json:"frames_out"`
	BytesOut  uint64 `json:"bytes_out"`
	FramesIn  uint64 `json:"frames_in"`
	BytesIn   uint64 `json:"bytes_in"`
	// NotReady counts frames for the uplink dropped while it started;
	// LostOut those it did not take, LostIn frames from it that a VM did
	// not take (not there, or full).
	NotReady uint64 `json:"not_ready,omitempty"`
	LostOut  uint64 `json:"lost_out,omitempty"`
	LostIn   uint64 `json:"lost_in,omitempty"`
	// Dropped counts frames from the uplink that were for no VM, by
	// reason.
	Dropped map[string]uint64 `json:"dropped,omitempty"`
	// ARPRequests counts the gateway's questions for the far end's MAC.
	ARPRequests uint64 `json:"arp_requests"`
}

// AttachmentStatus is one attachment and its traffic.
type AttachmentStatus struct {
	Attachment
	// Heard: a frame from the VM has passed since the attachment was
	// made (its VM runs and talks).
	Heard bool `json:"heard"`
	// Frames and bytes from the VM into the network (after the filter)
	// and from the network to the VM.
	FramesFromVM uint64 `json:"frames_from_vm"`
	BytesFromVM  uint64 `json:"bytes_from_vm"`
	FramesToVM   uint64 `json:"frames_to_vm"`
	BytesToVM    uint64 `json:"bytes_to_vm"`
	// Dropped counts the VM's frames that did not pass, by reason
	// (Reason.String(), or larger than the network's MTU).
	Dropped   uint64            `json:"dropped"`
	DroppedBy map[string]uint64 `json:"dropped_by,omitempty"`
	// LostToVM counts frames for the VM that could not be delivered: its
	// end was not there (yet), or did not read in time.
	LostToVM uint64 `json:"lost_to_vm"`
	// Strangers counts datagrams that reached the attachment's socket
	// from another socket than the VM's, ignored.
	Strangers uint64 `json:"strangers,omitempty"`
	// Frames the VM sent out through the network's uplink, and frames
	// from the uplink to the VM (also counted in FramesFromVM and not in
	// FramesToVM).
	FramesToUplink   uint64 `json:"frames_to_uplink,omitempty"`
	FramesFromUplink uint64 `json:"frames_from_uplink,omitempty"`
	// Error says why the attachment stopped moving frames, if it did
	// (attaching it again restarts it).
	Error string `json:"error,omitempty"`
}

// ForwardStatus is one published port and its use.
type ForwardStatus struct {
	Forward
	Connections uint64 `json:"connections"` // TCP connections accepted (UDP: 0)
}

// maxSockPath is the longest unix socket path both macOS (104 bytes with
// the NUL) and Linux (108) accept.
const maxSockPath = 103

// check validates a against the network.
func (a Attachment) check(r *resolved) (Attachment, error) {
	bad := func(format string, args ...any) (Attachment, error) {
		return a, fmt.Errorf("network %q: attach VM %q: %s: %w", r.Name, a.VM, fmt.Sprintf(format, args...), api.ErrInvalidArgument)
	}
	if a.VM == "" {
		return bad("no VM named")
	}
	mac, err := net.ParseMAC(a.MAC)
	if err != nil || len(mac) != 6 {
		return bad("MAC %q is not an Ethernet address", a.MAC)
	}
	if mac[0]&1 != 0 {
		return bad("MAC %s is a multicast address", mac)
	}
	if mac.String() == r.gwMAC.String() {
		return bad("MAC %s is the gateway's", mac)
	}
	a.MAC = mac.String()
	ip, err := r.memberIP("address", a.IP)
	if err != nil {
		return bad("%v", err)
	}
	a.IP = ip.String()
	for _, s := range []struct{ what, path string }{{"socket", a.Socket}, {"peer", a.Peer}} {
		switch {
		case !filepath.IsAbs(s.path):
			return bad("%s path %q is not absolute", s.what, s.path)
		case len(s.path) > maxSockPath:
			return bad("%s path %s is longer than %d bytes", s.what, s.path, maxSockPath)
		}
	}
	if filepath.Clean(a.Socket) == filepath.Clean(a.Peer) {
		return bad("the socket and its peer are both %s", a.Socket)
	}
	return a, nil
}

// memberIP parses an address a container may have: in the subnet, and
// not the gateway's, the host's, or the network or broadcast address.
func (r *resolved) memberIP(what, s string) (netip.Addr, error) {
	ip, err := netip.ParseAddr(s)
	switch {
	case err != nil || !ip.Is4():
		return ip, fmt.Errorf("%s %q is not an IPv4 address", what, s)
	case !r.subnet.Contains(ip):
		return ip, fmt.Errorf("%s %s is outside the network's subnet %s", what, ip, r.subnet)
	case ip == r.subnet.Addr() || ip == lastAddr(r.subnet):
		return ip, fmt.Errorf("%s %s is the subnet's network or broadcast address", what, ip)
	case ip == r.gateway:
		return ip, fmt.Errorf("%s %s is the gateway's", what, ip)
	case r.hostIP.IsValid() && ip == r.hostIP:
		return ip, fmt.Errorf("%s %s stands for the host", what, ip)
	case r.uplinkIP.IsValid() && ip == r.uplinkIP:
		return ip, fmt.Errorf("%s %s is the uplink's far end", what, ip)
	}
	return ip, nil
}

// ValidName reports whether s is a container name or alias as docker
// allows them: [a-zA-Z0-9][a-zA-Z0-9_.-]*.
func ValidName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for i, c := range s {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '.' && c != '-') {
			return false
		}
	}
	return true
}

// checkRecords validates rs and returns them normalized (lower-case
// names, canonical addresses), sorted and without duplicates.
func checkRecords(r *resolved, rs []Record) ([]Record, error) {
	out := make([]Record, 0, len(rs))
	for _, rec := range rs {
		if !ValidName(rec.Name) {
			return nil, fmt.Errorf("network %q: DNS name %q: a name is letters, digits, '_', '.' and '-': %w", r.Name, rec.Name, api.ErrInvalidArgument)
		}
		ip, err := r.memberIP("address", rec.IP)
		if err != nil {
			return nil, fmt.Errorf("network %q: DNS name %q: %v: %w", r.Name, rec.Name, err, api.ErrInvalidArgument)
		}
		out = append(out, Record{Name: strings.ToLower(rec.Name), IP: ip.String()})
	}
	slices.SortFunc(out, func(a, b Record) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.IP, b.IP)) })
	return slices.Compact(out), nil
}

// check validates f against the network; zeroPort allows HostPort 0.
func (f Forward) check(r *resolved, zeroPort bool) (Forward, error) {
	bad := func(format string, args ...any) (Forward, error) {
		return f, fmt.Errorf("network %q: publish %s: %s: %w", r.Name, f, fmt.Sprintf(format, args...), api.ErrInvalidArgument)
	}
	f.Proto = strings.ToLower(f.Proto)
	if f.Proto != "tcp" && f.Proto != "udp" {
		return bad("protocol %q is neither tcp nor udp", f.Proto)
	}
	if r.Internal {
		return bad("the network is internal: nothing goes in or out of it")
	}
	if f.HostIP != "" {
		ip, err := netip.ParseAddr(f.HostIP)
		if err != nil {
			return bad("host address %q is not an IP address", f.HostIP)
		}
		f.HostIP = ip.Unmap().String()
	}
	if f.HostPort == 0 && !zeroPort {
		return bad("no host port")
	}
	ip, err := r.memberIP("container address", f.GuestIP)
	if err != nil {
		return bad("%v", err)
	}
	f.GuestIP = ip.String()
	if f.GuestPort == 0 {
		return bad("no container port")
	}
	return f, nil
}

// check validates a desired state as a whole: each part, and no VM,
// address, socket or published port twice.
func (s State) check(r *resolved) (State, error) {
	var out State
	seen := map[string]string{}
	dup := func(kind, v, owner string) error {
		k := kind + "\x00" + v
		if o, ok := seen[k]; ok {
			return fmt.Errorf("network %q: %s %s is claimed by both %s and %s: %w", r.Name, kind, v, o, owner, api.ErrInvalidArgument)
		}
		seen[k] = owner
		return nil
	}
	for _, a := range s.Attachments {
		a, err := a.check(r)
		if err != nil {
			return out, err
		}
		owner := "VM " + strconv.Quote(a.VM)
		for _, c := range [][2]string{{"VM", a.VM}, {"MAC", a.MAC}, {"address", a.IP}, {"socket", filepath.Clean(a.Socket)}, {"socket", filepath.Clean(a.Peer)}} {
			if err := dup(c[0], c[1], owner); err != nil {
				return out, err
			}
		}
		out.Attachments = append(out.Attachments, a)
	}
	var err error
	if out.Records, err = checkRecords(r, s.Records); err != nil {
		return out, err
	}
	for _, f := range s.Forwards {
		f, err := f.check(r, false)
		if err != nil {
			return out, err
		}
		if err := dup("port", f.Key().String(), f.String()); err != nil {
			return out, err
		}
		out.Forwards = append(out.Forwards, f)
	}
	return out, nil
}

// overlaps reports whether two published ports of one protocol would
// compete for the same host socket.
func overlaps(a, b ForwardKey) bool {
	if a.Proto != b.Proto || a.HostPort != b.HostPort {
		return false
	}
	wild := func(ip string) bool {
		if ip == "" {
			return true
		}
		a, err := netip.ParseAddr(ip)
		return err == nil && a.IsUnspecified()
	}
	return a.HostIP == b.HostIP || wild(a.HostIP) || wild(b.HostIP)
}
