package api

import (
	"fmt"
	"strconv"
	"time"
)

// PSTitles are the columns of ps -ef, which is what berth top and docker
// top show of a ContainerTop.
var PSTitles = []string{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}

// PSOptionOK accepts the ps options that mean what top shows anyway: no
// ps runs (the image need not have one), the guest agent reads /proc.
func PSOptionOK(o string) bool {
	switch o {
	case "-ef", "-fe", "-e", "-f", "-A", "-eF", "-Af":
		return true
	}
	return false
}

// PSRows are t's processes as ps -ef's columns (PSTitles), at t's Time.
func (t ContainerTop) PSRows() [][]string {
	rows := make([][]string, 0, len(t.Processes))
	for _, p := range t.Processes {
		user := p.User
		if user == "" {
			user = strconv.Itoa(p.UID)
		}
		rows = append(rows, []string{user, strconv.Itoa(p.PID), strconv.Itoa(p.PPID), strconv.Itoa(psCPUPercent(p, t.Time)),
			psStartTime(p.Start, t.Time), p.TTY, psCPUTime(p.CPUTime), p.Cmd})
	}
	return rows
}

// psCPUPercent is ps's C: CPU time over the time since the process
// started, as a whole percentage.
func psCPUPercent(p GuestProcess, now time.Time) int {
	elapsed := now.Sub(p.Start)
	if elapsed <= 0 {
		return 0
	}
	return int(p.CPUTime * 100 / elapsed)
}

// psStartTime is ps's STIME: HH:MM for today, MonDD this year, else the
// year.
func psStartTime(start, now time.Time) string {
	start, now = start.Local(), now.Local()
	switch {
	case start.YearDay() == now.YearDay() && start.Year() == now.Year():
		return start.Format("15:04")
	case start.Year() == now.Year():
		return start.Format("Jan02")
	}
	return start.Format("2006")
}

// psCPUTime is ps's TIME: [DD-]HH:MM:SS.
func psCPUTime(d time.Duration) string {
	s := int(d / time.Second)
	days, h, m := s/86400, s/3600%24, s/60%60
	if days > 0 {
		return fmt.Sprintf("%d-%02d:%02d:%02d", days, h, m, s%60)
	}
	return fmt.Sprintf("%02d:%02d:%02d", h, m, s%60)
}
