package main

// End-to-end tests of restart policies through the berth binary: real
// VMs, a real daemon killed and started again.

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
)

// sleeper is a container process that runs until stopped.
var sleeper = []string{"berth/demo", "sh", "-c", "while true; do sleep 1; done"}

// eventsOf replays and follows a container's events (their actions, one
// per line) until done says the lines seen so far are enough.
func eventsOf(t *testing.T, home, name string, done func(actions []string) bool) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, berthBin, "events", "--since", "30m", "--filter", "container="+name, "--format", "{{.Action}}")
	cmd.Env = append(os.Environ(), "BERTH_HOME="+home)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cancel()
	var actions []string
	sc := bufio.NewScanner(out)
	for !done(actions) {
		if !sc.Scan() {
			t.Fatalf("events of %s ended after %v", name, actions)
		}
		actions = append(actions, sc.Text())
	}
	return actions
}

func count(list []string, s string) (n int) {
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

func TestRestartPolicies(t *testing.T) {
	home := vmHome(t)

	t.Run("flags", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{run("--restart", "on-failure:-1", "berth/demo", "true"), "maximum retry count cannot be negative"},
			{run("--restart", "sometimes", "berth/demo", "true"), "unknown policy 'sometimes'"},
			{run("--rm", "--restart", "always", "berth/demo", "true"), "Conflicting options: --restart and --rm"},
			{[]string{"create", "--restart", "always:3", "berth/demo"}, "can only be used with 'on-failure'"},
			{[]string{"update", "--cpu-shares", "2", "x"}, "--cpu-shares is not supported"},
			{[]string{"update", "x"}, "you must provide one or more flags"},
		} {
			r := berth(t, home, tc.args...)
			if r.code != 125 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("berth %v: exit %d, stderr %q; want 125 and %q", tc.args, r.code, r.stderr, tc.want)
			}
		}
	})

	t.Run("on-failure:2 restarts a failing container twice", func(t *testing.T) {
		mustRun(t, home, run("-d", "--name", "twice", "--restart", "on-failure:2", "berth/demo", "sh", "-c", "echo ran; exit 1")...)
		waitFor(t, func() bool { c := inspect(t, home, "twice"); return c.State == api.StateExited && c.RestartCount == 2 })
		c := inspect(t, home, "twice")
		if c.ExitCode != 1 || c.Spec.RestartPolicy != (api.RestartPolicy{Name: "on-failure", MaximumRetryCount: 2}) {
			t.Fatalf("after its restarts: code %d policy %+v", c.ExitCode, c.Spec.RestartPolicy)
		}
		if raw := mustRun(t, home, "inspect", "twice"); !strings.Contains(raw, `"RestartCount": 2`) {
			t.Fatalf("inspect lacks the restart count:\n%s", raw)
		}
		if logs := mustRun(t, home, "logs", "twice"); strings.Count(logs, "ran\n") != 3 {
			t.Fatalf("logs of three runs:\n%s", logs)
		}
		// docker's events for a policy's restart: die, then start; no
		// "restart" (that is docker restart's).
		got := eventsOf(t, home, "twice", func(a []string) bool { return count(a, "die") == 3 })
		if want := "create start die start die start die"; strings.Join(got, " ") != want {
			t.Fatalf("events %v, want %s", got, want)
		}
	})

	t.Run("rm -f of a container that keeps failing", func(t *testing.T) {
		mustRun(t, home, run("-d", "--name", "loop", "--restart", "always", "berth/demo", "sh", "-c", "exit 3")...)
		waitFor(t, func() bool { return inspect(t, home, "loop").RestartCount >= 2 })
		mustRun(t, home, "rm", "-f", "loop")
		if r := berth(t, home, "inspect", "loop"); r.code == 0 {
			t.Fatalf("loop is back after rm -f:\n%s", r.stdout)
		}
		for _, c := range listAll(t, home) {
			if c.Name == "loop" {
				t.Fatal("loop is listed after rm -f")
			}
		}
	})

	t.Run("a user's stop, and the daemon's next start", func(t *testing.T) {
		mustRun(t, home, run(append([]string{"-d", "--name", "alw", "--restart", "always"}, sleeper...)...)...)
		mustRun(t, home, run(append([]string{"-d", "--name", "us", "--restart", "unless-stopped"}, sleeper...)...)...)
		mustRun(t, home, run(append([]string{"-d", "--name", "alwstop", "--restart", "always"}, sleeper...)...)...)
		// A user's stop is final: the record says so as stop returns.
		mustRun(t, home, "stop", "-t", "1", "us", "alwstop")
		for _, n := range []string{"us", "alwstop"} {
			if c := inspect(t, home, n); c.State != api.StateExited || c.RestartCount != 0 {
				t.Fatalf("%s after stop: %s, %d restarts", n, c.State, c.RestartCount)
			}
		}
		// update: memory at the next start, the policy at once.
		r := berth(t, home, "update", "-m", "320m", "--restart", "always", "alwstop")
		if r.code != 0 || r.stdout != "alwstop\n" || !strings.Contains(r.stderr, "take effect when alwstop next starts") {
			t.Fatalf("update: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
		}
		mustRun(t, home, "start", "alwstop")
		if c := inspect(t, home, "alwstop"); c.State != api.StateRunning || c.MemoryMiB != 320 {
			t.Fatalf("alwstop after start: %s with %d MiB", c.State, c.MemoryMiB)
		}
		mustRun(t, home, "stop", "-t", "1", "alwstop")

		// The daemon dies and alw's VM with it, as in a host's reboot.
		before := inspect(t, home, "alw")
		killDaemon(t, home)
		syscall.Kill(before.PID, syscall.SIGKILL)
		waitFor(t, func() bool { return !alive(before.PID) })
		// The next command starts a daemon, which restarts alw; always
		// restarts alwstop too (docker's rule: "always" restarts at the
		// daemon's start even after a user's stop), unless-stopped does not.
		waitFor(t, func() bool {
			c := inspect(t, home, "alw")
			return c.State == api.StateRunning && c.PID != before.PID
		})
		waitFor(t, func() bool { return inspect(t, home, "alwstop").State == api.StateRunning })
		if c := inspect(t, home, "us"); c.State != api.StateExited {
			t.Fatalf("unless-stopped after a user's stop and a daemon restart: %s", c.State)
		}
		if out := mustRun(t, home, "exec", "alw", "echo", "back"); out != "back\n" {
			t.Fatalf("exec in the restarted container: %q", out)
		}
		if out := mustRun(t, home, "ls"); !strings.Contains(out, "Up ") {
			t.Fatalf("ls:\n%s", out)
		}
	})
}
