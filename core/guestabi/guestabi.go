// Package guestabi is everything the host and the guest agent must agree
// on, in one place both import: the initramfs layout the host builds and
// PID 1 reads (where the agent and the kernel modules are, the module
// groups, the device nodes), the agent's channel (the virtio-serial port's
// name, the vsock port), the berth.* kernel arguments, and the lines the
// agent writes on the console for the host to read. It imports nothing of
// Berth, so the agent binary stays small.
package guestabi

import "strings"

// The agent's channel to the host: a virtio-serial port with this name
// (QEMU), or this vsock port (Apple's Virtualization framework, whose
// guests have no virtio-serial ports for it).
const (
	SerialPort        = "agent"
	VsockPort  uint32 = 1024
)

// Kernel command line arguments the agent reads.
const (
	// ArgDebug makes the agent trace its boot on the console.
	ArgDebug = "berth.debug"
	// ArgRosetta=TAG: mount the virtio-fs share TAG (Rosetta) and run
	// x86_64 binaries through it.
	ArgRosetta = "berth.rosetta"
	// ArgX86Interpreter=PATH: run x86_64 binaries through PATH, an
	// interpreter already in the guest (tests of the Rosetta path).
	ArgX86Interpreter = "berth.x86-interpreter"
)

// RosettaTag is the virtio-fs tag the Virtualization framework's Rosetta
// share gets; the command line names it to the agent (ArgRosetta).
const RosettaTag = "rosetta"

// Arg is KEY=value for the kernel command line.
func Arg(key, value string) string { return key + "=" + value }

// ArgValue finds KEY=value on a kernel command line.
func ArgValue(cmdline, key string) (string, bool) {
	for _, w := range strings.Fields(cmdline) {
		if v, ok := strings.CutPrefix(w, key+"="); ok {
			return v, true
		}
	}
	return "", false
}

// HasArg reports whether a kernel command line holds the word arg.
func HasArg(cmdline, arg string) bool {
	for _, w := range strings.Fields(cmdline) {
		if w == arg {
			return true
		}
	}
	return false
}

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
	// GroupDisk: the container's disks, overlayfs and virtio-fs (fuse,
	// virtiofs: host folders shared with the VM, mounted by tag; always
	// there, ~22 ms under TCG, off the handshake's path). Loaded while the
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
