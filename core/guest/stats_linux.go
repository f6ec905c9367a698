package guest

import (
	"bufio"
	"fmt"
	"github.com/berthvm/berth/core/agent/proto"
	"os"
	"strconv"
	"strings"
)

// readStats samples the guest from /proc: the VM is the container, so
// the whole guest's use is the container's.
func readStats() (proto.Stats, error) {
	var st proto.Stats
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return st, fmt.Errorf("read /proc/stat: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		switch f[0] {
		case "cpu":
			// user nice system idle iowait irq softirq steal: busy = all but idle, iowait.
			var ticks uint64
			for i, v := range f[1:] {
				if i == 3 || i == 4 || i >= 8 {
					continue
				}
				n, _ := strconv.ParseUint(v, 10, 64)
				ticks += n
			}
			st.CPUUsageNanos = ticks * 1e7 // USER_HZ is 100 on Linux
		}
	}
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return st, fmt.Errorf("read /proc/meminfo: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "MemTotal":
			st.MemoryTotal = kb << 10
		case "MemAvailable":
			st.MemoryAvailable = kb << 10
		}
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err == nil {
			st.Processes++
		}
	}
	return st, nil
}
