package hypervisor

import (
	"strings"

	"github.com/berthvm/berth/core/guestabi"
)

// GuestEnd is what a guest's console says about how it ended.
type GuestEnd int

const (
	// EndUnknown: the console says nothing about an end (a guest that
	// was killed, or died before its console existed).
	EndUnknown GuestEnd = iota
	// EndPowerOff: the agent (or the kernel) powered the guest off.
	EndPowerOff
	// EndPanic: the guest kernel panicked.
	EndPanic
	// EndReboot: the guest rebooted, which Berth VMs never do on purpose.
	EndReboot
)

// GuestEndFrom reads how a guest ended from the console it printed
// during this boot. A panic wins over everything after it.
func GuestEndFrom(console string) GuestEnd {
	switch {
	case strings.Contains(console, "Kernel panic"):
		return EndPanic
	case strings.Contains(console, "reboot: Restarting system"):
		return EndReboot
	case strings.Contains(console, guestabi.PowerOffMarker), strings.Contains(console, "reboot: Power down"):
		return EndPowerOff
	}
	return EndUnknown
}

// crashTailLines is how much of the console a crash report carries.
const crashTailLines = 25

// CrashTail is the part of a console worth showing for a crash: from the
// kernel's panic line when there is one (its backtrace follows, and panic=-1
// reboots before the closing line), else the last lines.
func CrashTail(console string) string {
	lines := strings.Split(strings.TrimRight(console, "\n"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], "Kernel panic") {
			// A few lines before it often say why ("No working init").
			return strings.Join(lines[max(0, i-5):min(len(lines), i+2*crashTailLines)], "\n")
		}
	}
	return strings.Join(lines[max(0, len(lines)-crashTailLines):], "\n")
}
