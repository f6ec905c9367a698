package hypervisor

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/atomicfile"
)

// HandleFile is where a backend records a VM's Handle inside its RunDir as
// soon as the VM's process exists. The core stores handles in its state
// too, but only after Start returns: this file covers a core that dies in
// between, so a VM process is never left without a record of it.
const HandleFile = "handle.json"

// SaveHandle writes h into h.RunDir, atomically. Its caller names the VM
// in errors.
func SaveHandle(h Handle) error {
	raw, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(h.RunDir, HandleFile), raw, 0o600); err != nil {
		return fmt.Errorf("save handle: %w", err)
	}
	return nil
}

// LoadHandle reads the handle a backend saved in runDir; api.ErrNotFound
// if there is none.
func LoadHandle(runDir string) (Handle, error) {
	raw, err := os.ReadFile(filepath.Join(runDir, HandleFile))
	if err != nil {
		if os.IsNotExist(err) {
			return Handle{}, fmt.Errorf("no VM handle in %s: %w", runDir, api.ErrNotFound)
		}
		return Handle{}, err
	}
	var h Handle
	if err := json.Unmarshal(raw, &h); err != nil {
		return Handle{}, fmt.Errorf("VM handle in %s: %v: %w", runDir, err, api.ErrCorrupt)
	}
	return h, nil
}

// RemoveRunDir removes the run directory of h's VM, which has ended,
// unless it is no longer that VM's: its handle file is gone or names
// another process. One process can hold two Machines of one VM (a core
// closed and opened again adopts what it started); the one that learns
// of the end last must not delete the directory of the VM's next run,
// which may already be starting there.
func RemoveRunDir(h Handle) {
	if cur, err := LoadHandle(h.RunDir); err != nil || cur.PID != h.PID || cur.StartTime != h.StartTime {
		return
	}
	_ = os.RemoveAll(h.RunDir)
}
