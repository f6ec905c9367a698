// Package guest is the guest side of Berth's agent protocol
// (core/agent/proto), linked only into the guest's PID 1 (app/agent).
//
// Server runs containers' processes (users resolved against the
// container's own /etc/passwd and /etc/group, paths resolved inside its
// root, terminals, stats) and keeps them, and their output, across host
// sessions: a host that restarts attaches again and gets what it had not
// read. The rest, in _linux.go files, is what PID 1 does to the guest
// machine: EarlyMounts, Console, LoadModules, FindChannel, ServePort and
// ServeVsock, WatchPowerButton, SetupX86 for Rosetta, and RealSystem (the
// clock, the hostname, containers' disks and overlays, the network
// through core/guest/netconf, power off). The server reaches the machine
// only through System, so its tests run on any Linux host with a
// harmless one.
//
// The host must not import it (a test in packaging checks that berth does
// not compile it), and it must not import the host's client: both sides
// meet only in proto. Nothing here knows about hypervisors beyond the
// devices each one gives the guest (channel, console, power button).
package guest
