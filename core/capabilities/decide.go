package capabilities

import (
	"fmt"

	"github.com/berthvm/berth/core/api"
)

// KVM kinds reported in api.Capabilities.KVM.
const (
	KVMVMX  = "vmx"  // Intel VT-x through kvm_intel: usable
	KVMSVM  = "svm"  // AMD-V through kvm_amd: usable
	KVMARM  = "arm"  // KVM on an arm64 host: usable
	KVMPVM  = "pvm"  // kvm_pvm: /dev/kvm exists, stock guest kernels cannot run on it
	KVMNone = "none" // no KVM
)

// Accelerators reported in api.Capabilities.Accelerator.
const (
	AccelKVM = "kvm"
	AccelTCG = "tcg"
	AccelHVF = "hvf" // Apple's Hypervisor framework, under the Virtualization framework
)

// LinuxKVMFacts are what the Linux probe reads to decide on KVM.
type LinuxKVMFacts struct {
	Arch         string          // host GOARCH
	Modules      map[string]bool // loaded modules among kvm, kvm_intel, kvm_amd, kvm_pvm
	DevKVM       bool            // /dev/kvm exists
	DevKVMUsable bool            // /dev/kvm opens read-write
	Nested       bool            // kvm_intel/kvm_amd "nested" parameter is on
}

// KVMKind names the KVM flavour. PVM wins over the others: when kvm_pvm is
// loaded, /dev/kvm is PVM's even if kvm_intel is loaded too.
func KVMKind(f LinuxKVMFacts) string {
	switch {
	case f.Modules["kvm_pvm"]:
		return KVMPVM
	case !f.DevKVM:
		return KVMNone
	case f.Modules["kvm_intel"]:
		return KVMVMX
	case f.Modules["kvm_amd"]:
		return KVMSVM
	case f.Arch == "arm64" && f.Modules["kvm"]:
		return KVMARM
	}
	return KVMNone
}

// LinuxAccelerator decides how QEMU runs guests and says why.
func LinuxAccelerator(f LinuxKVMFacts) (accel, reason string) {
	switch kind := KVMKind(f); kind {
	case KVMVMX, KVMSVM, KVMARM:
		if !f.DevKVMUsable {
			return AccelTCG, fmt.Sprintf("KVM (%s) is present but /dev/kvm cannot be opened read-write; add your user to the kvm group for hardware speed", kind)
		}
		return AccelKVM, fmt.Sprintf("hardware KVM (%s)", kind)
	case KVMPVM:
		return AccelTCG, "/dev/kvm is PVM, which stock guest kernels cannot use; using QEMU's TCG emulation (slower)"
	default:
		return AccelTCG, "no KVM on this host; using QEMU's TCG emulation (slower)"
	}
}

// GuestAccelerator is the accelerator a guest of guestArch gets on host:
// the host's (hardware KVM, or Apple's hypervisor under the Virtualization
// framework) for its own architecture, TCG emulation for another.
func GuestAccelerator(host api.Capabilities, guestArch string) (accel, reason string) {
	switch {
	case guestArch != host.Arch:
		return AccelTCG, fmt.Sprintf("guest arch %s differs from the host's %s: emulated with QEMU's TCG", guestArch, host.Arch)
	case host.Accelerator == "":
		return AccelTCG, "no usable /dev/kvm"
	}
	return host.Accelerator, host.AcceleratorReason
}

// CheckNestedFor is CheckNested for a guest of guestArch: nested
// virtualization also needs the guest to run on the hardware, not under
// emulation.
func CheckNestedFor(host api.Capabilities, guestArch string) error {
	if err := CheckNested(host); err != nil {
		return err
	}
	if accel, reason := GuestAccelerator(host, guestArch); accel == AccelTCG {
		return fmt.Errorf("nested virtualization (--virtualization) is not available: %s: %w", reason, api.ErrUnsupported)
	}
	return nil
}

// LinuxNested decides whether guests can run their own VMs on Linux: only
// with hardware KVM whose nested parameter is on.
func LinuxNested(f LinuxKVMFacts) (bool, string) {
	kind := KVMKind(f)
	switch {
	case kind == KVMARM:
		return false, "Berth does not offer nested virtualization on arm64 Linux hosts"
	case kind != KVMVMX && kind != KVMSVM:
		return false, fmt.Sprintf("needs hardware KVM (VT-x or AMD-V); this host has %s", describeKVM(kind))
	case !f.Nested:
		return false, fmt.Sprintf("KVM (%s) has nested virtualization turned off; enable the kvm_intel/kvm_amd 'nested' module parameter", kind)
	}
	return true, fmt.Sprintf("KVM (%s) with nested virtualization", kind)
}

func describeKVM(kind string) string {
	switch kind {
	case KVMPVM:
		return "PVM, which cannot nest"
	case KVMNone:
		return "no KVM"
	}
	return kind
}

// MacFacts are what the macOS probe reads for nested virtualization.
type MacFacts struct {
	Chip       string // "M3 Pro", "" on Intel
	Generation int    // 3 for M3, 0 on Intel
	OSVersion  Version
	// VZSupported is vz.IsNestedVirtualizationSupported(): the framework's
	// own answer, which wins when it says no.
	VZSupported bool
	// BuildSDK is the macOS SDK berth was built with (zero if unknown):
	// built with one older than NestedMinSDK, VZSupported is always false.
	BuildSDK Version
}

// Minimums for nested virtualization on the Virtualization framework.
const (
	NestedMinChipGeneration = 3
	NestedMinMacOS          = 15
)

// MacNested decides nested virtualization on macOS. The requirement is
// Apple's: an M3 or later chip and macOS 15 or later; the framework's own
// check has the last word.
func MacNested(f MacFacts) (bool, string) {
	found := describeMac(f)
	switch {
	case f.Generation < NestedMinChipGeneration || f.OSVersion.Major < NestedMinMacOS:
		return false, fmt.Sprintf("needs an Apple M%d or later chip and macOS %d or later; this Mac has %s",
			NestedMinChipGeneration, NestedMinMacOS, found)
	case !f.VZSupported && f.BuildSDK != (Version{}) && f.BuildSDK.Major < NestedMinSDK:
		return false, fmt.Sprintf("this berth was built with the macOS %s SDK, which leaves it out (%s supports it); rebuild berth with the macOS %d SDK or later",
			f.BuildSDK, found, NestedMinSDK)
	case !f.VZSupported:
		return false, fmt.Sprintf("the Virtualization framework reports it unsupported on %s", found)
	}
	return true, fmt.Sprintf("supported on %s", found)
}

func describeMac(f MacFacts) string {
	chip := "an Intel CPU"
	if f.Generation > 0 {
		chip = "an Apple " + f.Chip
	}
	return fmt.Sprintf("%s with macOS %s", chip, f.OSVersion)
}

// CheckNested is called before anything is created for a container that
// asks for nested virtualization: it fails fast with the reason the probe
// recorded (which names the chip and OS found and what is required).
func CheckNested(c api.Capabilities) error {
	if c.NestedVirtualization {
		return nil
	}
	reason := c.NestedVirtualizationReason
	if reason == "" {
		reason = "this host does not support it"
	}
	return fmt.Errorf("nested virtualization (--virtualization) is not available: %s: %w", reason, api.ErrUnsupported)
}

// CheckRosetta is the same for --rosetta.
func CheckRosetta(c api.Capabilities) error {
	if c.Rosetta {
		return nil
	}
	reason := c.RosettaReason
	if reason == "" {
		reason = "this host does not support it"
	}
	return fmt.Errorf("rosetta (--rosetta) is not available: %s: %w", reason, api.ErrUnsupported)
}

// GuestArch decides which architecture a container's VM runs, for an
// image of imageArch on host with a backend that runs foreign
// architectures (QEMU emulates them) or not (Apple's Virtualization
// framework runs only the Mac's own; an amd64 image on Apple silicon then
// needs Rosetta, which rosetta asks for).
func GuestArch(imageArch string, host api.Capabilities, foreignArch, rosetta bool) (string, error) {
	switch {
	case imageArch != "amd64" && imageArch != "arm64":
		return "", fmt.Errorf("image architecture %q is not supported (amd64 or arm64): %w", imageArch, api.ErrUnsupported)
	case foreignArch || imageArch == host.Arch:
		return imageArch, nil
	case imageArch == "amd64" && host.Arch == "arm64" && rosetta:
		return "arm64", nil
	case imageArch == "amd64" && host.Arch == "arm64":
		return "", fmt.Errorf("image is linux/amd64 and this Mac runs arm64 VMs: run it with --rosetta, or pull the arm64 variant (--platform linux/arm64): %w", api.ErrUnsupported)
	}
	return "", fmt.Errorf("image is linux/%s and this host runs only linux/%s VMs: pull the %s variant (--platform linux/%s): %w",
		imageArch, host.Arch, host.Arch, host.Arch, api.ErrUnsupported)
}

// RosettaState mirrors the Virtualization framework's availability answer
// without importing it.
type RosettaState int

const (
	RosettaNotSupported RosettaState = iota
	RosettaNotInstalled
	RosettaInstalled
)

// MacRosetta turns the framework's answer into the capability and reason.
func MacRosetta(arch string, s RosettaState) (bool, string) {
	switch {
	case arch != "arm64":
		return false, "Rosetta for Linux needs Apple silicon"
	case s == RosettaInstalled:
		return true, "installed"
	case s == RosettaNotInstalled:
		return false, "Rosetta is not installed; install it with: softwareupdate --install-rosetta --agree-to-license"
	}
	return false, "the Virtualization framework does not support Rosetta on this macOS version (needs macOS 13 or later)"
}
