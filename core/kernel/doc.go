// Package kernel provisions guest kernels and builds the initramfs that
// boots them into the Berth agent.
//
// Kernels live in a cache directory (Dir: $BERTH_KERNEL_DIR, else
// $XDG_CACHE_HOME/berth/kernels) described by a manifest.json. On Linux
// and in CI it is filled from Debian with apt (FetchDebian, run by make
// deps through packaging/kernels), which verifies the packages; the meta
// packages are followed, so a Debian kernel update moves the cache to the
// new version instead of breaking the build. A user-supplied kernel file
// works too (FromPath). Downloads from anywhere other than apt must be
// pinned by sha256 (VerifyFile).
//
// On macOS there is no apt: the guest kernel is MacKernel, a Pin (URLs,
// sha256, size) of Debian's arm64 kernel package, fetched on first use by
// ProvisionPinned with Download (HTTP Range resume into a .partial file,
// sha256 before the final name, a good cached kernel kept on any failure)
// and cut to the Image and the modules VZModuleGroups need (deb.go reads
// the .deb's ar and data.tar.xz in Go). make deps provisions it on Linux
// too, so the tests boot exactly what a Mac downloads. CheckImage tells a
// bootable kernel image from a compressed or foreign one. BusyboxPins and
// ProvisionBusybox do the same for Debian's busybox-static, which the demo
// image is built from on hosts without it.
//
// The initramfs (cpio newc, written here) holds the agent as /init and,
// for modular kernels, the modules it must load and their order. It is
// built once per (kernel, agent, modules) content and cached.
//
// This package does not boot anything and does not know hypervisors.
package kernel
