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
// the Handle from which a restarted core re-adopts it. The guest's
// console is a socket QEMU serves and the core copies into the console
// log, bounded (hypervisor.CopyConsole); while no core is connected QEMU
// drops console output, and an adopting core connects again. All its sockets and files live in the VM's
// RunDir, removed when the VM is gone.
//
// Shares (VMConfig.Shares) are served by one virtiofsd per share (the C
// virtiofsd of Debian's qemu-system-common, /usr/lib/qemu), started
// before QEMU on a socket the driver listens on and hands over, each a
// hostproc.Process of its own: it outlives a killed core as QEMU does,
// and ends by itself when QEMU ends. QEMU gets a vhost-user-fs device per
// share and the guest's RAM as a shared memfd. virtiofsd has no
// read-only option: a read-only share is a read-only binding in a
// private mount namespace (readOnlyScript). Not root, virtiofsd runs as
// root of a user namespace mapped to the user (shareAttr).
//
// It must not know the agent protocol beyond the name of the port.
package qemu
