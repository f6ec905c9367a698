package main

// End-to-end tests of berth on a real pseudo-terminal: what a person at a
// terminal sees and types (the size the process starts with, detach keys,
// Ctrl-C during the boot, stats redrawn in place).

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// ptySession is berth running on a pseudo-terminal of a given size.
type ptySession struct {
	t    *testing.T
	cmd  *exec.Cmd
	tty  *os.File // the master side: what a terminal emulator holds
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	err  error
}

func startPTY(t *testing.T, home string, rows, cols uint16, args ...string) *ptySession {
	t.Helper()
	cmd := exec.Command(berthBin, args...)
	cmd.Env = append(os.Environ(), "BERTH_HOME="+home)
	return startPTYCmd(t, cmd, rows, cols)
}

// startPTYCmd runs cmd (berth or another client) on a pseudo-terminal.
func startPTYCmd(t *testing.T, cmd *exec.Cmd, rows, cols uint16) *ptySession {
	t.Helper()
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: rows, Cols: cols})
	if err != nil {
		t.Fatal(err)
	}
	s := &ptySession{t: t, cmd: cmd, tty: f, done: make(chan struct{})}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			s.mu.Lock()
			s.out.Write(buf[:n])
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() { s.err = cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			cmd.Process.Kill()
			<-s.done
		}
		f.Close()
	})
	return s
}

func (s *ptySession) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// expect waits for want in the terminal's output after offset from and
// returns the offset after it.
func (s *ptySession) expect(from int, want string, within time.Duration) int {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		out := s.output()
		if i := strings.Index(out[min(from, len(out)):], want); i >= 0 {
			return from + i + len(want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("no %q on the terminal within %s; it shows:\n%q", want, within, s.output())
	return 0
}

func (s *ptySession) send(keys string) {
	s.t.Helper()
	if _, err := s.tty.Write([]byte(keys)); err != nil {
		s.t.Fatal(err)
	}
}

// exit waits for the command to end and returns its exit code.
func (s *ptySession) exit(within time.Duration) int {
	s.t.Helper()
	select {
	case <-s.done:
	case <-time.After(within):
		s.t.Fatalf("%s did not end within %s; the terminal shows:\n%q", filepath.Base(s.cmd.Path), within, s.output())
	}
	var ee *exec.ExitError
	if errors.As(s.err, &ee) {
		return ee.ExitCode()
	}
	if s.err != nil {
		s.t.Fatal(s.err)
	}
	return 0
}

// TestTerminal runs one interactive container through what a terminal
// user does with it, on one VM: the shell starts with the terminal's size,
// follows a resize, detaches with Ctrl-P Ctrl-Q (exit 0, still running),
// is attached again with start -ai (its stdin still open) and detached
// with --detach-keys, is killed and started again at once, and ends.
// stats on the terminal redraws in place.
func TestTerminal(t *testing.T) {
	home := vmHome(t)
	s := startPTY(t, home, 37, 111, "run", "-it", "-c", "1", "-m", "256m", "--name", "term", "berth/demo",
		"sh", "-c", "stty size; exec sh")
	at := s.expect(0, "37 111\r\n", 60*time.Second)
	// The boot's progress is erased (cursor up, clear to the end) before
	// the session: what follows the erase is the session's first line.
	first := s.output()
	if i := strings.LastIndex(first[:at], "\x1b[J"); i >= 0 {
		first = first[i+len("\x1b[J"):]
	}
	if !strings.HasPrefix(first, "37 111\r\n") {
		t.Errorf("the session does not start with the size line (boot progress left a trace?): %q", first)
	}
	if err := pty.Setsize(s.tty, &pty.Winsize{Rows: 20, Cols: 70}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the SIGWINCH reaches berth, the resize the guest
	s.send("stty size\r")
	s.expect(at, "20 70\r\n", 10*time.Second)
	s.send("\x10\x11") // Ctrl-P Ctrl-Q
	if code := s.exit(10 * time.Second); code != 0 {
		t.Fatalf("detach: exit %d, want 0; terminal: %q", code, s.output())
	}
	if c := inspect(t, home, "term"); c.State != "running" {
		t.Fatalf("after detaching the container is %s, want running", c.State)
	}

	st := startPTY(t, home, 24, 100, "stats")
	mark := st.expect(0, "\x1b[2J\x1b[H", 20*time.Second)
	st.expect(mark, "\x1b[2J\x1b[H", 10*time.Second)
	if !strings.Contains(st.output(), "term") {
		t.Errorf("stats does not show the container: %q", st.output())
	}
	st.cmd.Process.Signal(os.Interrupt)
	st.exit(10 * time.Second)

	again := startPTY(t, home, 30, 90, "start", "-ai", "--detach-keys", "ctrl-x,x", "term")
	time.Sleep(500 * time.Millisecond)
	again.send("echo still-$((40+2))\r") // its stdin stayed open across the detach
	again.expect(0, "still-42", 10*time.Second)
	again.send("\x18x") // --detach-keys ctrl-x,x
	if code := again.exit(10 * time.Second); code != 0 {
		t.Fatalf("start -ai, detach with ctrl-x,x: exit %d, want 0; terminal: %q", code, again.output())
	}

	// kill, then start at once: the start waits for the end of the run
	// being killed instead of finding it still running (and doing nothing).
	before := inspect(t, home, "term").Started
	mustRun(t, home, "kill", "term")
	mustRun(t, home, "start", "term")
	if c := inspect(t, home, "term"); c.State != "running" || !c.Started.After(before) {
		t.Fatalf("kill then start: %s, started %v (before: %v); want a new run", c.State, c.Started, before)
	}
	last := startPTY(t, home, 30, 90, "start", "-ai", "term")
	time.Sleep(500 * time.Millisecond)
	last.send("exit 7\r")
	if code := last.exit(15 * time.Second); code != 7 {
		t.Fatalf("start -ai: exit %d, want the shell's 7; terminal: %q", code, last.output())
	}
}

// TestCtrlCDuringBoot interrupts run -it while the VM boots: the start is
// called off and nothing runs; with --rm nothing is left at all, without
// it the container is created but not running, as docker leaves it.
func TestCtrlCDuringBoot(t *testing.T) {
	home := vmHome(t)
	for _, rm := range []bool{true, false} {
		args := []string{"run", "-it", "-c", "1", "-m", "256m", "--name", "boot", "berth/demo", "sh"}
		if rm {
			args = append(args[:2], append([]string{"--rm"}, args[2:]...)...)
		}
		s := startPTY(t, home, 24, 80, args...)
		s.expect(0, "boot", 60*time.Second) // the boot's progress line
		s.send("\x03")
		if code := s.exit(20 * time.Second); code != 130 {
			t.Fatalf("rm=%v: exit %d after Ctrl-C, want 130; terminal: %q", rm, code, s.output())
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			list := listAll(t, home)
			if rm && len(list) == 0 || !rm && len(list) == 1 && list[0].State == "created" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("rm=%v: after Ctrl-C the containers are %+v", rm, list)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if leaked := vmsUnder(home); len(leaked) > 0 {
			t.Fatalf("rm=%v: VM processes still running after Ctrl-C: %v", rm, leaked)
		}
	}
	mustRun(t, home, "rm", "boot")
}

// vmsUnder lists the QEMU processes whose command line names a path in home.
func vmsUnder(home string) []string {
	var found []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(string(cmdline), "qemu-system") && strings.Contains(string(cmdline), home+"/") {
			found = append(found, e.Name())
		}
	}
	return found
}
