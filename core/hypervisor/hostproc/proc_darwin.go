//go:build darwin

package hostproc

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// szomb is p_stat of a zombie (sys/proc.h).
const szomb = 5

// StartTime returns a live process's start time in microseconds since
// the epoch (kinfo_proc's p_starttime). A process that is gone, or a
// zombie, is an error.
func StartTime(pid int) (uint64, error) {
	kp, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil {
		return 0, err
	}
	if int(kp.Proc.P_pid) != pid {
		return 0, fmt.Errorf("no process %d", pid)
	}
	if kp.Proc.P_stat == szomb {
		return 0, fmt.Errorf("process %d has exited", pid)
	}
	tv := kp.Proc.P_starttime
	return uint64(tv.Sec)*1_000_000 + uint64(tv.Usec), nil
}
