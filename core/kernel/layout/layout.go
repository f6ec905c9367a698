// Package layout is the contract between the initramfs that core/kernel
// builds on the host and the agent that reads it as PID 1 in the guest:
// where the agent and the kernel modules are, and the module groups. It
// imports nothing, so the agent binary stays small (core/kernel itself
// carries download and archive code the guest must not).
package layout

// Paths inside the initramfs.
const (
	InitPath   = "/init"
	ModulesDir = "/berth/modules"
)

// ModuleList is where the initramfs lists a group's modules, one name a
// line, in load order.
func ModuleList(group string) string { return "/berth/modules." + group }

// Module groups, in the order the agent loads them. Whatever a kernel has
// built in is skipped.
const (
	// GroupBoot: what the agent needs to reach the host (virtio-mmio
	// devices under QEMU, vsock under vz). Loaded before serving.
	GroupBoot = "boot"
	// GroupDisk: the container's disks and overlayfs. Loaded while the
	// agent already serves; create_container waits for them.
	GroupDisk = "disk"
	// GroupNet: the NIC; configure_network waits for it.
	GroupNet = "net"
	// GroupExtra: the ACPI power button and its input events (graceful
	// stop from QMP), and the balloon that reports freed memory to the
	// host.
	GroupExtra = "extra"
	// GroupRosetta: what the agent needs to register Rosetta (the
	// virtio-fs share and binfmt_misc); loaded only when the kernel
	// command line asks for Rosetta.
	GroupRosetta = "rosetta"
)
