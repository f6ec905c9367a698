// Package hostproc is the one supervised host process behind every VM
// backend (a QEMU, a `berth vm-host`), which keeps each VM in its own host
// process and re-adopts it after the core restarts.
//
// It owns: spawning a process in its own process group with its output in
// a log file (Spawn), naming it for good by pid and start time (StartTime:
// pids are recycled) and letting the caller record that before anything
// else (Spec.Started), reaping it and keeping how it ended (Exit), waiting
// for a process an earlier core spawned (Adopt: a pidfd on Linux, kqueue on
// macOS, polling elsewhere), and killing only while the pid still names
// the same process (Kill). It also reads the end of log files (Tail).
//
// It knows nothing of VMs: what a process's end means (a crash, a clean
// power-off), how to ask it to stop first, and the handle file belong to
// the drivers.
package hostproc
