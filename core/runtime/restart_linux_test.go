package runtime

// Real VMs: a restart policy's pending restart (a back-off made long
// here) is cancelled by a user's stop, kill, update and rm -f.

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
)

func TestRestartBackoffCancel(t *testing.T) {
	r := newRig(t)
	// A back-off no test waits out: the container stays "restarting".
	r.m.Close()
	r.cfg.RestartBackoff = Backoff{Min: time.Hour, Max: time.Hour}
	var err error
	if r.m, err = New(context.Background(), r.cfg); err != nil {
		t.Fatal(err)
	}
	always := api.RestartPolicy{Name: api.RestartAlways}

	// failing runs a container that exits 1 once and waits for its
	// policy to take it to "restarting".
	failing := func(t *testing.T) api.Container {
		t.Helper()
		c := r.create(api.ContainerSpec{Cmd: sh("exit 1"), RestartPolicy: always})
		if _, err := r.m.Start(r.ctx(), c.ID, nil); err != nil {
			t.Fatal(err)
		}
		end, err := r.m.Wait(r.ctx(), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if end.State != api.StateRestarting || end.ExitCode != 1 || end.RestartCount != 1 {
			t.Fatalf("after its run: %s code %d restarts %d (%s)", end.State, end.ExitCode, end.RestartCount, end.Error)
		}
		if list, _ := r.m.List(false); len(list) == 0 {
			t.Fatal("ls without -a leaves out a restarting container")
		}
		return end
	}
	stays := func(t *testing.T, id string, want api.ContainerState) {
		t.Helper()
		got, err := r.m.Inspect(id)
		if err != nil || got.State != want || r.m.supervisor(id) != nil {
			t.Fatalf("state %s (%v), want %s and no VM", got.State, err, want)
		}
		r.m.mu.Lock()
		pending := r.m.restarts[id]
		r.m.mu.Unlock()
		if pending != nil {
			t.Fatal("a restart is still pending")
		}
	}

	t.Run("rm -f", func(t *testing.T) {
		c := failing(t)
		if err := r.m.Remove(r.ctx(), c.ID, api.RemoveOptions{}); !errors.Is(err, api.ErrConflict) {
			t.Fatalf("rm of a restarting container: %v", err)
		}
		if err := r.m.Remove(r.ctx(), c.ID, api.RemoveOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.m.Inspect(c.ID); !errors.Is(err, api.ErrNotFound) {
			t.Fatalf("after rm -f: %v", err)
		}
		r.m.mu.Lock()
		defer r.m.mu.Unlock()
		if r.m.restarts[c.ID] != nil {
			t.Fatal("a restart is still pending")
		}
	})

	t.Run("stop, then a user's start", func(t *testing.T) {
		c := failing(t)
		got, err := r.m.Stop(r.ctx(), c.ID, time.Second, "")
		if err != nil || got.State != api.StateExited || got.ExitCode != 1 {
			t.Fatalf("stop: %s %d %v", got.State, got.ExitCode, err)
		}
		stays(t, c.ID, api.StateExited)
		// A user's start resets the count; the run fails and the policy
		// takes over again.
		if _, err := r.m.Start(r.ctx(), c.ID, nil); err != nil {
			t.Fatal(err)
		}
		end, _ := r.m.Wait(r.ctx(), c.ID)
		if end.State != api.StateRestarting || end.RestartCount != 1 {
			t.Fatalf("after a user's start: %s restarts %d", end.State, end.RestartCount)
		}
	})

	t.Run("kill", func(t *testing.T) {
		c := failing(t)
		if err := r.m.Kill(r.ctx(), c.ID, ""); err != nil {
			t.Fatal(err)
		}
		stays(t, c.ID, api.StateExited)
	})

	t.Run("update --restart no", func(t *testing.T) {
		c := failing(t)
		no := api.RestartPolicy{Name: api.RestartNo}
		got, err := r.m.Update(c.ID, api.ContainerUpdate{RestartPolicy: &no})
		if err != nil || got.State != api.StateExited || got.Spec.RestartPolicy != no {
			t.Fatalf("update: %s %+v %v", got.State, got.Spec.RestartPolicy, err)
		}
		stays(t, c.ID, api.StateExited)
	})
}
