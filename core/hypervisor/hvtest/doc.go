// Package hvtest is the conformance suite every hypervisor backend must
// pass, booting real VMs with the real agent: processes and their exit
// codes, stdin, the guest kernel, a writable layer that survives a
// restart, signals, exec, re-attaching after the host disconnects, crash
// detection, graceful stop and re-adoption.
//
// It also builds the fixtures those VMs need (the agent binary, the
// initramfs, small ext4 disks from Debian's static busybox). A missing
// prerequisite skips, or fails under BERTH_REQUIRE_ALL=1 (testenv).
//
// It is test support: backends' _test.go files and the bench command
// import it, never product code.
package hvtest
