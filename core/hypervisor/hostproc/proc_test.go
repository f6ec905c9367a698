package hostproc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseStat(t *testing.T) {
	cases := []struct {
		stat   string
		st     uint64
		zombie bool
		ok     bool
	}{
		{"1234 (qemu (weird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 6 0 0 20 0 3 0 987654 123 456", 987654, false, true},
		{"77 (sh) Z 1 77 77 0 -1 4194560 100 0 0 0 5 6 0 0 20 0 1 0 42 0 0", 42, true, true},
		{"77 sh S 1", 0, false, false},
		{"77 (sh) S 1 2 3", 0, false, false},
	}
	for _, tc := range cases {
		st, z, err := ParseStat(tc.stat)
		if (err == nil) != tc.ok || st != tc.st || z != tc.zombie {
			t.Errorf("ParseStat(%.30q) = %d %v %v", tc.stat, st, z, err)
		}
	}
}

func TestStartTimeOfSelf(t *testing.T) {
	st, err := StartTime(os.Getpid())
	if err != nil || st == 0 {
		t.Fatalf("StartTime(self) = %d, %v", st, err)
	}
	if _, err := StartTime(1 << 30); err == nil {
		t.Fatal("a pid that does not exist has a start time")
	}
}

func TestTailAndLastLines(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log")
	os.WriteFile(p, []byte("old run\nline 1\nline 2\nline 3\n"), 0o600)
	if got := Tail(p, 0, 7); got != "line 3\n" {
		t.Errorf("Tail n=7 = %q", got)
	}
	if got := Tail(p, 8, 100); !strings.HasPrefix(got, "line 1") {
		t.Errorf("Tail from 8 = %q", got)
	}
	if got := Tail(p, 1000, 100); !strings.HasPrefix(got, "old run") {
		t.Errorf("Tail of a replaced file = %q", got)
	}
	if Tail(filepath.Join(t.TempDir(), "none"), 0, 10) != "" || Tail("", 0, 10) != "" {
		t.Error("Tail of nothing")
	}
	if got := LastLines("a\nb\nc\n", 2); got != "b\nc" {
		t.Errorf("LastLines = %q", got)
	}
}
