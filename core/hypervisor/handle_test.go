package hypervisor

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/berthvm/berth/core/api"
)

func TestHandleFile(t *testing.T) {
	dir := t.TempDir()
	h := Handle{Driver: "qemu", ID: "vm1", PID: 42, StartTime: 7, RunDir: dir, AgentSocket: filepath.Join(dir, "a.sock")}
	if err := SaveHandle(h); err != nil {
		t.Fatal(err)
	}
	got, err := LoadHandle(dir)
	if err != nil || got != h {
		t.Fatalf("LoadHandle = %+v, %v; want %+v", got, err, h)
	}
	if _, err := LoadHandle(t.TempDir()); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("no handle: %v", err)
	}
	os.WriteFile(filepath.Join(dir, HandleFile), []byte("{"), 0o600)
	if _, err := LoadHandle(dir); !errors.Is(err, api.ErrCorrupt) {
		t.Fatalf("bad handle: %v", err)
	}
}

func TestRemoveRunDir(t *testing.T) {
	h := Handle{Driver: "qemu", ID: "vm1", PID: 42, StartTime: 7}
	for _, tc := range []struct {
		name   string
		saved  *Handle // the handle file in the directory, if any
		remove bool
	}{
		{"this VM's", &h, true},
		{"the next run's", &Handle{Driver: "qemu", ID: "vm1", PID: 43, StartTime: 9}, false},
		{"a pid reused", &Handle{Driver: "qemu", ID: "vm1", PID: 42, StartTime: 8}, false},
		{"no handle yet", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := h
			h.RunDir = filepath.Join(t.TempDir(), "run")
			if err := os.Mkdir(h.RunDir, 0o700); err != nil {
				t.Fatal(err)
			}
			if tc.saved != nil {
				saved := *tc.saved
				saved.RunDir = h.RunDir
				if err := SaveHandle(saved); err != nil {
					t.Fatal(err)
				}
			}
			RemoveRunDir(h)
			_, err := os.Stat(h.RunDir)
			if removed := errors.Is(err, os.ErrNotExist); removed != tc.remove {
				t.Fatalf("removed = %v (%v), want %v", removed, err, tc.remove)
			}
		})
	}
}
