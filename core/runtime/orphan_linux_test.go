package runtime

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/events"
	"github.com/berthvm/berth/core/hypervisor/hostproc"
	"github.com/berthvm/berth/core/state"
)

// TestInterruptedStartKillsUnrecordedVM: a daemon killed after a VM's
// process started but before its handle was written leaves a process no
// record or handle names (TestDaemonSIGKILL leaked such a QEMU). The next
// daemon finds it by its run directory, which it names on its command
// line as QEMU does, and stops it with the interrupted start.
func TestInterruptedStartKillsUnrecordedVM(t *testing.T) {
	home := t.TempDir()
	db, err := state.Open(filepath.Join(home, "berth.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	open := func() *Manager {
		t.Helper()
		m, err := New(context.Background(), Config{
			Home: home, DB: db, Driver: noVMs{}, Disks: emptyDisks{}, Bus: events.NewBus(0),
			Images: oneImage{Image{Ref: "busybox", Digest: "sha256:test", Arch: "amd64",
				Config: api.ImageConfig{Cmd: []string{"sh"}}}},
			Host:   api.Capabilities{Arch: "amd64", CPUs: 2, MemoryMiB: 2048},
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := open()
	c, err := m.Create(context.Background(), api.ContainerSpec{Image: "busybox"})
	if err != nil {
		t.Fatal(err)
	}
	// What a start had done when its daemon died: the state says
	// starting, the run directory exists, a VM process works in it, and
	// no handle was stored.
	if _, err := m.update(c.ID, func(r *state.ContainerRecord) error { r.State = api.StateStarting; return nil }); err != nil {
		t.Fatal(err)
	}
	m.Close()
	runDir := filepath.Join(runRoot(home), vmID(c.ID))
	if err := os.MkdirAll(runDir, 0o700); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(runDir, "qmp.sock")
	if err := os.WriteFile(sock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	vm := exec.Command("tail", "-f", sock)
	if err := vm.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vm.Process.Kill(); vm.Wait() })

	m = open() // the next daemon
	defer m.Close()
	// Killed: gone, or a zombie this test has not reaped yet.
	if _, err := hostproc.StartTime(vm.Process.Pid); err == nil {
		t.Fatalf("the unrecorded VM process %d still runs after the next daemon's reconcile", vm.Process.Pid)
	}
	got, err := m.Inspect(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != api.StateExited || !strings.Contains(got.Error, "interrupted while starting") {
		t.Errorf("container after reconcile: %s %q", got.State, got.Error)
	}
	if _, err := os.Stat(runDir); !os.IsNotExist(err) {
		t.Errorf("run directory left: %v", err)
	}
}
