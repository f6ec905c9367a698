package main

// End-to-end tests of docker's container commands that act on a running
// container: top, pause and unpause, rename, restart, attach. One VM is
// shared by the subtests, which run in order.

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
)

func TestRunningContainerCommands(t *testing.T) {
	home := vmHome(t)
	// A ticker in the background, and the main process echoing its input.
	mustRun(t, home, run("-d", "-i", "--name", "cmds", "berth/demo", "sh", "-c",
		`(i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done) & while read line; do echo "got $line"; done`)...)
	mustRun(t, home, "create", "--name", "taken", "berth/demo", "true")
	ticks := func(ref string) int { return strings.Count(mustRun(t, home, "logs", ref), "tick ") }

	t.Run("top", func(t *testing.T) {
		out := mustRun(t, home, "top", "cmds")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if f := strings.Fields(lines[0]); strings.Join(f, " ") != "UID PID PPID C STIME TTY TIME CMD" {
			t.Fatalf("top header %q", lines[0])
		}
		if !strings.Contains(out, "while read line") || !strings.Contains(out, "sleep") || strings.Contains(out, "berth-agent") {
			t.Fatalf("top:\n%s", out)
		}
		if !strings.HasPrefix(lines[1], "root ") {
			t.Fatalf("top's user column: %q", lines[1])
		}
		if out := mustRun(t, home, "container", "top", "cmds", "-ef"); !strings.Contains(out, "while read line") {
			t.Fatalf("container top -ef:\n%s", out)
		}
		if r := berth(t, home, "top", "cmds", "aux"); r.code != 125 || !strings.Contains(r.stderr, "not supported") {
			t.Fatalf("top with ps options: %+v", r)
		}
	})

	t.Run("pause and unpause", func(t *testing.T) {
		mustRun(t, home, "pause", "cmds")
		if c := inspect(t, home, "cmds"); c.State != api.StatePaused {
			t.Fatalf("state after pause: %s", c.State)
		}
		if out := mustRun(t, home, "ps"); !strings.Contains(out, "(Paused)") {
			t.Fatalf("ps of a paused container:\n%s", out)
		}
		time.Sleep(500 * time.Millisecond) // output already written drains
		before := ticks("cmds")
		time.Sleep(1500 * time.Millisecond)
		if after := ticks("cmds"); after != before {
			t.Fatalf("the ticker ran while paused: %d ticks, then %d", before, after)
		}
		for _, tc := range []struct {
			args []string
			msg  string
		}{
			{[]string{"exec", "cmds", "true"}, "is paused, unpause the container before exec"},
			{[]string{"pause", "cmds"}, "is already paused"},
			{[]string{"attach", "cmds"}, "cannot attach to a paused container"},
			{[]string{"rm", "cmds"}, "cannot remove a paused container"},
			{[]string{"kill", "-s", "HUP", "cmds"}, "container is paused"},
		} {
			if r := berth(t, home, tc.args...); r.code == 0 || !strings.Contains(r.stderr, tc.msg) {
				t.Errorf("berth %s on a paused container: exit %d, stderr %q; want %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.msg)
			}
		}
		mustRun(t, home, "container", "unpause", "cmds")
		if c := inspect(t, home, "cmds"); c.State != api.StateRunning {
			t.Fatalf("state after unpause: %s", c.State)
		}
		n := ticks("cmds")
		waitFor(t, func() bool { return ticks("cmds") > n })
		if r := berth(t, home, "unpause", "cmds"); r.code == 0 || !strings.Contains(r.stderr, "is not paused") {
			t.Fatalf("unpause of a running container: %+v", r)
		}
	})

	t.Run("rename", func(t *testing.T) {
		if r := berth(t, home, "rename", "cmds", "taken"); r.code == 0 || !strings.Contains(r.stderr, "already in use") {
			t.Fatalf("rename onto a taken name: %+v", r)
		}
		mustRun(t, home, "rename", "cmds", "cmds2")
		if c := inspect(t, home, "cmds2"); c.State != api.StateRunning || c.Name != "cmds2" {
			t.Fatalf("after rename: %s %s", c.Name, c.State)
		}
		if r := berth(t, home, "inspect", "cmds"); r.code == 0 {
			t.Fatal("the old name still resolves")
		}
		// On its network the new name answers and the old one no more.
		if r := berth(t, home, "exec", "cmds2", "nslookup", "cmds2"); r.code != 0 {
			t.Errorf("the new name does not resolve on the network: %+v", r)
		}
		if r := berth(t, home, "exec", "cmds2", "nslookup", "cmds"); r.code == 0 {
			t.Errorf("the old name still resolves on the network:\n%s", r.stdout)
		}
		mustRun(t, home, "container", "rename", "cmds2", "cmds")
	})

	t.Run("restart", func(t *testing.T) {
		started := inspect(t, home, "cmds").Started
		if out := mustRun(t, home, "restart", "-t", "1", "cmds"); out != "cmds\n" {
			t.Fatalf("restart printed %q", out)
		}
		c := inspect(t, home, "cmds")
		if c.State != api.StateRunning || !c.Started.After(started) {
			t.Fatalf("after restart: %s, started %v (was %v)", c.State, c.Started, started)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		ev := exec.CommandContext(ctx, berthBin, "events", "--since", "5m", "--filter", "container=cmds", "--format", "{{.Action}}")
		ev.Env = append(os.Environ(), "BERTH_HOME="+home)
		out, _ := ev.Output()
		if got := strings.Fields(string(out)); !strings.Contains(strings.Join(got, " "), "die stop start restart") {
			t.Fatalf("events of a restart: %q", got)
		}
	})

	t.Run("attach", func(t *testing.T) {
		// stdin reaches the main process; at its EOF the loop ends, and
		// attach ends with the process's status.
		r := berthIn(t, home, "hello\n", "attach", "cmds")
		if r.code != 0 || !strings.Contains(r.stdout, "got hello") {
			t.Fatalf("attach: %+v", r)
		}
		if c := inspect(t, home, "cmds"); c.State != api.StateExited {
			t.Fatalf("after attach's EOF: %s", c.State)
		}
		if r := berth(t, home, "attach", "cmds"); r.code == 0 || !strings.Contains(r.stderr, "cannot attach to a stopped container") {
			t.Fatalf("attach to a stopped container: %+v", r)
		}
	})
	mustRun(t, home, "rm", "-f", "cmds", "taken")
}

// TestDockerImageShortcuts runs docker's top-level image commands: images,
// history, save, rmi, and load reading stdin.
func TestDockerImageShortcuts(t *testing.T) {
	home := newHome(t)
	mustRun(t, home, "create", "--name", "holder", "berth/demo", "true") // loads the embedded demo image
	mustRun(t, home, "rm", "holder")
	if out := mustRun(t, home, "images"); !strings.Contains(out, "berth/demo") {
		t.Fatalf("images:\n%s", out)
	}
	if out := mustRun(t, home, "history", "berth/demo"); !strings.HasPrefix(out, "IMAGE") || !strings.Contains(out, "CREATED BY") {
		t.Fatalf("history:\n%s", out)
	}
	tarball := t.TempDir() + "/demo.tar"
	mustRun(t, home, "save", "-o", tarball, "berth/demo")
	mustRun(t, home, "rmi", "berth/demo")
	b, err := os.ReadFile(tarball)
	if err != nil {
		t.Fatal(err)
	}
	if r := berthIn(t, home, string(b), "load"); r.code != 0 || !strings.Contains(r.stdout, "Loaded image: ") {
		t.Fatalf("load from stdin: %+v", r)
	}
	if r := berthIn(t, home, "", "load"); r.code != 125 || !strings.Contains(r.stderr, "stdin is empty") {
		t.Fatalf("load of an empty stdin: %+v", r)
	}
	if out := mustRun(t, home, "info"); !strings.Contains(out, "Images:") {
		t.Fatalf("info:\n%s", out)
	}
}
