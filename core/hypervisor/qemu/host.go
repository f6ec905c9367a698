package qemu

import (
	"context"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/capabilities"
	"github.com/berthvm/berth/core/hypervisor"
)

// Host is what the command line depends on about the machine it runs on:
// core/capabilities' facts and the decisions made from them (the
// accelerator and why, nested virtualization, Rosetta). The backend applies
// them; it decides none of them again.
type Host struct {
	Caps api.Capabilities
}

// HostFrom wraps the host's capabilities.
func HostFrom(c api.Capabilities) Host { return Host{Caps: c} }

// ProbeHost reads the running machine through core/capabilities.
func ProbeHost() Host { return HostFrom(capabilities.Probe(context.Background())) }

// Arch is the host's architecture.
func (h Host) Arch() hypervisor.Arch { return hypervisor.Arch(h.Caps.Arch) }

// TSCkHz is the host CPU's frequency, given to x86 guests under TCG on
// microvm: without it about half the boots hang calibrating the TSC.
func (h Host) TSCkHz() int { return int(h.Caps.CPUMHz * 1000) }

// Accel is the accelerator chosen for a guest, with the reason, so it can
// be reported.
type Accel struct {
	Name   string // "kvm" or "tcg"
	Reason string
}

// ChooseAccel applies capabilities' decision for a guest of arch on h.
func ChooseAccel(h Host, guest hypervisor.Arch) Accel {
	name, reason := capabilities.GuestAccelerator(h.Caps, string(guest))
	return Accel{name, reason}
}
