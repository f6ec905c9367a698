//go:build linux

// Command floorinit is the benchmark floor's PID 1: it prints one line to
// the console and powers off, nothing else. Booting it with the same QEMU
// and kernel as a Berth VM gives the least time any init could take.
package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

func main() {
	_ = os.MkdirAll("/dev", 0o755)
	_ = unix.Mount("devtmpfs", "/dev", "devtmpfs", 0, "")
	if f, err := os.OpenFile("/dev/console", os.O_WRONLY, 0); err == nil {
		var ts unix.Timespec
		_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
		_, _ = f.WriteString(fmt.Sprintf("BERTH-FLOOR at %dms\n", ts.Nano()/1e6))
	}
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	select {}
}
