package qemu

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// waitPID blocks until a process that is not our child exits.
func waitPID(pid int, stop <-chan struct{}) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 200)
		if err != nil && err != unix.EINTR {
			return err
		}
		if n > 0 {
			return nil
		}
		select {
		case <-stop:
			return fmt.Errorf("stopped waiting")
		default:
		}
	}
}
