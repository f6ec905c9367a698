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
// The initramfs (cpio newc, written here) holds the agent as /init and,
// for modular kernels, the modules it must load and their order. It is
// built once per (kernel, agent, modules) content and cached.
//
// This package does not boot anything and does not know hypervisors.
package kernel
