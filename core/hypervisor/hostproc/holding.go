package hostproc

import (
	"path/filepath"
	"strings"
)

// Holder is a process found to work in a directory.
type Holder struct {
	Pid       int
	StartTime uint64
	Cmdline   string // its arguments, space-separated
}

// KillHolders SIGKILLs every process Holding(dir) finds and waits until
// each is gone: the VM processes and helpers of a run directory whose
// handle was never stored (the core died between their spawn and the
// handle's write). It returns what it killed.
func KillHolders(dir string) ([]Holder, error) {
	hs, err := Holding(dir)
	if err != nil {
		return nil, err
	}
	for _, h := range hs {
		if err := killIfSame(h.Pid, h.StartTime); err != nil {
			return nil, err
		}
	}
	for _, h := range hs {
		pollGone(h.Pid, h.StartTime)
	}
	return hs, nil
}

// names reports whether s names a path inside dir (dir itself excluded:
// a sibling "dir2" is not inside "dir").
func names(s, dir string) bool {
	return strings.Contains(s, filepath.Clean(dir)+string(filepath.Separator))
}
