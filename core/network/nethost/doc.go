// Package nethost is a network's own process (`berth net-host RUN_DIR`)
// and the core's side of it. Every Berth network runs in one such
// process, which outlives the daemon: containers keep their network
// while the daemon restarts, and the next daemon adopts the process by
// pid and start time (hostproc), then tells it the whole desired state
// (Sync).
//
// # What is decided where
//
// Pure, table-tested, no I/O:
//   - plan.go: the network as the core plans it (Plan: subnet, gateway,
//     internal, host access and its address, the other networks'
//     subnets, MTU, DNS domain), validated, with its defaults.
//   - types.go: attachments, DNS records, published ports, the desired
//     State and what Status reports, each validated against the plan.
//   - filter.go: which frames a VM may send (Filter.Check, a Reason for
//     each drop), and which destinations the gateway may dial through
//     the host for a guest (guard). The host's loopback stays private
//     unless the network has host access.
//   - route.go: on a network with an uplink (Plan.Uplink), where each
//     frame goes: a VM's IPv4 to the internet (past its Filter) to the
//     uplink, everything else to the switch as without one; from the
//     uplink, to the VM whose address or MAC it is for, or nowhere.
//   - diff.go: what Sync must change (planSync).
//   - portholder.go: reading /proc/net/{tcp,udp}[6] to say who holds a
//     port (portholder_linux.go reads the files; elsewhere a port is
//     just "in use").
//
// The process:
//   - host.go reads RUN_DIR/plan.json, runs the engine, serves the
//     control socket (control.go has the protocol) and removes RUN_DIR
//     when stopped (a Stop request, SIGTERM).
//   - engine.go assembles gvisor-tap-vsock's switch, gateway stack,
//     forwarders and DNS server, with the filter's second line (guard)
//     before every dial and the network's names answered locally: the
//     containers' router and DNS server, host access, published ports,
//     and the way out by user-mode NAT on a network without an uplink.
//   - nic.go is each VM's end: vmnet's datagram socket per attachment
//     (QEMU's -netdev dgram, vz's FileHandle attachment through the
//     vm-host) and vmnet.Pump to the switch, through Filter.Check (and
//     route.go's choice, with an uplink).
//   - uplink.go is the way out through a port of the network's own: a
//     vmnet interface in shared mode on macOS (the Mac's kernel NATs), a
//     TAP device on Linux. It starts in the background, learns its far
//     end's MAC by ARP, and when it cannot start or fails the gateway's
//     user-mode NAT stays the way out (Status.Uplink says why). The vmnet
//     calls have never run here; the rest runs in the tests, the TAP
//     device's far end in a network namespace with real guests.
//   - forward.go publishes ports: host listeners carried into the
//     network.
//
// The core's side: Client (one call per request on the control socket,
// errors with core/api's sentinels), Start, Adopt, Process.Stop.
//
// It must not know containers, state or the runtime: the core tells it
// VMs, addresses, names and ports.
package nethost
