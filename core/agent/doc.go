// Package agent is the host-side Client of the agent protocol, whose
// messages and framing are in core/agent/proto.
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
