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

// VirtioConsole is the guest console under Apple's Virtualization
// framework (console=hvc0): the virtio console, a module that the boot
// group loads, so it exists only once the agent runs.
const VirtioConsole = "hvc0"

// PowerOffMarker is the line the agent writes on the console right before
// it powers the guest off. The kernel's own "reboot: Power down" comes
// after the devices are shut down, too late for a virtio console to carry
// it (hvc0 under Apple's Virtualization framework never shows it), so the
// host reads a clean end from this line.
const PowerOffMarker = "berth agent: powering off"

// DeviceNode is a character device the initramfs carries.
type DeviceNode struct {
	Path         string
	Major, Minor uint32
	Perm         uint32
}

// DeviceNodes are in the initramfs because PID 1 needs them before it
// mounts devtmpfs: the kernel opens /dev/console for PID 1's stdio, and
// when it cannot (a console that is a module, hvc0 under Apple's
// Virtualization framework, is not there yet) the Go runtime opens
// /dev/null for fds 0-2 before main, or dies with "cannot open standard
// fds".
var DeviceNodes = []DeviceNode{
	{Path: "/dev/console", Major: 5, Minor: 1, Perm: 0o600},
	{Path: "/dev/null", Major: 1, Minor: 3, Perm: 0o666},
}

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
