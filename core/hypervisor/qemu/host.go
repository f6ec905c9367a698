package qemu

import (
	"context"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/capabilities"
	"github.com/berthvm/berth/core/hypervisor"
)

// KVMKind is the kind of KVM a host offers.
type KVMKind string

// The kinds, spelled as core/capabilities reports them.
const (
	KVMNone KVMKind = capabilities.KVMNone
	KVMVMX  KVMKind = capabilities.KVMVMX // Intel VT-x (kvm_intel)
	KVMSVM  KVMKind = capabilities.KVMSVM // AMD-V (kvm_amd)
	KVMARM  KVMKind = capabilities.KVMARM // KVM on an arm64 host
	// KVMPVM is KVM on a PVM host kernel (kvm_pvm): stock guest kernels
	// do not boot under it, so it is treated as no KVM.
	KVMPVM KVMKind = capabilities.KVMPVM
)

// Host is what the command line depends on about the machine it runs on.
type Host struct {
	Arch hypervisor.Arch
	KVM  KVMKind
	// TSCkHz is the host CPU frequency, given to x86 guests under TCG
	// on microvm: without it about half the boots hang calibrating the
	// TSC.
	TSCkHz int
}

// HostFrom takes what the command line needs from the host's
// capabilities (core/capabilities is the one probe of KVM and the CPU).
// Hardware KVM that capabilities found unusable (no access to /dev/kvm)
// counts as none.
func HostFrom(c api.Capabilities) Host {
	kvm := KVMKind(c.KVM)
	if kvm == "" {
		kvm = KVMNone
	}
	if c.Accelerator != capabilities.AccelKVM && (kvm == KVMVMX || kvm == KVMSVM || kvm == KVMARM) {
		kvm = KVMNone
	}
	return Host{Arch: hypervisor.Arch(c.Arch), KVM: kvm, TSCkHz: int(c.CPUMHz * 1000)}
}

// ProbeHost reads the running machine through core/capabilities.
func ProbeHost() Host { return HostFrom(capabilities.Probe(context.Background())) }

// Accel is the accelerator chosen for a guest, with the reason, so it can
// be reported.
type Accel struct {
	Name   string // "kvm" or "tcg"
	Reason string
}

// ChooseAccel picks KVM when the host has usable KVM for the guest's
// arch, TCG otherwise.
func ChooseAccel(h Host, guest hypervisor.Arch) Accel {
	if guest != h.Arch {
		return Accel{"tcg", "guest arch " + string(guest) + " differs from the host's " + string(h.Arch)}
	}
	switch h.KVM {
	case KVMVMX, KVMSVM, KVMARM:
		return Accel{"kvm", "KVM (" + string(h.KVM) + ")"}
	case KVMPVM:
		return Accel{"tcg", "/dev/kvm is PVM, which cannot boot stock guest kernels"}
	}
	return Accel{"tcg", "no usable /dev/kvm"}
}
