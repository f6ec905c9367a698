package main

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthvm/berth/core/testenv"
)

// TestHostDiskFull runs a container that fills the host disk (its data dir
// on a 150 MiB tmpfs; the container's writable disk is a sparse file
// there): the container's write fails instead of its VM freezing, the
// container's error says the host disk is full, and once the container
// is removed the same data dir runs containers again.
func TestHostDiskFull(t *testing.T) {
	testenv.Root(t)
	home := newHome(t)
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", home, "tmpfs", 0, "size=150m,mode=0700"); err != nil {
		testenv.Missing(t, "cannot mount a tmpfs: "+err.Error())
	}
	// Runs before newHome's cleanup: the daemon must be gone to unmount.
	t.Cleanup(func() {
		if pid := daemonPID(home); pid > 0 && syscall.Kill(pid, 0) == nil {
			berth(t, home, "rm", "-f", "--all")
			berth(t, home, "system", "stop")
			syscall.Kill(pid, syscall.SIGKILL)
			waitGone(t, pid)
		}
		killVMsUnder(home)
		// Killed VM and network processes may take a moment to let go.
		for i := 0; syscall.Unmount(home, 0) != nil; i++ {
			if i == 100 {
				t.Errorf("unmount %s: still busy; detached it", home)
				syscall.Unmount(home, syscall.MNT_DETACH)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	// berth() fails the test if the command hangs (the defect: the VM
	// paused, the container stayed up, the command never ended).
	r := berth(t, home, "run", "--name", "fill", "berth/demo", "dd", "if=/dev/zero", "of=/fill", "bs=1M", "count=300", "conv=fsync")
	t.Logf("run: code %d stderr %q", r.code, r.stderr)
	if r.code == 0 {
		t.Fatalf("filling the host disk succeeded: %q", r.stderr)
	}
	in := berth(t, home, "inspect", "--format", "{{.State.Status}} {{.State.Error}}", "fill")
	if !strings.Contains(in.stdout, "exited the host disk is full") {
		t.Fatalf("inspect: %q %q", in.stdout, in.stderr)
	}
	if r := berth(t, home, "rm", "fill"); r.code != 0 {
		t.Fatalf("rm: %d %s", r.code, r.stderr)
	}
	if r := berth(t, home, "run", "--rm", "berth/demo", "echo", "space again"); r.code != 0 || r.stdout != "space again\n" {
		t.Fatalf("run after freeing space: %d %q %q", r.code, r.stdout, r.stderr)
	}
}
