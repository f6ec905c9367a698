// Package hypervisor defines how Berth boots VMs, independent of any
// hypervisor: VMConfig (plain data), Driver (validates a config and
// starts, or re-adopts, a Machine) and Machine (one running VM).
//
// Backends live in their own packages: hypervisor/qemu (Linux, QEMU with
// KVM or TCG) and hypervisor/vz (macOS, Apple's Virtualization framework).
// Everything here is portable and imports neither. hvtest holds the
// conformance suite every backend must pass with real VMs.
//
// This package does not speak the agent protocol (core/agent) and does
// not decide what runs in the guest; it only boots, watches and stops.
package hypervisor
