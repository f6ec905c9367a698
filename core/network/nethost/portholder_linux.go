package nethost

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// portHolder says who keeps proto host:port from being bound: "in use by
// pid 1234 (nginx)", or "in use" when that cannot be found out (a
// process of another user, without root).
func portHolder(proto, host string, port uint16) string {
	var inodes []uint64
	for _, suffix := range []string{"", "6"} {
		b, err := os.ReadFile("/proc/net/" + proto + suffix)
		if err != nil {
			continue
		}
		inodes = append(inodes, holdingInodes(parseProcNet(string(b)), proto, host, port)...)
	}
	if len(inodes) == 0 {
		return "in use"
	}
	want := map[uint64]bool{}
	for _, n := range inodes {
		want[n] = true
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fds, _ := os.ReadDir(filepath.Join("/proc", p.Name(), "fd"))
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join("/proc", p.Name(), "fd", fd.Name()))
			if err != nil {
				continue
			}
			if n, ok := socketInode(link); ok && want[n] {
				comm, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "comm"))
				return fmt.Sprintf("in use by pid %d (%s)", pid, strings.TrimSpace(string(comm)))
			}
		}
	}
	return "in use"
}
