// Package agent is the host<->guest protocol of Berth: the messages, the
// framing that multiplexes control calls and stdio streams over one byte
// stream, and the host-side Client.
//
// The transport is any reliable byte stream: virtio-serial through QEMU's
// unix socket, vsock on macOS, net.Pipe in tests. A session starts with a
// sync marker from each side (so a host that reconnects to a virtio-serial
// port can skip bytes left over from an earlier session), then a "hello"
// call that checks the protocol version and returns the guest's Info.
//
// Frames are [type:1][stream:4][length:4][payload]. Stream 0 carries
// control messages (JSON requests and replies matched by id); every other
// stream carries the stdin, stdout or stderr bytes of one process and is
// flow-controlled by credits (the receiver returns credit for what it has
// consumed), so a slow reader stalls only its own stream.
//
// The guest side is here too, in _linux.go files: Server (processes,
// their output kept across host sessions, containers' root filesystems)
// and what PID 1 does to the guest machine (GuestSystem, EarlyMounts,
// LoadModules, FindChannel, ServePort, ServeVsock, WatchPowerButton,
// SetupX86 for Rosetta; the network through netlink, with static
// addresses or leases from its own DHCP client, renewed while the guest
// runs and released at power off); app/agent is its thin main. The
// rest must stay portable (the macOS core imports the client) and none of
// it may know about hypervisors.
package agent
