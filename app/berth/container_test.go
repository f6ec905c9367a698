package main

// End-to-end tests of containers through the berth binary: a real daemon
// booting real VMs (QEMU; TCG on machines without usable KVM).

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/dockerapi/types"
	"github.com/berthvm/berth/core/hypervisor/hostproc"
	"github.com/berthvm/berth/core/kernel"
	"github.com/berthvm/berth/core/testenv"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	ggcrtypes "github.com/google/go-containerregistry/pkg/v1/types"
)

// vmHome is a data dir for tests that boot VMs; it skips (or fails under
// BERTH_REQUIRE_ALL=1) when the machine cannot boot them.
func vmHome(t testing.TB) string {
	t.Helper()
	testenv.Tool(t, "qemu-system-x86_64", "qemu-system-x86")
	if _, err := kernel.Locate("amd64"); err != nil {
		testenv.Missing(t, "no guest kernel: run make deps ("+err.Error()+")")
	}
	return newHome(t)
}

func inspect(t *testing.T, home, ref string) api.Container {
	t.Helper()
	out := inspectAll(t, home, ref)
	if len(out) != 1 {
		t.Fatalf("inspect %s: %d objects", ref, len(out))
	}
	return out[0]
}

// inspectAll reads `berth inspect`'s docker-shaped objects back into the
// api.Container fields the tests look at.
func inspectAll(t *testing.T, home string, refs ...string) []api.Container {
	t.Helper()
	if len(refs) == 0 {
		return nil
	}
	var objs []types.ContainerJSON
	if err := json.Unmarshal([]byte(mustRun(t, home, append([]string{"inspect", "--type", "container"}, refs...)...)), &objs); err != nil {
		t.Fatalf("inspect %s: %v", refs, err)
	}
	var out []api.Container
	for _, o := range objs {
		c := api.Container{
			ID: o.ID, Name: strings.TrimPrefix(o.Name, "/"), Image: o.Config.Image, ImageID: o.Berth.ImageDigest,
			State: o.Berth.State, ExitCode: o.State.ExitCode, Error: o.State.Error, PID: o.State.Pid,
			CPUs: o.Berth.CPUs, MemoryMiB: o.Berth.MemoryMiB, Dir: o.Berth.Dir, LogPath: o.LogPath,
			ConsoleLog: o.Berth.ConsoleLog, ConsoleTail: o.Berth.ConsoleTail, IPAddress: o.NetworkSettings.IPAddress,
			RestartCount: o.RestartCount,
		}
		if p := o.HostConfig.RestartPolicy; p.Name != "no" {
			c.Spec.RestartPolicy = api.RestartPolicy{Name: p.Name, MaximumRetryCount: p.MaximumRetryCount}
		}
		c.Created, _ = time.Parse(time.RFC3339Nano, o.Created)
		c.Started, _ = time.Parse(time.RFC3339Nano, o.State.StartedAt)
		c.Finished, _ = time.Parse(time.RFC3339Nano, o.State.FinishedAt)
		c.Spec.Labels = o.Config.Labels
		for _, m := range o.Mounts {
			src := m.Source
			if m.Type == string(api.MountVolume) {
				src = m.Name
			}
			c.Spec.Mounts = append(c.Spec.Mounts, api.Mount{Type: api.MountType(m.Type), Source: src, Target: m.Destination, ReadOnly: !m.RW})
		}
		for name, n := range o.NetworkSettings.Networks {
			c.Networks = append(c.Networks, api.ContainerNetwork{NetworkID: n.NetworkID, Network: name, IP: n.IPAddress,
				Prefix: n.IPPrefixLen, Gateway: n.Gateway, MAC: n.MacAddress})
		}
		sort.Slice(c.Networks, func(i, j int) bool { return c.Networks[i].Network < c.Networks[j].Network })
		for key, bindings := range o.NetworkSettings.Ports {
			port, proto, _ := strings.Cut(key, "/")
			cp, _ := strconv.Atoi(port)
			for _, b := range bindings {
				hp, _ := strconv.Atoi(b.HostPort)
				c.Ports = append(c.Ports, api.PortMapping{HostIP: b.HostIP, HostPort: hp, ContainerPort: cp, Proto: proto})
			}
		}
		out = append(out, c)
	}
	return out
}

// listAll is every container, through ls -aq and inspect.
func listAll(t *testing.T, home string) []api.Container {
	t.Helper()
	return inspectAll(t, home, strings.Fields(mustRun(t, home, "ls", "-a", "-q", "--no-trunc"))...)
}

// small keeps test VMs light.
var small = []string{"-c", "1", "-m", "256m"}

func run(args ...string) []string { return append(append([]string{"run"}, small...), args...) }

func TestRunForeground(t *testing.T) {
	home := vmHome(t)
	envFile := filepath.Join(t.TempDir(), "env")
	os.WriteFile(envFile, []byte("# comment\nFROM_FILE=file value\n"), 0o600)

	cases := []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stdout string
		stderr string // substring
	}{
		{"demo greeting and guest kernel", run("--rm", "berth/demo"), "", 0, "Hello from Berth! This container runs in its own virtual machine.\nGuest kernel: 6.1", ""},
		{"exit code", run("--rm", "berth/demo", "sh", "-c", "exit 3"), "", 3, "", ""},
		{"stdout and stderr apart", run("--rm", "berth/demo", "sh", "-c", "echo out; echo err >&2"), "", 0, "out\n", "err"},
		{"stdin with -i", run("--rm", "-i", "berth/demo", "cat"), "through the VM\n", 0, "through the VM\n", ""},
		{"no stdin without -i", run("--rm", "berth/demo", "cat"), "ignored\n", 0, "", ""},
		{"env, env-file, workdir, user", run("--rm", "-e", "A=1", "--env-file", envFile, "-w", "/tmp", "-u", "berth",
			"berth/demo", "sh", "-c", `echo "$A|$FROM_FILE|$(pwd)|$(id -un):$(id -u)"`), "", 0, "1|file value|/tmp|berth:1000\n", ""},
		{"entrypoint", run("--rm", "--entrypoint", "/bin/echo", "berth/demo", "from", "entrypoint"), "", 0, "from entrypoint\n", ""},
		{"guest kernel is not the host's", run("--rm", "berth/demo", "uname", "-r"), "", 0, "cloud-amd64\n", ""},
		{"resources reach the guest", run("--rm", "berth/demo", "nproc"), "", 0, "1\n", ""},
		{"command not found is 127", run("--rm", "berth/demo", "no-such-cmd"), "", 127, "", "not found"},
		{"not executable is 126", run("--rm", "berth/demo", "/etc/passwd"), "", 126, "", "cannot be run"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := berthIn(t, home, tc.stdin, tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tc.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, tc.stdout) || (tc.stdout == "" && r.stdout != "") {
				t.Fatalf("stdout %q, want %q", r.stdout, tc.stdout)
			}
			if tc.stderr != "" && !strings.Contains(r.stderr, tc.stderr) {
				t.Fatalf("stderr %q lacks %q", r.stderr, tc.stderr)
			}
		})
	}
	// --rm left nothing: no records, no container directories, no VMs.
	if list := listAll(t, home); len(list) != 0 {
		t.Fatalf("--rm left containers: %+v", list)
	}
	entries, _ := os.ReadDir(filepath.Join(home, "containers"))
	if len(entries) != 0 {
		t.Fatalf("--rm left container directories: %v", entries)
	}
	runs, _ := os.ReadDir(filepath.Join(home, "run"))
	if len(runs) != 0 {
		t.Fatalf("VM run directories left: %v", runs)
	}
}

func TestTTY(t *testing.T) {
	home := vmHome(t)
	if _, err := exec.LookPath("script"); err != nil {
		testenv.Missing(t, "script (bsdutils) not found: it gives the CLI a terminal")
	}
	// script gives berth a pseudo-terminal, as a user's shell would.
	cmd := exec.Command("script", "-qec", berthBin+" run --rm -t -c 1 -m 256m berth/demo sh -c 'tty; stty size'", "/dev/null")
	cmd.Env = append(os.Environ(), "BERTH_HOME="+home, "COLUMNS=100", "LINES=30")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run -t: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "/dev/pts/") {
		t.Fatalf("no terminal in the container: %q", out)
	}
}

func TestDetachedLifecycle(t *testing.T) {
	home := vmHome(t)
	id := strings.TrimSpace(mustRun(t, home, run("-d", "--name", "web", "-l", "tier=front",
		"berth/demo", "sh", "-c", `trap "echo got TERM; exit 0" TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done`)...))
	if len(id) != 64 {
		t.Fatalf("run -d printed %q, want a 64-hex id", id)
	}

	// ls, -q, json, inspect by name and by id prefix.
	if out := mustRun(t, home, "ls"); !strings.Contains(out, "web") || !strings.Contains(out, "Up ") {
		t.Fatalf("ls:\n%s", out)
	}
	if out := strings.TrimSpace(mustRun(t, home, "ls", "-q")); out != id[:12] {
		t.Fatalf("ls -q = %q", out)
	}
	c := inspect(t, home, id[:6])
	if c.Name != "web" || c.State != api.StateRunning || c.Spec.Labels["tier"] != "front" || c.CPUs != 1 || c.MemoryMiB != 256 ||
		len(c.Networks) != 1 || c.Networks[0].Network != "default" || c.IPAddress != c.Networks[0].IP {
		t.Fatalf("inspect: %+v", c)
	}

	// logs -f follows until interrupted; -n and --timestamps.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	follow := exec.CommandContext(ctx, berthBin, "logs", "-f", "web")
	follow.Env = append(os.Environ(), "BERTH_HOME="+home)
	pipe, _ := follow.StdoutPipe()
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	var seen string
	for !strings.Contains(seen, "tick 3") {
		n, err := pipe.Read(buf)
		if err != nil {
			t.Fatalf("logs -f ended early after %q: %v", seen, err)
		}
		seen += string(buf[:n])
	}
	follow.Process.Signal(os.Interrupt)
	follow.Wait()
	tail := mustRun(t, home, "logs", "-n", "2", "--timestamps", "web")
	if lines := strings.Split(strings.TrimSpace(tail), "\n"); len(lines) != 2 || !strings.Contains(lines[0], "T") {
		t.Fatalf("logs -n 2 --timestamps:\n%s", tail)
	}

	// exec: output, exit code, -e, -u, -w, -i, -d.
	if out := mustRun(t, home, "exec", "-e", "X=y", "-u", "1000", "-w", "/tmp", "web", "sh", "-c", `echo "$X $(id -u) $(pwd)"`); out != "y 1000 /tmp\n" {
		t.Fatalf("exec: %q", out)
	}
	if r := berth(t, home, "exec", "web", "sh", "-c", "exit 5"); r.code != 5 {
		t.Fatalf("exec exit code %d", r.code)
	}
	if r := berthIn(t, home, "fed\n", "exec", "-i", "web", "cat"); r.code != 0 || r.stdout != "fed\n" {
		t.Fatalf("exec -i: %+v", r)
	}
	mustRun(t, home, "exec", "-d", "web", "sh", "-c", "echo detached > /tmp/marker")
	waitFor(t, func() bool { return berth(t, home, "exec", "web", "cat", "/tmp/marker").stdout == "detached\n" })
	if r := berth(t, home, "exec", "web", "nope"); r.code != 127 {
		t.Fatalf("exec of a missing command: exit %d %s", r.code, r.stderr)
	}

	// stats samples the guest.
	var stats []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, home, "stats", "--no-stream", "--format", "json", "web")), &stats); err != nil || len(stats) != 1 {
		t.Fatalf("stats: %v", err)
	}
	if stats[0]["memoryTotal"].(float64) < 100<<20 || stats[0]["processes"].(float64) < 1 || stats[0]["hostRSS"].(float64) <= 0 {
		t.Fatalf("stats: %v", stats[0])
	}

	// rm of a running container needs -f.
	r := berth(t, home, "rm", "web")
	if r.code != 1 || !strings.Contains(r.stderr, "stop it first") {
		t.Fatalf("rm running: %+v", r)
	}
	// stop delivers TERM; the trap exits 0.
	mustRun(t, home, "stop", "web")
	if c := inspect(t, home, "web"); c.State != api.StateExited || c.ExitCode != 0 {
		t.Fatalf("after stop: %s %d", c.State, c.ExitCode)
	}
	if out := mustRun(t, home, "logs", "-n", "1", "web"); out != "got TERM\n" {
		t.Fatalf("last log line %q", out)
	}
	if out := strings.TrimSpace(mustRun(t, home, "wait", "web")); out != "0" {
		t.Fatalf("wait = %q", out)
	}

	// start again: the same container, its writable layer kept.
	mustRun(t, home, "start", "web")
	waitFor(t, func() bool { return inspect(t, home, "web").State == api.StateRunning })
	mustRun(t, home, "kill", "-s", "KILL", "web")
	if out := strings.TrimSpace(mustRun(t, home, "wait", "web")); out != "137" {
		t.Fatalf("wait after kill = %q", out)
	}
	mustRun(t, home, "rm", "web")
	if r := berth(t, home, "inspect", "web"); r.code != 1 || !strings.Contains(r.stderr, "no such container") {
		t.Fatalf("inspect after rm: %+v", r)
	}
}

func TestStopEscalatesAndPersistence(t *testing.T) {
	home := vmHome(t)
	mustRun(t, home, run("-d", "--name", "stubborn", "berth/demo", "sh", "-c",
		`trap "" TERM; echo ready; while true; do sleep 1; done`)...)
	// The VM runs before the shell has set its trap: wait for it.
	waitFor(t, func() bool { return berth(t, home, "logs", "stubborn").stdout == "ready\n" })
	start := time.Now()
	mustRun(t, home, "stop", "-t", "1", "stubborn")
	took := time.Since(start)
	c := inspect(t, home, "stubborn")
	if c.State != api.StateExited || c.ExitCode != 137 {
		t.Fatalf("stop -t 1 of a TERM-ignoring process: %s %d (%v)", c.State, c.ExitCode, took)
	}
	// stop -s picks the signal (INT is not trapped).
	mustRun(t, home, "start", "stubborn")
	waitFor(t, func() bool { return strings.Count(berth(t, home, "logs", "stubborn").stdout, "ready") == 2 })
	mustRun(t, home, "stop", "-s", "INT", "stubborn")
	if c := inspect(t, home, "stubborn"); c.ExitCode != 130 {
		t.Fatalf("stop -s INT: exit %d, want 130", c.ExitCode)
	}
	mustRun(t, home, "rm", "-f", "stubborn")

	mustRun(t, home, "create", "--name", "once", "-c", "1", "-m", "256m", "berth/demo", "sh", "-c", "cat /data 2>/dev/null || echo first > /data; echo done")
	if out := mustRun(t, home, "start", "-a", "once"); out != "done\n" {
		t.Fatalf("first start -a: %q", out)
	}
	if out := mustRun(t, home, "start", "-a", "once"); out != "first\ndone\n" {
		t.Fatalf("second start -a (the writable layer persists): %q", out)
	}
	if out := mustRun(t, home, "prune"); !strings.Contains(out, "Removed 1 containers") {
		t.Fatalf("prune: %q", out)
	}
}

func TestCrashedVMIsDead(t *testing.T) {
	home := vmHome(t)
	mustRun(t, home, run("-d", "--name", "victim", "berth/demo", "sh", "-c", "while true; do sleep 1; done")...)
	c := inspect(t, home, "victim")
	syscall.Kill(c.PID, syscall.SIGKILL)
	waitFor(t, func() bool { return inspect(t, home, "victim").State == api.StateDead })
	c = inspect(t, home, "victim")
	if c.ExitCode != 255 || !strings.Contains(c.Error, "killed") || !strings.Contains(c.ConsoleTail, "berth agent") {
		t.Fatalf("dead container: code %d error %q console tail %q", c.ExitCode, c.Error, c.ConsoleTail)
	}
	if out := mustRun(t, home, "ls", "-a"); !strings.Contains(out, "Dead") {
		t.Fatalf("ls -a:\n%s", out)
	}
}

// TestDaemonSIGKILL kills the daemon while a container runs, while a stop
// is under way, and while a pull is under way; the next daemon re-adopts
// what still runs and leaves nothing half-made.
func TestDaemonSIGKILL(t *testing.T) {
	home := vmHome(t)
	// It ignores TERM, so the stop further down stays "stopping" long
	// enough to kill the daemon in the middle of it.
	mustRun(t, home, run("-d", "--name", "survivor", "berth/demo", "sh", "-c",
		`trap "" TERM; i=0; while true; do echo line $i; i=$((i+1)); sleep 0.3; done`)...)
	before := inspect(t, home, "survivor")
	killDaemon(t, home)
	if !alive(before.PID) {
		t.Fatal("the VM died with the daemon")
	}
	time.Sleep(time.Second)               // output made while no daemon listens
	after := inspect(t, home, "survivor") // starts a new daemon
	if after.State != api.StateRunning || after.PID != before.PID {
		t.Fatalf("not re-adopted: %s pid %d (was %d): %s", after.State, after.PID, before.PID, after.Error)
	}
	if out := mustRun(t, home, "exec", "survivor", "echo", "still here"); out != "still here\n" {
		t.Fatalf("exec after re-adoption: %q", out)
	}
	logs := mustRun(t, home, "logs", "survivor")
	if !strings.Contains(logs, "line 0\n") || strings.Count(logs, "line ") < 5 {
		t.Fatalf("logs after re-adoption:\n%s", logs)
	}
	assertNoGaps(t, logs)

	// A second container caught mid-start is cleaned up on restart.
	mustRun(t, home, "create", "--name", "halfway", "-c", "1", "-m", "256m", "berth/demo", "sleep", "100")
	startCmd := exec.Command(berthBin, "start", "halfway")
	startCmd.Env = append(os.Environ(), "BERTH_HOME="+home)
	startCmd.Start()
	waitFor(t, func() bool { return inspect(t, home, "halfway").State == api.StateStarting })
	killDaemon(t, home)
	startCmd.Wait()
	if c := inspect(t, home, "halfway"); c.State != api.StateExited || !strings.Contains(c.Error, "interrupted while starting") {
		t.Fatalf("container caught starting: %s %q", c.State, c.Error)
	}

	// Killed during a stop: the next daemon finishes it.
	stopCmd := exec.Command(berthBin, "stop", "-t", "30", "survivor")
	stopCmd.Env = append(os.Environ(), "BERTH_HOME="+home)
	stopCmd.Start()
	waitFor(t, func() bool { return inspect(t, home, "survivor").State == api.StateStopping })
	killDaemon(t, home)
	stopCmd.Wait()
	waitFor(t, func() bool { return inspect(t, home, "survivor").State == api.StateExited })
	if alive(before.PID) {
		t.Fatal("the VM outlived its stop")
	}
	runs, _ := os.ReadDir(filepath.Join(home, "run"))
	if len(runs) != 0 {
		t.Fatalf("run directories left: %v", runs)
	}
}

// alive reports whether pid runs; a zombie (an adopted VM whose parent,
// a killed daemon, is gone and which nobody reaped yet) counts as dead.
func alive(pid int) bool {
	_, err := hostproc.StartTime(pid)
	return err == nil
}

func killDaemon(t *testing.T, home string) {
	t.Helper()
	pid := daemonPID(home)
	if pid == 0 {
		t.Fatal("no daemon")
	}
	syscall.Kill(pid, syscall.SIGKILL)
	waitGone(t, pid)
}

// assertNoGaps checks "line N" numbers run on without holes or repeats.
func assertNoGaps(t *testing.T, logs string) {
	t.Helper()
	next := 0
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		var n int
		if _, err := fmt.Sscanf(l, "line %d", &n); err != nil {
			continue
		}
		if n != next {
			t.Fatalf("log jumps from line %d to %d:\n%s", next-1, n, logs)
		}
		next++
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 90s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestContainerBadInput(t *testing.T) {
	home := vmHome(t)
	mustRun(t, home, "create", "--name", "taken", "berth/demo")
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"unknown image", []string{"run", "--rm", "localhost:1/nope:1"}, 125, "nope"},
		{"bad memory", []string{"run", "-m", "lots", "berth/demo"}, 125, `--memory "lots"`},
		{"too much memory", []string{"run", "-m", "100t", "berth/demo"}, 125, "--memory"},
		{"too many cpus", []string{"run", "-c", "999", "berth/demo"}, 125, "--cpus 999"},
		{"zero cpus", []string{"run", "-c", "0", "berth/demo"}, 125, "--cpus 0"},
		{"bad name", []string{"run", "--name", "a b", "berth/demo"}, 125, "invalid container name"},
		{"name clash", []string{"run", "--name", "taken", "berth/demo"}, 125, "already in use"},
		{"missing env file", []string{"run", "--env-file", "/nonexistent", "berth/demo"}, 125, "--env-file"},
		{"unknown flag", []string{"run", "--bogus", "berth/demo"}, 125, "unknown flag: --bogus"},
		{"no image", []string{"run"}, 125, "IMAGE"},
		{"nested unsupported here", []string{"run", "--virtualization", "berth/demo"}, 125, "nested virtualization"},
		{"exec in a stopped container", []string{"exec", "taken", "true"}, 125, "not running"},
		{"stop unknown", []string{"stop", "ghost"}, 1, "no such container"},
		{"bad stop signal", []string{"kill", "-s", "NOPE", "taken"}, 1, ""},
		{"negative stop time", []string{"stop", "-t", "-1", "taken"}, 125, "--time"},
		{"bad tail", []string{"logs", "-n", "x", "taken"}, 125, "--tail"},
		{"rm without names", []string{"rm"}, 125, "--all"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := berth(t, home, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) {
				t.Fatalf("exit %d, want %d; stderr %q lacks %q", r.code, tc.code, r.stderr, tc.stderr)
			}
			if strings.Contains(r.stderr, "goroutine ") {
				t.Fatalf("stack trace:\n%s", r.stderr)
			}
		})
	}
	// Nothing was created by the failures.
	if list := listAll(t, home); len(list) != 1 || list[0].Name != "taken" {
		t.Fatalf("containers after bad input: %+v", list)
	}
}

// TestConcurrencyHammer fires many CLI calls at the same and different
// containers at once: state must stay consistent and nothing deadlocks.
func TestConcurrencyHammer(t *testing.T) {
	home := vmHome(t)
	names := []string{"h1", "h2", "h3"}
	for _, n := range names {
		mustRun(t, home, "create", "--name", n, "-c", "1", "-m", "256m", "berth/demo", "sh", "-c", "while true; do sleep 1; done")
	}
	var wg sync.WaitGroup
	ops := [][]string{}
	for _, n := range names {
		ops = append(ops, []string{"start", n}, []string{"start", n}, []string{"stop", "-t", "1", n},
			[]string{"inspect", n}, []string{"ls", "-a"}, []string{"kill", n}, []string{"start", n})
	}
	ops = append(ops, []string{"rm", "-f", "h3"}, []string{"rm", "-f", "h3"}, []string{"rm", "h2"})
	for _, op := range ops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := berth(t, home, op...)
			if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "corrupt") {
				t.Errorf("berth %v: %s", op, r.stderr)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(4 * time.Minute):
		t.Fatal("concurrent calls did not finish: deadlock?")
	}
	// Whatever the interleaving, every record is in a settled state and
	// agrees with reality; everything can then be removed.
	for _, c := range listAll(t, home) {
		switch c.State {
		case api.StateRunning:
			if !alive(c.PID) {
				t.Errorf("%s says running but its VM pid %d is gone", c.Name, c.PID)
			}
		case api.StateExited, api.StateCreated, api.StateDead:
		default:
			t.Errorf("%s left in state %s", c.Name, c.State)
		}
	}
	mustRun(t, home, "rm", "-f", "--all")
	if list := listAll(t, home); len(list) != 0 {
		t.Fatalf("left after rm -f --all: %+v", list)
	}
}

func TestEventsStream(t *testing.T) {
	home := vmHome(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ev := exec.CommandContext(ctx, berthBin, "events", "--filter", "type=container", "--format", "{{.Action}} {{.Name}}")
	ev.Env = append(os.Environ(), "BERTH_HOME="+home)
	mustRun(t, home, "version") // no daemon yet is fine
	mustRun(t, home, "ls")      // start the daemon so events connects at once
	pipe, _ := ev.StdoutPipe()
	ev.Start()
	time.Sleep(300 * time.Millisecond)
	mustRun(t, home, run("--rm", "--name", "evt", "berth/demo", "true")...)
	var got string
	buf := make([]byte, 4096)
	for !strings.Contains(got, "destroy evt") {
		n, err := pipe.Read(buf)
		if err != nil {
			t.Fatalf("events ended after %q: %v", got, err)
		}
		got += string(buf[:n])
	}
	cancel()
	ev.Wait()
	for _, want := range []string{"create evt", "start evt", "die evt", "destroy evt"} {
		if !strings.Contains(got, want) {
			t.Errorf("events lack %q:\n%s", want, got)
		}
	}
}

// TestOversizeEnvRefusedAtCreate: an image whose environment no Linux
// process can be started with (3 MB, past the 2 MiB exec limit) loads, as
// docker's does, but a container of it is refused when it is created,
// naming the limit, instead of failing its start with a broken pipe.
func TestOversizeEnvRefusedAtCreate(t *testing.T) {
	home := newHome(t)
	var env []string
	for i := range 100 {
		env = append(env, fmt.Sprintf("V%d=%s", i, strings.Repeat("x", 30<<10)))
	}
	layer, err := random.Layer(512, ggcrtypes.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Config.Env, cf.Config.Cmd = "linux", goruntime.GOARCH, env, []string{"true"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "bigenv.tar")
	if err := tarball.WriteToFile(archive, name.MustParseReference("local/bigenv:1"), img); err != nil {
		t.Fatal(err)
	}
	mustRun(t, home, "image", "load", "-i", archive)
	r := berth(t, home, "create", "local/bigenv:1")
	if r.code == 0 || !strings.Contains(r.stderr, "more than the 2097152 (2 MiB) Linux lets a process start with") {
		t.Fatalf("create with a 3 MB environment: exit %d\n%s", r.code, r.stderr)
	}
	if n := len(listAll(t, home)); n != 0 {
		t.Fatalf("%d containers after the refused create", n)
	}
}

// TestRunRmStartFailureLeavesNothing: run --rm of a container that cannot
// start (its kernel is missing) removes it, in the foreground and with -d.
func TestRunRmStartFailureLeavesNothing(t *testing.T) {
	home := newHome(t)
	missing := filepath.Join(t.TempDir(), "no-such-kernel")
	for _, args := range [][]string{
		{"run", "--rm", "--kernel", missing, "berth/demo", "true"},
		{"run", "-d", "--rm", "--kernel", missing, "berth/demo", "true"},
	} {
		if r := berth(t, home, args...); r.code != 125 || !strings.Contains(r.stderr, missing) {
			t.Fatalf("berth %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
		}
		if n := len(listAll(t, home)); n != 0 {
			t.Fatalf("berth %s left %d containers", strings.Join(args, " "), n)
		}
	}
}

// --log-opt bounds the container's log as docker's json-file does, and
// logs reads across the rotated files.
func TestLogOpts(t *testing.T) {
	home := vmHome(t)
	mustRun(t, home, run("--name", "chatty", "--log-opt", "max-size=10k", "--log-opt", "max-file=2",
		"berth/demo", "sh", "-c", `i=0; while [ $i -lt 3000 ]; do echo "line $i of a chatty container"; i=$((i+1)); done`)...)
	c := inspect(t, home, "chatty")
	var objs []types.ContainerJSON
	if err := json.Unmarshal([]byte(mustRun(t, home, "inspect", "chatty")), &objs); err != nil || len(objs) != 1 {
		t.Fatalf("inspect: %v", err)
	}
	if lc := objs[0].HostConfig.LogConfig; lc.Type != "json-file" || lc.Config["max-size"] != "10000" || lc.Config["max-file"] != "2" {
		t.Fatalf("inspect: LogConfig %+v", lc)
	}
	for _, f := range []string{c.LogPath, c.LogPath + ".1"} {
		st, err := os.Stat(f)
		if err != nil || st.Size() > 10_000 {
			t.Fatalf("%s: %v, %v; want at most 10k", filepath.Base(f), st, err)
		}
	}
	if _, err := os.Stat(c.LogPath + ".2"); !os.IsNotExist(err) {
		t.Fatalf("a third log file with max-file 2: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(mustRun(t, home, "logs", "chatty")), "\n")
	first := 0
	if len(lines) < 100 || !strings.HasSuffix(lines[len(lines)-1], "line 2999 of a chatty container") {
		t.Fatalf("logs: %d lines, the last %q", len(lines), lines[len(lines)-1])
	}
	fmt.Sscanf(lines[0], "line %d ", &first)
	for i, l := range lines {
		if want := fmt.Sprintf("line %d of a chatty container", first+i); l != want {
			t.Fatalf("logs line %d = %q, want %q (across the rotated files, in order)", i, l, want)
		}
	}
	if tail := mustRun(t, home, "logs", "-n", "2", "chatty"); tail != "line 2998 of a chatty container\nline 2999 of a chatty container\n" {
		t.Fatalf("logs -n 2: %q", tail)
	}
}
