package main

// End-to-end tests of the berth binary: a real CLI process talking to a
// real daemon process it started, over the data dir's socket.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/testenv"
)

var berthBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "berth-bin")
	if err != nil {
		panic(err)
	}
	berthBin = filepath.Join(dir, "berth")
	// The binary embeds the demo image (make build writes it); make it
	// here when a plain go test runs without make.
	demo := filepath.Join("..", "..", "resources", "demo", "demo-"+goruntime.GOARCH+".tar")
	if _, err := os.Stat(demo); err != nil {
		if out, err := exec.Command("go", "run", "../../packaging/demoimage", "-arch", goruntime.GOARCH, "-o", demo).CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			panic("build the demo image: " + err.Error() + "\n" + string(out))
		}
	}
	out, err := exec.Command("go", "build", "-o", berthBin, ".").CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		panic("build berth: " + err.Error() + "\n" + string(out))
	}
	// On macOS the daemon and its VM hosts are this binary: it needs the
	// virtualization entitlement (elsewhere this does nothing).
	if err := testenv.SignForVMs(berthBin); err != nil {
		os.RemoveAll(dir)
		panic(err.Error())
	}
	// The guest agent goes beside berth, where the daemon looks for it.
	agentCmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o",
		filepath.Join(dir, "berth-agent-linux-"+goruntime.GOARCH), "../agent")
	agentCmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := agentCmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		panic("build the agent: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

// berth runs the binary with BERTH_HOME=home.
func berth(t testing.TB, home string, args ...string) result {
	t.Helper()
	return berthIn(t, home, "", args...)
}

// berthIn runs the binary with BERTH_HOME=home and stdin.
func berthIn(t testing.TB, home, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, berthBin, args...)
	cmd.Env = append(os.Environ(), "BERTH_HOME="+home)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("berth %v hung", args)
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run berth %v: %v", args, err)
	}
	return r
}

// newHome makes a short data dir (sockets have a path limit) and makes sure
// any daemon started in it is gone when the test ends.
func newHome(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "bh")
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "h")
	t.Cleanup(func() {
		if pid := daemonPID(home); pid > 0 && syscall.Kill(pid, 0) == nil {
			// Stop containers the clean way, then make sure.
			berth(t, home, "rm", "-f", "--all")
			berth(t, home, "system", "stop")
			syscall.Kill(pid, syscall.SIGKILL)
		}
		if leaked := killVMsUnder(home); len(leaked) > 0 {
			t.Errorf("VM processes left running under %s: %s", home, strings.Join(leaked, "; "))
		}
		os.RemoveAll(dir)
	})
	return home
}

// killVMsUnder kills QEMU and network processes whose command line names
// a path in home (their sockets live there) and returns their pids.
func killVMsUnder(home string) []string {
	var pids []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		isVM := strings.Contains(string(cmdline), "qemu-system")
		isNet := strings.Contains(string(cmdline), "net-host")
		if err != nil || !(isVM || isNet) || !strings.Contains(string(cmdline), home+"/") {
			continue
		}
		syscall.Kill(pid, syscall.SIGKILL)
		// Which process it was, for the failure's reader.
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		pids = append(pids, fmt.Sprintf("%d %s", pid, strings.Join(args[:min(len(args), 4)], " ")))
	}
	return pids
}

func daemonPID(home string) int {
	raw, err := os.ReadFile(filepath.Join(home, "berth.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	return pid
}

func systemInfo(t *testing.T, home string) api.SystemInfo {
	t.Helper()
	r := berth(t, home, "system", "info", "--format", "json")
	if r.code != 0 {
		t.Fatalf("system info: exit %d\n%s", r.code, r.stderr)
	}
	var info api.SystemInfo
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil {
		t.Fatalf("system info json: %v\n%s", err, r.stdout)
	}
	return info
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still alive", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSystemInfoStartsDaemon(t *testing.T) {
	home := newHome(t)
	r := berth(t, home, "system", "info")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"Hypervisor:", "Nested virtualization:", "Rosetta:", "Data dir:", home} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("system info lacks %q:\n%s", want, r.stdout)
		}
	}
	info := systemInfo(t, home)
	if info.Host.OS != "linux" || info.Host.Hypervisor != "qemu" || info.Host.KVM == "" {
		t.Errorf("host facts: %+v", info.Host)
	}
	if pid := daemonPID(home); pid != info.Daemon.PID {
		t.Errorf("pid file %d, daemon says %d", pid, info.Daemon.PID)
	}
	st, err := os.Stat(filepath.Join(home, "berth.sock"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("socket: %v %v", st, err)
	}
	r = berth(t, home, "system", "info", "--format", "{{.Host.Hypervisor}}/{{.Host.Accelerator}}")
	if r.code != 0 || strings.TrimSpace(r.stdout) != info.Host.Hypervisor+"/"+info.Host.Accelerator {
		t.Errorf("template format: %q %q", r.stdout, r.stderr)
	}
}

func TestSIGKILLRecovery(t *testing.T) {
	home := newHome(t)
	first := systemInfo(t, home)
	if err := syscall.Kill(first.Daemon.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, first.Daemon.PID)
	// The killed daemon left its socket behind; the CLI must start a new one.
	if _, err := os.Stat(filepath.Join(home, "berth.sock")); err != nil {
		t.Fatalf("expected a stale socket after SIGKILL: %v", err)
	}
	second := systemInfo(t, home)
	if second.Daemon.PID == first.Daemon.PID {
		t.Fatal("no new daemon was started")
	}
	if second.Daemon.ID != first.Daemon.ID || second.SchemaVersion != first.SchemaVersion {
		t.Fatalf("state lost: %+v then %+v", first.Daemon, second.Daemon)
	}
}

func TestSecondDaemonFailsWithMessage(t *testing.T) {
	home := newHome(t)
	info := systemInfo(t, home)
	r := berth(t, home, "daemon")
	if r.code != 3 {
		t.Fatalf("second daemon exit %d, want 3\n%s", r.code, r.stderr)
	}
	want := "in use by a running berth daemon (pid " + strconv.Itoa(info.Daemon.PID) + ")"
	if !strings.Contains(r.stderr, want) {
		t.Fatalf("stderr %q lacks %q", r.stderr, want)
	}
	if again := systemInfo(t, home); again.Daemon.PID != info.Daemon.PID {
		t.Fatal("the first daemon was disturbed")
	}
}

func TestConcurrentAutostart(t *testing.T) {
	home := newHome(t)
	var wg sync.WaitGroup
	results := make([]result, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = berth(t, home, "system", "info", "--format", "{{.Daemon.PID}}")
		}()
	}
	wg.Wait()
	pids := map[string]bool{}
	for _, r := range results {
		if r.code != 0 {
			t.Fatalf("concurrent call failed: exit %d: %s", r.code, r.stderr)
		}
		pids[strings.TrimSpace(r.stdout)] = true
	}
	if len(pids) != 1 {
		t.Fatalf("calls saw different daemons: %v", pids)
	}
}

func TestSystemStop(t *testing.T) {
	home := newHome(t)
	info := systemInfo(t, home)
	r := berth(t, home, "system", "stop")
	if r.code != 0 || !strings.Contains(r.stdout, "stopped") {
		t.Fatalf("stop: %d %q %q", r.code, r.stdout, r.stderr)
	}
	waitGone(t, info.Daemon.PID)
	for _, f := range []string{"berth.sock", "berth.pid"} {
		if _, err := os.Stat(filepath.Join(home, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after stop: %v", f, err)
		}
	}
	r = berth(t, home, "system", "stop")
	if r.code != 0 || !strings.Contains(r.stdout, "not running") {
		t.Fatalf("second stop: %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = berth(t, home, "version")
	if r.code != 0 || !strings.Contains(r.stdout, "Server: not running") {
		t.Fatalf("version without daemon: %d %q", r.code, r.stdout)
	}
	if daemonPID(home) != 0 {
		t.Fatal("version started a daemon")
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	cases := []struct {
		name   string
		home   string
		args   []string
		code   int
		stderr []string
	}{
		{"unknown command", "", []string{"frobnicate"}, 125, []string{`unknown command "frobnicate"`, "berth --help"}},
		{"unknown subcommand", "", []string{"system", "frob"}, 125, []string{"frob", "system --help"}},
		{"unknown flag", "", []string{"system", "info", "--bogus"}, 125, []string{"unknown flag: --bogus", "berth system info --help"}},
		{"bad format", "", []string{"version", "--format", "{{.Nope"}, 125, []string{"--format"}},
		{"data dir under a file", filepath.Join(file, "h"), []string{"system", "info"}, 125,
			[]string{"cannot be created", "not a directory", "BERTH_HOME"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			home := tc.home
			if home == "" {
				home = newHome(t)
			}
			r := berth(t, home, tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\n%s", r.code, tc.code, r.stderr)
			}
			for _, w := range tc.stderr {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q lacks %q", r.stderr, w)
				}
			}
			if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic") {
				t.Errorf("stack trace on bad input:\n%s", r.stderr)
			}
		})
	}
}

func TestStaleSocketFile(t *testing.T) {
	home := newHome(t)
	os.MkdirAll(home, 0o700)
	ln, err := net.Listen("unix", filepath.Join(home, "berth.sock"))
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	info := systemInfo(t, home)
	if info.Daemon.PID == 0 {
		t.Fatal("no daemon")
	}
}
