// Package agent is the host's side of the guest agent: Client, one
// session with a guest's PID 1 over any byte stream (Connect takes a dial
// function, so the transport is the hypervisor's business), and
// BinaryPath, where the host finds the agent binary it puts in the
// initramfs. The messages and the framing are in core/agent/proto; the
// guest's side is core/guest.
//
// It runs in the host's core on macOS and Linux, so it stays portable,
// and it must not import core/guest: the host does not compile the
// guest's OS layer (a test in packaging checks it). It makes no
// decisions about containers (core/runtime does) and knows nothing of
// hypervisors.
package agent
