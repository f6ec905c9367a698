//go:build unix && !linux && !darwin

package hostproc

// waitGone returns once the process pid, started at startTime, has
// exited.
func waitGone(pid int, startTime uint64) { pollGone(pid, startTime) }

// killSame SIGKILLs pid if it still names the process started at
// startTime.
func killSame(pid int, startTime uint64) error { return killIfSame(pid, startTime) }
