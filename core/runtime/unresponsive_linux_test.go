package runtime

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
)

// hangGuard fails the test if f has not returned within a generous bound:
// a hang is the defect, the bound is not a timing assertion.
func hangGuard[T any](t *testing.T, what string, f func() T) T {
	t.Helper()
	ch := make(chan T, 1)
	go func() { ch <- f() }()
	select {
	case v := <-ch:
		return v
	case <-time.After(2 * time.Minute):
		t.Fatalf("%s hung", what)
		panic("unreachable")
	}
}

// freezeVM pauses a container's VM through QMP, as QEMU itself paused a
// VM whose disk write hit a full host disk (werror=enospc): its agent
// stops answering while the VM process lives on.
func freezeVM(t *testing.T, m *Manager, id string) {
	t.Helper()
	s := m.supervisor(id)
	if s == nil {
		t.Fatal("no supervisor")
	}
	conn, err := net.DialTimeout("unix", s.machine.Handle().ControlSocket, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	r.ReadBytes('\n') // greeting
	for _, cmd := range []string{"qmp_capabilities", "stop"} {
		json.NewEncoder(conn).Encode(map[string]string{"execute": cmd})
		for {
			line, err := r.ReadBytes('\n')
			if err != nil {
				t.Fatalf("qmp %s: %v", cmd, err)
			}
			var msg map[string]json.RawMessage
			json.Unmarshal(line, &msg)
			if msg["error"] != nil {
				t.Fatalf("qmp %s: %s", cmd, line)
			}
			if msg["return"] != nil {
				break
			}
		}
	}
}

// TestUnresponsiveGuest: with a frozen VM, stats, exec and stop give up
// on the agent instead of hanging, and stop and kill end the VM.
func TestUnresponsiveGuest(t *testing.T) {
	r := newRig(t)
	r.m.cfg.AgentTimeout = 2 * time.Second
	ctx := context.Background()
	frozen := func(t *testing.T) api.Container {
		c := r.create(api.ContainerSpec{Cmd: sh("echo up; sleep 1000")})
		if _, err := r.m.Start(r.ctx(), c.ID, nil); err != nil {
			t.Fatal(err)
		}
		freezeVM(t, r.m, c.ID)
		return c
	}

	t.Run("stats, exec and stop", func(t *testing.T) {
		c := frozen(t)
		err := hangGuard(t, "stats", func() error { _, err := r.m.Stats(ctx, c.ID); return err })
		if err == nil {
			t.Fatal("stats of a frozen VM succeeded")
		}
		t.Logf("stats: %v", err)
		err = hangGuard(t, "exec", func() error {
			_, err := r.m.Exec(ctx, c.ID, api.ExecSpec{Cmd: []string{"true"}}, ExecIO{})
			return err
		})
		if err == nil {
			t.Fatal("exec in a frozen VM succeeded")
		}
		t.Logf("exec: %v", err)
		got := hangGuard(t, "stop", func() api.Container {
			got, err := r.m.Stop(ctx, c.ID, time.Second, "")
			if err != nil {
				t.Error(err)
			}
			return got
		})
		if got.State.Active() {
			t.Fatalf("after stop: %s (%s)", got.State, got.Error)
		}
	})

	t.Run("kill", func(t *testing.T) {
		c := frozen(t)
		err := hangGuard(t, "kill", func() error { return r.m.Kill(ctx, c.ID, "") })
		if err != nil {
			t.Fatal(err)
		}
		got := hangGuard(t, "wait", func() api.Container { got, _ := r.m.Wait(r.ctx(), c.ID); return got })
		if got.State.Active() {
			t.Fatalf("after kill: %s (%s)", got.State, got.Error)
		}
	})
}
