package qemu

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/berthvm/berth/core/hypervisor"
)

// KVMKind is the kind of KVM a host offers.
type KVMKind string

const (
	KVMNone KVMKind = "none"
	KVMVMX  KVMKind = "vmx" // Intel VT-x (kvm_intel)
	KVMSVM  KVMKind = "svm" // AMD-V (kvm_amd)
	KVMARM  KVMKind = "arm" // KVM on an arm64 host
	// KVMPVM is KVM on a PVM host kernel (kvm_pvm): stock guest kernels
	// do not boot under it, so it is treated as no KVM.
	KVMPVM KVMKind = "pvm"
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

// ProbeHost reads the running machine. core/capabilities reports the
// same KVM kind to users; this small probe keeps the backend usable
// without it.
func ProbeHost() Host {
	h := Host{Arch: hypervisor.Arch(runtime.GOARCH), KVM: probeKVM("/"), TSCkHz: probeTSCkHz("/proc/cpuinfo")}
	return h
}

func probeKVM(root string) KVMKind {
	exists := func(p string) bool { _, err := os.Stat(root + p); return err == nil }
	if !exists("dev/kvm") {
		return KVMNone
	}
	switch {
	case exists("sys/module/kvm_pvm"):
		return KVMPVM
	case exists("sys/module/kvm_intel"):
		return KVMVMX
	case exists("sys/module/kvm_amd"):
		return KVMSVM
	case runtime.GOARCH == "arm64":
		return KVMARM
	}
	return KVMNone
}

func probeTSCkHz(cpuinfo string) int {
	f, err := os.Open(cpuinfo)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "cpu MHz" {
			mhz, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return int(mhz * 1000)
			}
		}
	}
	return 0
}

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
