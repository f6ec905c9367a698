package hostproc

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Holding lists the processes other than this one whose arguments name a
// path inside dir, or whose stdout or stderr is a file inside it: QEMU
// names its sockets on its command line, virtiofsd writes its log there.
// Processes that end while they are read are left out.
func Holding(dir string) ([]Holder, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	self := os.Getpid()
	var out []Holder
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		cmdline := strings.TrimRight(strings.ReplaceAll(string(raw), "\x00", " "), " ")
		held := names(cmdline, dir)
		for _, fd := range []string{"1", "2"} {
			if target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd)); err == nil && names(target, dir) {
				held = true
			}
		}
		if !held {
			continue
		}
		st, err := StartTime(pid)
		if err != nil {
			continue // ended, or a zombie
		}
		out = append(out, Holder{Pid: pid, StartTime: st, Cmdline: cmdline})
	}
	return out, nil
}
