//go:build darwin

package hostproc

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// szomb is p_stat of a zombie (sys/proc.h).
const szomb = 5

// readStartTime returns a process's start time in microseconds since the
// epoch (kinfo_proc's p_starttime) and whether it is a zombie.
func readStartTime(pid int) (uint64, bool, error) {
	kp, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil {
		return 0, false, err
	}
	if int(kp.Proc.P_pid) != pid {
		return 0, false, fmt.Errorf("no process %d", pid)
	}
	tv := kp.Proc.P_starttime
	return uint64(tv.Sec)*1_000_000 + uint64(tv.Usec), kp.Proc.P_stat == szomb, nil
}
