package hostproc

import "golang.org/x/sys/unix"

// waitGone returns once the process pid, started at startTime, has
// exited: kqueue reports a process's exit to anyone (EVFILT_PROC,
// NOTE_EXIT), not only to its parent. Whatever ends that wait, an error
// included, the start time has the last word.
func waitGone(pid int, startTime uint64) {
	defer pollGone(pid, startTime)
	kq, err := unix.Kqueue()
	if err != nil {
		return
	}
	defer unix.Close(kq)
	var ev unix.Kevent_t
	unix.SetKevent(&ev, pid, unix.EVFILT_PROC, unix.EV_ADD|unix.EV_ONESHOT)
	ev.Fflags = unix.NOTE_EXIT
	if _, err := unix.Kevent(kq, []unix.Kevent_t{ev}, nil, nil); err != nil {
		return
	}
	// The pid could have named another process when the event was added:
	// it is the one we want only if the start time still matches.
	if !same(pid, startTime) {
		return
	}
	out := make([]unix.Kevent_t, 1)
	for {
		// Blocks this goroutine's thread until the exit: one thread per
		// adopted process, which is a handful of VMs.
		n, err := unix.Kevent(kq, nil, out, nil)
		if (err != nil && err != unix.EINTR) || n > 0 {
			return
		}
	}
}

// killSame SIGKILLs pid if it still names the process started at
// startTime.
func killSame(pid int, startTime uint64) error { return killIfSame(pid, startTime) }
