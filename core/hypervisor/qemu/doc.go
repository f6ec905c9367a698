// Package qemu is the Linux hypervisor backend: it boots VMs with QEMU
// (microvm on x86_64, virt on arm64), using KVM when the host has VT-x or
// AMD-V and TCG otherwise (PVM's /dev/kvm cannot boot stock kernels, so
// it counts as none).
//
// The command line is built by pure functions (Cmdline) from a
// hypervisor.VMConfig and a Host description, and table-tested. The
// process handling is apart (Driver, machine): each QEMU is a
// hostproc.Process (its own process group, stdout and stderr in a file),
// so it outlives a killed core; its pid, start time and socket paths form
// the Handle from which a restarted core re-adopts it. All its sockets and files live in the VM's
// RunDir, removed when the VM is gone.
//
// It must not know the agent protocol beyond the name of the port.
package qemu
