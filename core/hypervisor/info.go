package hypervisor

import "github.com/berthvm/berth/core/kernel"

// Info is what a backend is. The rest of Berth decides from it, never
// from a backend's name: a new backend, or a test that boots one
// backend's guest under another (vz's device model under QEMU), declares
// what it is and gets the right treatment.
type Info struct {
	// Name is stored in Handles (a driver adopts only its own VMs) and
	// shown to users: "qemu", "vz".
	Name string
	// Channel is how the host reaches the guest agent.
	Channel Channel
	// Addressing is how a NIC on the backend's own NAT gets its address.
	Addressing Addressing
	// NAT names the backend's own NAT for users ("QEMU user-mode NAT").
	NAT string
	// Console is the guest console's kind.
	Console ConsoleKind
	// ForeignArch: guests of another architecture than the host's run
	// (emulated, slowly). Without it only the host's architecture runs.
	ForeignArch bool
	// ModuleGroups are the kernel modules an initramfs must carry for the
	// backend's devices (Debian's kernels have them as modules).
	ModuleGroups []kernel.ModuleGroup
	// Shares are the kinds of host directory sharing the backend offers.
	Shares []ShareKind
	// Networks are the NIC attachments the backend offers.
	Networks []NetworkMode
}

// ChannelKind is the transport of the agent's channel.
type ChannelKind string

const (
	// ChannelSerial is a virtio-serial port the host reaches through a
	// unix socket (QEMU: no vsock without /dev/vhost-vsock).
	ChannelSerial ChannelKind = "virtio-serial"
	// ChannelVsock is a vsock port (Apple's Virtualization framework).
	ChannelVsock ChannelKind = "vsock"
)

// Channel is the agent's channel: its kind, and the port name or number
// (guestabi.SerialPort, guestabi.VsockPort).
type Channel struct {
	Kind       ChannelKind
	SerialPort string `json:",omitempty"`
	VsockPort  uint32 `json:",omitempty"`
}

// Addressing is how a guest NIC on the backend's NAT gets its address.
type Addressing string

const (
	// AddressStatic: the NAT's addresses are fixed and known (QEMU's user
	// networking), so the agent sets them without a round trip.
	AddressStatic Addressing = "static"
	// AddressDHCP: the NAT hands addresses out by DHCP only, from a subnet
	// the host picks (macOS's vmnet behind vz's NAT attachment).
	AddressDHCP Addressing = "dhcp"
)

// ConsoleKind says when the guest console exists.
type ConsoleKind string

const (
	// ConsoleUART is a serial port built into the kernel: the console
	// shows everything from the first kernel message.
	ConsoleUART ConsoleKind = "uart"
	// ConsoleVirtio is hvc0, the virtio console, a module the agent loads:
	// a guest that dies before that leaves an empty console.
	ConsoleVirtio ConsoleKind = "virtio"
)

// LateConsole reports whether the console exists only once the agent has
// loaded its module.
func (i Info) LateConsole() bool { return i.Console == ConsoleVirtio }

// ShareKind is a way to share a host directory with a guest.
type ShareKind string

// ShareVirtioFS is virtio-fs (Apple's Virtualization framework).
const ShareVirtioFS ShareKind = "virtio-fs"
