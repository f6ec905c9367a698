// Package hostproc holds what the VM backends need to know about host
// processes they did not necessarily start: a process's start time (with
// its pid, it names one process for good, since pids are recycled) and the
// end of its log files. Both the QEMU and the Virtualization framework
// backends keep a VM in its own host process and re-adopt it by pid and
// start time after the core restarts.
package hostproc
