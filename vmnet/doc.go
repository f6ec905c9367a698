// Package vmnet moves Ethernet frames between a VM's NIC and a network
// engine, for the per-network host process (core/network): the packet
// pump, the datagram sockets every Berth VM NIC is, and Berth's binding to
// Apple's vmnet.framework.
//
// Every VM NIC is a unix datagram socket, one frame per datagram: vz's
// file-handle attachment on macOS, QEMU's -netdev dgram on Linux. The
// network process holds the other end (ListenDatagram: the VM may start,
// stop and restart behind it) and runs one Pump per VM between that
// DatagramPort and the engine's port: gvisor-tap-vsock, through a
// DatagramPair whose far end goes to AcceptVfkit, or a vmnet Interface.
// Pump filters each direction (PumpOptions; EtherType, IPv4Source,
// IPv4Destination and DenyIPv4To for filters on IPv4 destinations),
// counts every frame (Stats), drops what is not a frame or too large, and
// retries a full receiver briefly before dropping, so a VM that stops
// reading never stalls its engine. It closes neither port: a VM that goes
// away leaves the engine running (see Pump).
//
// On macOS, Start starts a vmnet interface with the classic API
// (vmnet_start_interface; root before macOS 26, see Available) and
// returns it as a Port: reads batched as vmnet-helper does, writes padded
// to 64 bytes. vmnet_darwin.go and vmnet_darwin.c only translate; what
// the interface is asked for (Config, ConfigFor), how descriptors are set,
// how many packets a read takes and what each vmnet_return_t means are
// decided in portable code and tested on Linux against a fake vmnet. The
// darwin files are type-checked here (make darwin-check for the Go,
// TestCFile for the C, against stand-ins for Apple's headers), never run.
// Off macOS, Start checks its Config and fails with api.ErrUnsupported.
//
// On Linux, OpenTap opens an existing TAP device as a Port: the same kind
// of port as a vmnet interface (its far end is the host's own network
// stack), which a network process may use as its way out, and what the
// tests put at the far end of a pump.
//
// The pump is tested on Linux with real guests: two QEMU VMs wired to
// each other through two pumps, and a VM against the Linux kernel through
// a TAP device (OpenTap) in a network namespace of the test's own, so the code that
// moves every packet on a Mac has moved real packets here. Only the vmnet
// calls themselves have not run.
//
// The package does no addressing, DHCP, DNS or NAT (the engines do),
// owns no process, and imports only core/api.
package vmnet
