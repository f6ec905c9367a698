package guest

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/berthvm/berth/core/api"
)

// procStat is what top needs of /proc/PID/stat.
type procStat struct {
	pid, ppid  int
	comm       string
	ttyNr      int
	flags      uint64
	cpuTicks   uint64 // utime + stime
	startTicks uint64 // since boot
}

// pfKthread is the kernel's PF_KTHREAD process flag.
const pfKthread = 0x00200000

// parseProcStat reads one /proc/PID/stat line. The command name is in
// parentheses and may itself hold spaces and parentheses: the fields
// after it start at the last ")".
func parseProcStat(line string) (procStat, error) {
	open, end := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
	if open < 0 || end < open {
		return procStat{}, fmt.Errorf("stat line %q: no command name: %w", line, api.ErrInvalidArgument)
	}
	var st procStat
	pid, err := strconv.Atoi(strings.TrimSpace(line[:open]))
	if err != nil {
		return st, fmt.Errorf("stat line %q: pid: %w", line, api.ErrInvalidArgument)
	}
	st.pid, st.comm = pid, line[open+1:end]
	// Fields from 3 (state) on; f[0] is field 3.
	f := strings.Fields(line[end+1:])
	if len(f) < 20 {
		return st, fmt.Errorf("stat line %q: %d fields after the name: %w", line, len(f), api.ErrInvalidArgument)
	}
	num := func(i int) uint64 { n, _ := strconv.ParseUint(f[i-3], 10, 64); return n }
	st.ppid = int(num(4))
	st.ttyNr = int(int32(num(7)))
	st.flags = num(9)
	st.cpuTicks = num(14) + num(15)
	st.startTicks = num(22)
	return st, nil
}

// ttyName names a tty_nr as ps does: pts/N, ttyN, ttySN, console, or "?".
func ttyName(nr int) string {
	major, minor := (nr>>8)&0xfff, (nr&0xff)|((nr>>12)&0xfff00)
	switch {
	case nr == 0:
		return "?"
	case major >= 136 && major <= 143:
		return "pts/" + strconv.Itoa(minor+(major-136)*256)
	case major == 4 && minor < 64:
		return "tty" + strconv.Itoa(minor)
	case major == 4:
		return "ttyS" + strconv.Itoa(minor-64)
	case major == 5 && minor == 1:
		return "console"
	}
	return "?"
}

// commandLine renders /proc/PID/cmdline (NUL-separated) as ps's CMD
// does: the arguments with spaces, or the name in brackets without any.
func commandLine(raw []byte, comm string) string {
	s := strings.TrimRight(string(raw), "\x00")
	if s == "" {
		return "[" + comm + "]"
	}
	return strings.ReplaceAll(s, "\x00", " ")
}

// statusUID reads the real uid from /proc/PID/status.
func statusUID(status string) int {
	for _, line := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				n, _ := strconv.Atoi(f[0])
				return n
			}
		}
	}
	return -1
}
