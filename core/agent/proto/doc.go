// Package proto is the host<->guest agent protocol of Berth, the part both
// sides import: the messages, and the framing that multiplexes control
// calls and stdio streams over one byte stream.
//
// The transport is any reliable byte stream: virtio-serial through QEMU's
// unix socket, vsock on macOS, net.Pipe in tests. A session starts with a
// sync marker from each side (WriteSync, ReadSync: a host that reconnects
// to a virtio-serial port skips bytes left over from an earlier session),
// then a "hello" call that checks ProtocolVersion and returns the guest's
// Info.
//
// Frames are [type:1][stream:4][length:4][payload]. Stream 0 carries
// control messages (Message: JSON requests and replies matched by id);
// every other stream carries the stdin, stdout or stderr bytes of one
// process and is flow-controlled by credits (the receiver returns credit
// for what it has consumed, Window at most in flight), so a slow reader
// stalls only its own stream. A receiver buffers no more than the window
// it granted: data beyond it ends the session as corrupt (api.ErrCorrupt),
// since the guest is not trusted with the host's memory. Mux runs one session's frames; what a
// request does is the business of each side.
//
// It owns the wire and nothing else: it imports neither side (the host's
// client in core/agent, the guest's server in core/guest), no OS
// interface, and nothing that would grow the guest's binary; the host
// builds for macOS with it, the guest for Linux. Any change to the bytes
// it writes bumps ProtocolVersion.
package proto
