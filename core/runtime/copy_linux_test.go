package runtime

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
)

func oneFile(t *testing.T, name, body string) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir, _ := filepath.Split(name)
	if dir != "" {
		tw.WriteHeader(&tar.Header{Name: dir, Typeflag: tar.TypeDir, Mode: 0o750})
	}
	tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o600, Size: int64(len(body)), Uid: 1000, Gid: 1000})
	tw.Write([]byte(body))
	tw.Close()
	return &buf
}

// noVMLeft checks that no maintenance VM, run directory or socket is
// left, and that the container's state did not move.
func (r *rig) noVMLeft(id string, want api.ContainerState) {
	r.t.Helper()
	if runs, _ := os.ReadDir(runRoot(r.home)); len(runs) != 0 {
		r.t.Fatalf("run directories left: %v", runs)
	}
	if c := mustInspect(r.t, r.m, id); c.State != want || c.PID != 0 {
		r.t.Fatalf("state %s pid %d, want %s and no VM", c.State, c.PID, want)
	}
}

// TestCopyMaintenanceBoot copies into and out of a container that is not
// running: each copy boots its VM without its process, and shuts it down.
func TestCopyMaintenanceBoot(t *testing.T) {
	r := newRig(t)
	evctx, stopEvents := context.WithCancel(context.Background())
	defer stopEvents()
	events := r.bus.Subscribe(evctx, time.Time{}, nil)
	c := r.create(api.ContainerSpec{Cmd: sh(`test "$(cat /copied/hello)" = hi && stat -c %a:%u /copied/hello`)})

	start := time.Now()
	if err := r.m.CopyTo(r.ctx(), c.Name, "/", oneFile(t, "copied/hello", "hi"), api.CopyToOptions{NoOverwriteDirNonDir: true}); err != nil {
		t.Fatal(err)
	}
	t.Logf("copy into a created container: %v", time.Since(start))
	r.noVMLeft(c.ID, api.StateCreated)

	st, err := r.m.StatPath(r.ctx(), c.Name, "/copied/hello")
	if err != nil || st.Size != 2 || st.Mode.Perm() != 0o600 {
		t.Fatalf("stat = %+v, %v", st, err)
	}
	_, err = r.m.StatPath(r.ctx(), c.Name, "/nope")
	if !errors.Is(err, api.ErrNotFound) || err.Error() != "Could not find the file /nope in container "+c.Name {
		t.Fatalf("stat of a missing path: %v", err)
	}
	err = r.m.CopyTo(r.ctx(), c.Name, "/nope", oneFile(t, "x", "x"), api.CopyToOptions{})
	if !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("copy into a missing directory: %v", err)
	}
	r.noVMLeft(c.ID, api.StateCreated)

	// A start while a copy holds the maintenance VM waits for it.
	st, rc, err := r.m.CopyFrom(r.ctx(), c.Name, "/copied")
	if err != nil || !st.Mode.IsDir() {
		t.Fatalf("copy from: %+v %v", st, err)
	}
	started := make(chan error, 1)
	go func() { _, err := r.m.Start(r.ctx(), c.ID, nil); started <- err }()
	select {
	case err := <-started:
		t.Fatalf("start did not wait for the copy: %v", err)
	case <-time.After(time.Second):
	}
	tr := tar.NewReader(rc)
	var names []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
	rc.Close()
	if strings.Join(names, " ") != "copied/ copied/hello" {
		t.Fatalf("archive entries %v", names)
	}
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	end, err := r.m.Wait(r.ctx(), c.ID)
	if err != nil || end.ExitCode != 0 {
		t.Fatalf("the container did not see the copied file: exit %d, %v; logs: %s", end.ExitCode, err, readLog(t, end.LogPath))
	}
	if out := readLog(t, end.LogPath); !strings.Contains(out, "600:1000") {
		t.Fatalf("mode and owner in the container: %q", out)
	}

	// An exited container: a reader closed early still shuts the VM down.
	_, rc, err = r.m.CopyFrom(r.ctx(), c.Name, "/bin")
	if err != nil {
		t.Fatal(err)
	}
	io.CopyN(io.Discard, rc, 1000)
	rc.Close()
	r.noVMLeft(c.ID, api.StateExited)
	// A canceled copy leaves nothing either.
	ctx, cancel := context.WithTimeout(r.ctx(), 50*time.Millisecond)
	defer cancel()
	if _, err := r.m.StatPath(ctx, c.Name, "/"); err == nil {
		t.Log("stat finished within 50ms") // a fast machine; nothing to check then
	}
	r.noVMLeft(c.ID, api.StateExited)

	stopEvents()
	var actions []string
	for e := range events {
		actions = append(actions, e.Action)
	}
	got := strings.Join(actions, " ")
	if strings.Count(got, "start") != 1 || strings.Count(got, "die") != 1 || !strings.Contains(got, "extract-to-dir") || !strings.Contains(got, "archive-path") {
		t.Fatalf("events: %s", got)
	}
}

func readLog(t *testing.T, path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}
