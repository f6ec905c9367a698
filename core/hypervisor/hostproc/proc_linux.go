package hostproc

import (
	"fmt"
	"os"
)

// readStartTime returns a process's start time (clock ticks since boot)
// and whether it is a zombie.
func readStartTime(pid int) (uint64, bool, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false, err
	}
	return ParseStat(string(b))
}
