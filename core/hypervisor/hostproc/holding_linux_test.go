package hostproc

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// TestKillHolders: the processes that name a run directory on their
// command line (QEMU's sockets) or write their output into it
// (virtiofsd's log) are found and killed; one working in a sibling
// directory whose name starts alike is left alone.
func TestKillHolders(t *testing.T) {
	root := t.TempDir()
	dir, sibling := filepath.Join(root, "vm-1"), filepath.Join(root, "vm-10")
	for _, d := range []string{dir, sibling} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	start := func(stdout string) *exec.Cmd {
		t.Helper()
		cmd := exec.Command("sleep", "600")
		f, err := os.Create(stdout)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd.Stdout = f
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	// A path among its arguments, as QEMU names its sockets.
	sock := filepath.Join(dir, "qmp.sock")
	if err := os.WriteFile(sock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	byArg := exec.Command("tail", "-f", sock)
	if err := byArg.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { byArg.Process.Kill(); byArg.Wait() })
	byLog := start(filepath.Join(dir, "virtiofsd.log"))
	other := start(filepath.Join(sibling, "virtiofsd.log"))

	killed, err := KillHolders(dir)
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, h := range killed {
		pids = append(pids, h.Pid)
	}
	for _, c := range []*exec.Cmd{byArg, byLog} {
		if !slices.Contains(pids, c.Process.Pid) {
			t.Errorf("pid %d (%v) was not killed; killed %v", c.Process.Pid, c.Args, killed)
		}
	}
	if slices.Contains(pids, other.Process.Pid) {
		t.Errorf("the sibling directory's process %d was killed", other.Process.Pid)
	}
	if st, err := StartTime(other.Process.Pid); err != nil || st == 0 {
		t.Errorf("the sibling directory's process is gone: %v", err)
	}
	if err := byLog.Wait(); err == nil {
		t.Errorf("the process writing into the run directory ended cleanly, not killed")
	}
}
