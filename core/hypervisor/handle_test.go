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
