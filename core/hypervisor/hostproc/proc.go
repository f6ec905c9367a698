package hostproc

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// StartTime returns a live process's start time: clock ticks since boot
// on Linux, microseconds since the epoch on macOS. A process that is gone,
// or a zombie, is an error.
func StartTime(pid int) (uint64, error) {
	st, zombie, err := readStartTime(pid)
	if err != nil {
		return 0, err
	}
	if zombie {
		return 0, fmt.Errorf("process %d has exited", pid)
	}
	return st, nil
}

// ParseStat reads Linux's /proc/<pid>/stat: the start time (field 22,
// clock ticks since boot) and whether the process is a zombie (exited,
// not yet reaped).
func ParseStat(stat string) (startTime uint64, zombie bool, err error) {
	// The command name (field 2) is in parentheses and may hold spaces.
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false, fmt.Errorf("malformed stat %q", stat)
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state); the start time is field 22.
	if len(f) < 20 {
		return 0, false, fmt.Errorf("malformed stat %q", stat)
	}
	st, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("malformed stat %q: %w", stat, err)
	}
	return st, f[0] == "Z" || f[0] == "X", nil
}

// Tail returns at most n bytes from the end of the file at path, starting
// no earlier than offset from (a log shared by several runs); "" if the
// file cannot be read. A file shorter than from was replaced: read it all.
func Tail(path string, from, n int64) string {
	if path == "" {
		return ""
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	if fi.Size() < from {
		from = 0
	}
	off := max(fi.Size()-n, from)
	buf := make([]byte, fi.Size()-off)
	n2, _ := f.ReadAt(buf, off)
	return string(buf[:n2])
}

// LastLines returns the last n lines of s.
func LastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
