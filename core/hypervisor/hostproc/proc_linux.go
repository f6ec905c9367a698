package hostproc

import (
	"fmt"
	"os"
)

// StartTime returns a live process's start time (clock ticks since boot).
// A process that is gone, or a zombie, is an error.
func StartTime(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	st, zombie, err := ParseStat(string(b))
	if err != nil {
		return 0, err
	}
	if zombie {
		return 0, fmt.Errorf("process %d has exited", pid)
	}
	return st, nil
}
