//go:build unix

package hostproc

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
)

// ended waits for p to end, failing the test after d.
func ended(t *testing.T, p *Process, d time.Duration) Exit {
	t.Helper()
	select {
	case <-p.Done():
		return p.Exit()
	case <-time.After(d):
		t.Fatalf("process %d still running after %v", p.Pid(), d)
		return Exit{}
	}
}

func spawn(t *testing.T, s Spec) *Process {
	t.Helper()
	p, err := Spawn(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Kill() })
	return p
}

func TestSpawnRecordsHowItEnded(t *testing.T) {
	cases := []struct {
		name   string
		script string
		code   int
		signal syscall.Signal
		clean  bool
		says   string
	}{
		{"clean", "exit 0", 0, 0, true, "exit status 0"},
		{"status", "exit 3", 3, 0, false, "exit status 3"},
		{"signal", "kill -TERM $$", -1, syscall.SIGTERM, false, "signal: terminated"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := spawn(t, Spec{Path: "/bin/sh", Args: []string{"-c", tc.script}})
			e := ended(t, p, 10*time.Second)
			if !e.Known || e.Code != tc.code || e.Signal != tc.signal || e.Clean() != tc.clean || e.String() != tc.says {
				t.Fatalf("Exit = %+v (%q); want code %d signal %v clean %v %q", e, e, tc.code, tc.signal, tc.clean, tc.says)
			}
			if err := p.Kill(); err != nil {
				t.Fatalf("Kill of an exited child: %v", err)
			}
		})
	}
}

func TestSpawnLogProcessGroupAndStartTime(t *testing.T) {
	log := filepath.Join(t.TempDir(), "host.log")
	if err := os.WriteFile(log, []byte("an earlier run\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var gotPid int
	var gotST uint64
	p := spawn(t, Spec{Path: "/bin/sh", Args: []string{"-c", "echo out; echo err >&2; exec sleep 30"}, Log: log,
		Started: func(pid int, st uint64) error { gotPid, gotST = pid, st; return nil }})
	if gotPid != p.Pid() || gotST != p.StartTime() || gotST == 0 {
		t.Fatalf("Started(%d, %d); process %d started at %d", gotPid, gotST, p.Pid(), p.StartTime())
	}
	if st, err := StartTime(p.Pid()); err != nil || st != p.StartTime() {
		t.Fatalf("StartTime = %d, %v; Spawn said %d", st, err, p.StartTime())
	}
	// Its own process group: the core's signals to its group miss it.
	if pgid, err := syscall.Getpgid(p.Pid()); err != nil || pgid != p.Pid() {
		t.Fatalf("process group %d, %v; want %d", pgid, err, p.Pid())
	}
	deadline := time.Now().Add(10 * time.Second)
	for got := Tail(log, 0, 100); got != "out\nerr\n"; got = Tail(log, 0, 100) {
		if time.Now().After(deadline) {
			t.Fatalf("log %q: want both streams, truncated first", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if e := ended(t, p, 10*time.Second); e.Signal != syscall.SIGKILL {
		t.Fatalf("after Kill: %v", e)
	}
	// Killing what has ended is no error, and hits nothing.
	if err := p.Kill(); err != nil {
		t.Fatalf("Kill of an ended child: %v", err)
	}
}

func TestSpawnFails(t *testing.T) {
	errRecord := errors.New("no room for the handle")
	var pid int
	_, err := Spawn(context.Background(), Spec{Path: "/bin/sleep", Args: []string{"30"},
		Started: func(p int, _ uint64) error { pid = p; return errRecord }})
	if !errors.Is(err, errRecord) {
		t.Fatalf("Spawn with a failing Started = %v", err)
	}
	// Killed and reaped: no zombie, no process.
	if _, err := StartTime(pid); err == nil {
		t.Fatalf("process %d still there after Started failed", pid)
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
		t.Fatalf("process %d not reaped after Started failed", pid)
	}

	if _, err := Spawn(context.Background(), Spec{Path: filepath.Join(t.TempDir(), "none")}); err == nil || !strings.Contains(err.Error(), "none") {
		t.Fatalf("Spawn of a missing executable = %v", err)
	}
	if _, err := Spawn(context.Background(), Spec{Path: "/bin/true", Log: filepath.Join(t.TempDir(), "no", "log")}); err == nil {
		t.Fatal("Spawn with an unwritable log succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Spawn(ctx, Spec{Path: "/bin/true"}); !errors.Is(err, api.ErrCanceled) {
		t.Fatalf("Spawn with a canceled context = %v", err)
	}
}

// foreign starts `sleep secs` as a grandchild whose parent is gone: a
// process that is not our child, as a VM is to a restarted core.
func foreign(t *testing.T, secs string) (int, uint64) {
	t.Helper()
	out, err := exec.Command("/bin/sh", "-c", "sleep "+secs+" >/dev/null 2>&1 & echo $!").Output()
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	st, err := StartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	return pid, st
}

func TestAdopt(t *testing.T) {
	t.Run("ends by itself", func(t *testing.T) {
		pid, st := foreign(t, "0.3")
		p, err := Adopt(pid, st)
		if err != nil {
			t.Fatal(err)
		}
		if e := ended(t, p, 10*time.Second); e.Known || e.Clean() || !strings.Contains(e.String(), "unknown") {
			t.Fatalf("Exit of an adopted process = %+v (%q)", e, e)
		}
	})
	t.Run("killed", func(t *testing.T) {
		pid, st := foreign(t, "30")
		p, err := Adopt(pid, st)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-p.Done():
			t.Fatal("Done before the process ended")
		case <-time.After(200 * time.Millisecond):
		}
		if err := p.Kill(); err != nil {
			t.Fatal(err)
		}
		ended(t, p, 10*time.Second)
		if err := p.Kill(); err != nil {
			t.Fatalf("Kill of an ended process: %v", err)
		}
	})
	t.Run("recycled pid", func(t *testing.T) {
		// The pid names a process, but not the one started then: not
		// adopted, and never killed.
		pid, st := foreign(t, "30")
		if _, err := Adopt(pid, st+1); !errors.Is(err, api.ErrNotFound) {
			t.Fatalf("Adopt with another start time = %v", err)
		}
		if err := killSame(pid, st+1); err != nil {
			t.Fatal(err)
		}
		if err := killIfSame(pid, st+1); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		if !same(pid, st) {
			t.Fatalf("process %d was killed through a stale start time", pid)
		}
	})
	t.Run("gone", func(t *testing.T) {
		pid, st := foreign(t, "30")
		_ = syscall.Kill(pid, syscall.SIGKILL)
		deadline := time.Now().Add(10 * time.Second)
		for same(pid, st) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if _, err := Adopt(pid, st); !errors.Is(err, api.ErrNotFound) {
			t.Fatalf("Adopt of an ended process = %v", err)
		}
	})
	// Without pidfds (or kqueue) waiting polls the start time.
	t.Run("polling", func(t *testing.T) {
		pid, st := foreign(t, "0.3")
		done := make(chan struct{})
		go func() { pollGone(pid, st); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("pollGone did not return after the process ended")
		}
	})
}
