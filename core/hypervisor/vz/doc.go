// Package vz is the macOS hypervisor backend: each VM runs on Apple's
// Virtualization framework (through Code-Hex/vz v3) in a host process of
// its own.
//
// # What is decided where
//
// Everything is decided in portable code, table-tested on Linux:
//   - plan.go turns a hypervisor.VMConfig and the Mac's facts (the
//     framework's CPU and memory ranges, capabilities' nested
//     virtualization and Rosetta answers) into a Plan: the boot loader's
//     kernel, initramfs and command line (console=hvc0 panic=-1), and
//     the ordered device list with every mode: the virtio console to the
//     console log (appended), virtio-blk disks (cached; synchronization
//     "full" for writable disks, none for read-only ones: see Caching and
//     Sync for why), the vsock device the agent listens on (port 1024),
//     entropy, a traditional balloon, the NICs (the framework's NAT or a
//     datagram socket to a userspace network, each with a stable MAC from
//     DeriveMAC), and the Rosetta share. It also writes every validation
//     message, naming the allowed range or the requirement (nested
//     virtualization: M3 or later and macOS 15 or later, with the chip and
//     version found; Rosetta: the softwareupdate command that installs it).
//   - state.go maps the framework's VM states to hypervisor states and
//     says which end a VM and which are crashes; host.go explains an end
//     from the state, what the host did and the console of this boot.
//   - host.go is the VM's host process (berth vm-host RUN_DIR): it reads
//     the plan, makes and starts the VM through the VM interface, serves
//     the control socket (control.go: hello, watch, stop, kill, and agent
//     connections proxied from the socket to vsock port 1024, retried
//     until the agent listens or the caller's deadline passes, failing
//     with the console's tail; connector.go keeps one Connect in flight
//     per VM, since a Connect may never return) and exits, removing the
//     run directory, when the VM ends.
//   - driver.go is the Driver the core uses: it writes the plan, starts
//     the host process as a hostproc.Process (its own process group,
//     identified by pid and start time in the Handle), so a restarted core
//     re-adopts it as the QEMU driver re-adopts QEMU.
//
// vm_darwin.go alone calls the framework, walking the plan. The tests run
// the whole process model on Linux with a fake VM that serves the real
// agent protocol; the darwin files are type-checked (make darwin-check),
// never run here.
//
// # Why a host process per VM
//
// A VZVirtualMachine lives in the process that created it. Hosting each
// VM in its own process gives macOS the guarantees QEMU processes give on
// Linux: a VM survives the core being killed and is adopted again, and a
// VM's crash (or a framework bug) ends one process, not the daemon. Like
// apple/container's one runtime helper per container. The host process is
// the berth executable itself (MaybeRunHost), so the one signed binary
// with the com.apple.security.virtualization entitlement is all there is
// to sign.
//
// # Guest side
//
// The initramfs for vz holds kernel.VZModuleGroups (virtio-pci, vsock,
// virtio-console, the PL061 power key, balloon, entropy and, loaded only
// for Rosetta, virtiofs and binfmt_misc). The guest kernel is
// kernel.MacKernel (Debian's arm64 kernel, see there for why).
//
// It must not know the agent protocol beyond the vsock port, nor decide
// what runs in the guest.
package vz
