package hostproc

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// waitGone returns once the process pid, started at startTime, has
// exited. It waits on a pidfd, which becomes readable when its process
// exits, through the runtime's poller (no thread is held). Whatever ends
// that wait, an error included, the start time has the last word: on
// kernels without pidfds it is all there is.
func waitGone(pid int, startTime uint64) {
	defer pollGone(pid, startTime)
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return
	}
	// Non-blocking, so that os.NewFile hands it to the poller.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	// The pid could name another process by now: the pidfd is the one
	// we want only if the start time still matches.
	if !same(pid, startTime) {
		return
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Read(func(fd uintptr) bool {
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
		return n > 0 || (err != nil && err != unix.EINTR)
	})
}

// killSame SIGKILLs pid if it still names the process started at
// startTime. The pidfd pins the process between that check and the
// signal, so a pid recycled in between is never hit.
func killSame(pid int, startTime uint64) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return killIfSame(pid, startTime)
	}
	defer unix.Close(fd)
	if !same(pid, startTime) {
		return nil
	}
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return err
	}
	return nil
}
