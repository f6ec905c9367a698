package api

import (
	"reflect"
	"testing"
	"time"
)

func TestPSRows(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.Local)
	top := ContainerTop{Time: now, Processes: []GuestProcess{
		{PID: 7, PPID: 1, UID: 0, User: "root", Start: now.Add(-100 * time.Second), CPUTime: 25 * time.Second, TTY: "?", Cmd: "sh -c sleep 1000"},
		{PID: 9, PPID: 7, UID: 1000, Start: now.AddDate(0, -1, 0), CPUTime: 26*time.Hour + 61*time.Second, TTY: "pts/0", Cmd: "[sleep]"},
		{PID: 11, PPID: 7, UID: 1, Start: now.AddDate(-1, 0, 0), TTY: "?", Cmd: "old"},
	}}
	want := [][]string{
		{"root", "7", "1", "25", now.Add(-100 * time.Second).Format("15:04"), "?", "00:00:25", "sh -c sleep 1000"},
		{"1000", "9", "7", "3", "Oct29", "pts/0", "1-02:01:01", "[sleep]"},
		{"1", "11", "7", "0", "2025", "?", "00:00:00", "old"},
	}
	if got := top.PSRows(); !reflect.DeepEqual(got, want) {
		t.Errorf("PSRows:\n%q\nwant\n%q", got, want)
	}
	for o, ok := range map[string]bool{"-ef": true, "-e": true, "-A": true, "aux": false, "-o": false} {
		if PSOptionOK(o) != ok {
			t.Errorf("PSOptionOK(%q) = %v", o, !ok)
		}
	}
}
