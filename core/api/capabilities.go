package api

// Capabilities are the host facts that decide what Berth can do here. They
// are gathered once by core/capabilities and shown by `berth system info`.
type Capabilities struct {
	OS        string  `json:"os"`               // "darwin" or "linux"
	OSName    string  `json:"osName"`           // "macOS", "Debian GNU/Linux"
	OSVersion string  `json:"osVersion"`        // "15.1", "12"
	Kernel    string  `json:"kernel"`           // uname release
	Arch      string  `json:"arch"`             // GOARCH of the host: "arm64", "amd64"
	CPUModel  string  `json:"cpuModel"`         // brand string
	CPUMHz    float64 `json:"cpuMHz,omitempty"` // first CPU's clock as Linux reports it
	CPUs      int     `json:"cpus"`
	MemoryMiB int     `json:"memoryMiB"`

	// AppleChip is the Apple silicon generation ("M1", "M3 Pro"…), empty on
	// other hosts; AppleChipGeneration is its number (1 for M1…), 0 if none.
	AppleChip           string `json:"appleChip,omitempty"`
	AppleChipGeneration int    `json:"appleChipGeneration,omitempty"`

	// KVM is the Linux kernel virtualization found: "vmx", "svm" (usable
	// hardware KVM), "pvm" (present but unusable by stock guest kernels) or
	// "none". Empty on macOS.
	KVM string `json:"kvm,omitempty"`

	// Hypervisor is the backend Berth uses here ("qemu", "vz") and
	// Accelerator how it runs guests ("kvm", "tcg", "hvf").
	Hypervisor  string `json:"hypervisor"`
	Accelerator string `json:"accelerator"`
	// AcceleratorReason says why that accelerator was chosen.
	AcceleratorReason string `json:"acceleratorReason,omitempty"`

	// NestedVirtualization reports whether a guest can run its own VMs.
	NestedVirtualization       bool   `json:"nestedVirtualization"`
	NestedVirtualizationReason string `json:"nestedVirtualizationReason,omitempty"`

	// Rosetta reports whether Rosetta can run x86_64 binaries in arm64 guests.
	Rosetta       bool   `json:"rosetta"`
	RosettaReason string `json:"rosettaReason,omitempty"`

	// Unsupported says why Berth cannot run containers on this host at
	// all, naming what to install instead (an amd64 berth under Rosetta
	// on Apple silicon); empty when it can.
	Unsupported string `json:"unsupported,omitempty"`

	// BuildSDK is the macOS SDK the running berth was linked against
	// ("15.2"); empty elsewhere or when unreadable.
	BuildSDK string `json:"buildSDK,omitempty"`

	// Problems lists probe failures that did not stop the probe, and
	// warnings about this host or build.
	Problems []string `json:"problems,omitempty"`
}
