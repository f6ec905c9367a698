package vz

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthvm/berth/core/agent"
	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/hypervisor/hostproc"
	"github.com/berthvm/berth/core/hypervisor/hvtest"
)

// The test binary plays three parts: the tests; a VM host process with a
// fake VM (berth vm-host RUN_DIR, as the driver starts it); and a core
// that starts a VM and is then killed (coreEnv).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == HostArg {
		os.Exit(HostMain(os.Args[2:], newFakeVM))
	}
	if cfg := os.Getenv(coreEnv); cfg != "" {
		hvtest.StartAndHang(testDriver(), cfg)
		return
	}
	os.Exit(m.Run())
}

const coreEnv = "BERTH_VZ_TEST_CORE"

func testDriver() *Driver {
	return New(WithHost(m3Host()), WithHelper(os.Args[0]))
}

// fakeKernel is a file with an arm64 Image header, as Validate checks.
func fakeKernel(t *testing.T) string {
	b := make([]byte, 4096)
	copy(b[56:], "ARM\x64")
	p := filepath.Join(t.TempDir(), "Image")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func config(t *testing.T, id string, cmdline ...string) hypervisor.VMConfig {
	return hypervisor.VMConfig{ID: id, Arch: hypervisor.ARM64, CPUs: 1, MemoryMiB: 256,
		Kernel: fakeKernel(t), RunDir: filepath.Join(t.TempDir(), "run"), Cmdline: cmdline}
}

func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// start boots cfg and makes sure the VM is gone at the end.
func start(t *testing.T, d hypervisor.Driver, cfg hypervisor.VMConfig) hypervisor.Machine {
	t.Helper()
	m, err := d.Start(timeout(t, 20*time.Second), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Kill() })
	return m
}

func connect(t *testing.T, m hypervisor.Machine) *agent.Client {
	t.Helper()
	c, err := hvtest.Connect(timeout(t, 20*time.Second), m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// echo runs /bin/echo word as the main process of a new container (the
// fake guest's root is the test host's).
func echo(t *testing.T, c *agent.Client, word string) {
	t.Helper()
	ctx := timeout(t, 20*time.Second)
	if err := c.CreateContainer(ctx, proto.ContainerConfig{ID: "c-" + word, Rootfs: "/"}); err != nil {
		t.Fatal(err)
	}
	p, err := c.Start(ctx, "c-"+word, "main", proto.ProcessSpec{Args: []string{"/bin/echo", word}}, agent.Stdio{Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	r, err := hvtest.Collect(ctx, p, "")
	if err != nil || r.Stdout != word+"\n" || r.Exit.Code != 0 {
		t.Fatalf("echo %s: %+v, %v", word, r, err)
	}
}

// assertGone checks that the VM and its host process left nothing.
func assertGone(t *testing.T, m hypervisor.Machine) {
	t.Helper()
	if m.State() != hypervisor.Stopped {
		t.Fatalf("VM %s still %s", m.ID(), m.State())
	}
	if _, err := os.Stat(m.Handle().RunDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("run directory %s left behind (%v)", m.Handle().RunDir, err)
	}
	if _, err := hostproc.StartTime(m.Handle().PID); err == nil {
		t.Fatalf("host process %d still running", m.Handle().PID)
	}
}

func TestLifecycle(t *testing.T) {
	d := testDriver()
	cfg := config(t, "life")
	m := start(t, d, cfg)
	h := m.Handle()
	if h.Driver != "vz" || h.PID == 0 || h.StartTime == 0 || h.ControlSocket != filepath.Join(cfg.RunDir, "control.sock") {
		t.Fatalf("handle %+v", h)
	}
	var plan Plan
	b, _ := os.ReadFile(filepath.Join(cfg.RunDir, "plan.json"))
	if err := json.Unmarshal(b, &plan); err != nil || plan.ID != "life" || plan.Count(DevVsock) != 1 {
		t.Fatalf("plan.json: %+v, %v", plan, err)
	}
	c := connect(t, m)
	echo(t, c, "hello")
	// A second agent connection at the same time: vsock serves each.
	c2 := connect(t, m)
	echo(t, c2, "again")

	ctx := timeout(t, 30*time.Second)
	if err := hypervisor.Shutdown(ctx, m, c, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := m.Wait(ctx); err != nil {
		t.Fatalf("clean shutdown reported as %v", err)
	}
	assertGone(t, m)
	if _, err := m.DialAgent(ctx); !errors.Is(err, api.ErrUnavailable) {
		t.Fatalf("dial after the end: %v", err)
	}
	console, _ := os.ReadFile(cfg.RunDir + "/console.log")
	_ = console // removed with the run directory, like QEMU's
}

// Stop presses the power key: the agent shuts down and the VM powers off,
// a clean end.
func TestStopPressesThePowerKey(t *testing.T) {
	m := start(t, testDriver(), config(t, "stop"))
	_ = connect(t, m)
	ctx := timeout(t, 30*time.Second)
	begin := time.Now()
	if err := m.Stop(ctx, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := m.Wait(ctx); err != nil {
		t.Fatalf("after Stop: %v", err)
	}
	if d := time.Since(begin); d > 15*time.Second {
		t.Errorf("Stop took %v: the power key was not answered, the VM was killed", d)
	}
	assertGone(t, m)
}

// A guest that ignores the power key is stopped after the timeout; that
// is not a crash.
func TestStopFallsBackToKill(t *testing.T) {
	m := start(t, testDriver(), config(t, "stubborn", "fake.ignore-stop"))
	ctx := timeout(t, 30*time.Second)
	if err := m.Stop(ctx, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := m.Wait(ctx); err != nil {
		t.Fatalf("after a forced stop: %v", err)
	}
	assertGone(t, m)
}

func TestKill(t *testing.T) {
	m := start(t, testDriver(), config(t, "kill"))
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := m.Wait(timeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	assertGone(t, m)
	if err := m.Kill(); err != nil {
		t.Fatalf("second Kill: %v", err)
	}
}

func TestCrashes(t *testing.T) {
	cases := []struct {
		flag, reason, console string
	}{
		{"fake.panic", "guest kernel panic", "Kernel panic - not syncing: fake"},
		{"fake.panic-now", "guest kernel panic", "Kernel panic - not syncing: at once"},
		{"fake.error", "the Virtualization framework stopped the VM with an internal error", "fake: booting"},
		{"fake.exit-host", "the VM host process died (exit status 3)", "fake: booting"},
	}
	for _, tc := range cases {
		t.Run(tc.flag, func(t *testing.T) {
			m := start(t, testDriver(), config(t, "crash", tc.flag))
			err := m.Wait(timeout(t, 20*time.Second))
			var ee *hypervisor.ExitError
			if !errors.As(err, &ee) || !strings.Contains(ee.Reason, tc.reason) || !strings.Contains(ee.ConsoleTail, tc.console) {
				t.Fatalf("Wait = %v; want %q with %q in the console tail", err, tc.reason, tc.console)
			}
			if !errors.Is(err, api.ErrUnavailable) {
				t.Fatalf("a crash is not ErrUnavailable: %v", err)
			}
			assertGone(t, m)
		})
	}
}

// Only this boot's console explains the end: an earlier clean power-off
// in the same (appended) log does not hide a crash.
func TestConsoleOfThisBootOnly(t *testing.T) {
	cfg := config(t, "again", "fake.error")
	cfg.ConsoleLog = filepath.Join(t.TempDir(), "console.log")
	if err := os.WriteFile(cfg.ConsoleLog, []byte("earlier boot\nreboot: Power down\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.Cmdline = nil // a silent end this time: the framework stops without the guest
	m := start(t, testDriver(), cfg)
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = m.Wait(timeout(t, 10*time.Second))
	// The log is outside the run directory: it stays, with both boots.
	b, _ := os.ReadFile(cfg.ConsoleLog)
	if !strings.HasPrefix(string(b), "earlier boot\n") || !strings.Contains(string(b), "fake: booting") {
		t.Fatalf("console log %q: not appended", b)
	}
	if got := hostproc.Tail(cfg.ConsoleLog, int64(len("earlier boot\nreboot: Power down\n")), 4096); strings.Contains(got, "Power down") {
		t.Fatalf("tail of this boot %q", got)
	}
}

func TestStartFails(t *testing.T) {
	cfg := config(t, "bad", "fake.fail-start")
	_, err := testDriver().Start(timeout(t, 20*time.Second), cfg)
	if !errors.Is(err, api.ErrUnavailable) || !strings.Contains(err.Error(), "The memory size is too small") {
		t.Fatalf("err = %v, want the framework's reason", err)
	}
	if _, err := os.Stat(cfg.RunDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("run directory left after a failed start")
	}
}

func TestValidateFiles(t *testing.T) {
	d := testDriver()
	dir := t.TempDir()
	gz := filepath.Join(dir, "Image.gz")
	_ = os.WriteFile(gz, []byte{0x1f, 0x8b, 8, 0}, 0o644)
	cases := []struct {
		name string
		cfg  func(c *hypervisor.VMConfig)
		err  error
		msg  string
	}{
		{"compressed kernel", func(c *hypervisor.VMConfig) { c.Kernel = gz }, api.ErrInvalidArgument, "gzip-compressed; give the uncompressed Image"},
		{"missing kernel", func(c *hypervisor.VMConfig) { c.Kernel = filepath.Join(dir, "nope") }, api.ErrNotFound, "nope"},
		{"missing initramfs", func(c *hypervisor.VMConfig) { c.Initrd = filepath.Join(dir, "initrd") }, api.ErrNotFound, "initramfs"},
		{"missing disk", func(c *hypervisor.VMConfig) {
			c.Disks = []hypervisor.Disk{{ID: "base", Path: filepath.Join(dir, "base.ext4"), ReadOnly: true}}
		}, api.ErrNotFound, "disk base"},
		{"network not running", func(c *hypervisor.VMConfig) {
			c.Networks = []hypervisor.Network{{Mode: hypervisor.NetworkSocket, Socket: filepath.Join(dir, "net.sock")}}
		}, api.ErrNotFound, "is the network running?"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(t, "v")
			tc.cfg(&cfg)
			_, err := d.Start(context.Background(), cfg)
			if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %v containing %q", err, tc.err, tc.msg)
			}
			if _, serr := os.Stat(cfg.RunDir); !errors.Is(serr, os.ErrNotExist) {
				t.Fatal("a refused VM created its run directory")
			}
		})
	}
}

// The agent is dialled over vsock through the host process, which
// retries while the guest is not listening yet; when it never listens,
// the error comes at the caller's deadline with the console's tail.
func TestAgentOverVsock(t *testing.T) {
	t.Run("agent comes up late", func(t *testing.T) {
		m := start(t, testDriver(), config(t, "late", "fake.agent-delay=700ms"))
		begin := time.Now()
		c := connect(t, m)
		if d := time.Since(begin); d < 600*time.Millisecond {
			t.Errorf("connected after %v, before the agent listened", d)
		}
		if err := c.CreateContainer(timeout(t, 10*time.Second), proto.ContainerConfig{ID: "c", Rootfs: "/"}); err != nil {
			t.Fatal(err)
		}
		echo(t, c, "late")
	})
	t.Run("agent never listens", func(t *testing.T) {
		m := start(t, testDriver(), config(t, "mute", "fake.no-agent"))
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		defer cancel()
		begin := time.Now()
		_, err := m.DialAgent(ctx)
		if err == nil || !strings.Contains(err.Error(), "did not listen on vsock port 1024") ||
			!strings.Contains(err.Error(), "console tail:\nfake: booting") {
			t.Fatalf("DialAgent = %v", err)
		}
		if d := time.Since(begin); d > 1500*time.Millisecond {
			t.Errorf("the host answered after the caller's deadline (%v)", d)
		}
	})
	t.Run("the VM ends while waiting", func(t *testing.T) {
		m := start(t, testDriver(), config(t, "gone", "fake.no-agent", "fake.panic"))
		_, err := m.DialAgent(timeout(t, 10*time.Second))
		if !errors.Is(err, api.ErrUnavailable) || !strings.Contains(err.Error(), "ended") {
			t.Fatalf("DialAgent = %v", err)
		}
	})
}

// The core is SIGKILLed while its VM runs; the VM's host process survives
// and a new core re-adopts it from the persisted handle, talks to its
// agent, and sees the host process's later death as a crash.
func TestSurvivesCoreKillAndReadopts(t *testing.T) {
	cfg := config(t, "orphan")
	cfgJSON, _ := json.Marshal(cfg)
	core := exec.Command(os.Args[0], "-test.run=^$")
	core.Env = append(os.Environ(), coreEnv+"="+string(cfgJSON))
	out, err := core.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := core.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = core.Process.Kill()
		t.Fatalf("helper core: %v", err)
	}
	var h hypervisor.Handle
	if err := json.Unmarshal([]byte(line), &h); err != nil {
		_ = core.Process.Kill()
		t.Fatalf("helper core said %q", line)
	}
	t.Cleanup(func() { _ = syscall.Kill(h.PID, syscall.SIGKILL) })
	if err := core.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = core.Wait()

	ctx := timeout(t, 30*time.Second)
	// The orphan still owns its run directory: a new VM there is refused.
	if _, err := testDriver().Start(ctx, cfg); !errors.Is(err, api.ErrAlreadyExists) {
		t.Fatalf("start in a run directory in use: %v", err)
	}
	// A handle whose process is gone: not found, and its leftovers go.
	stale := h
	stale.StartTime++
	stale.RunDir = filepath.Join(t.TempDir(), "stale")
	_ = os.MkdirAll(stale.RunDir, 0o700)
	if _, err := testDriver().Adopt(ctx, stale); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("adopting a handle with the wrong start time: %v", err)
	}
	if _, err := os.Stat(stale.RunDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("stale run directory not removed")
	}
	if _, err := testDriver().Adopt(ctx, hypervisor.Handle{Driver: "qemu", ID: "x"}); !errors.Is(err, api.ErrInvalidArgument) {
		t.Fatalf("adopting a QEMU handle: %v", err)
	}

	m, err := testDriver().Adopt(ctx, h)
	if err != nil {
		t.Fatalf("re-adopt after the core was killed: %v", err)
	}
	c := connect(t, m)
	echo(t, c, "adopted")
	if err := syscall.Kill(h.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = m.Wait(ctx)
	var ee *hypervisor.ExitError
	if !errors.As(err, &ee) || !strings.Contains(ee.Reason, "host process died") || !strings.Contains(ee.ConsoleTail, "fake: booting") {
		t.Fatalf("Wait after the host process was killed = %v, want a crash report with the console tail", err)
	}
	if _, err := os.Stat(h.RunDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("run directory left behind: %v", err)
	}
}

// An adopted VM ends cleanly through the agent, like one the core started.
func TestAdoptThenShutdown(t *testing.T) {
	m := start(t, testDriver(), config(t, "adopt2"))
	m2, err := testDriver().Adopt(timeout(t, 10*time.Second), m.Handle())
	if err != nil {
		t.Fatal(err)
	}
	c := connect(t, m2)
	ctx := timeout(t, 30*time.Second)
	if err := hypervisor.Shutdown(ctx, m2, c, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := m2.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Wait(ctx); err != nil {
		t.Fatalf("the first owner's view: %v", err)
	}
	assertGone(t, m2)
}

func TestReadLineStopsAtNewline(t *testing.T) {
	a, b := net.Pipe()
	go func() { _, _ = b.Write([]byte("{\"ok\":true}\nRAW")); b.Close() }()
	line, err := readLine(a)
	if err != nil || string(line) != `{"ok":true}` {
		t.Fatalf("line %q, %v", line, err)
	}
	rest, _ := io.ReadAll(a)
	if string(rest) != "RAW" {
		t.Fatalf("rest %q: readLine read past the line", rest)
	}
}

func TestConnectDatagram(t *testing.T) {
	dir := t.TempDir()
	remote := filepath.Join(dir, "net.sock")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: remote, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := connectDatagram(filepath.Join(dir, "net0.sock"), remote)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64)
	_ = ln.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err := ln.ReadFromUnix(buf)
	if err != nil || string(buf[:n]) != "VFKT" || from == nil || from.Name != filepath.Join(dir, "net0.sock") {
		t.Fatalf("greeting %q from %v, %v", buf[:n], from, err)
	}
	// The network answers to the address it learnt: a frame comes back.
	if _, err := ln.WriteToUnix([]byte("frame"), from); err != nil {
		t.Fatal(err)
	}
	n, err = f.Read(buf)
	if err != nil || string(buf[:n]) != "frame" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	if _, err := connectDatagram(filepath.Join(dir, "net1.sock"), filepath.Join(dir, "none.sock")); !errors.Is(err, api.ErrUnavailable) ||
		!strings.Contains(err.Error(), "is the network running?") {
		t.Fatalf("no network: %v", err)
	}
}

// BenchmarkHostProcess measures what the process model adds to a boot:
// starting the host process until its VM runs, the first agent session
// through the control socket and the (fake) vsock, and a clean shutdown.
// The real framework's boot comes on top of this on a Mac.
func BenchmarkHostProcess(b *testing.B) {
	kdir := b.TempDir()
	img := make([]byte, 4096)
	copy(img[56:], "ARM\x64")
	kpath := filepath.Join(kdir, "Image")
	if err := os.WriteFile(kpath, img, 0o644); err != nil {
		b.Fatal(err)
	}
	d := testDriver()
	var start, hello, stop time.Duration
	for i := 0; i < b.N; i++ {
		cfg := hypervisor.VMConfig{ID: "bench", Arch: hypervisor.ARM64, CPUs: 1, MemoryMiB: 256, Kernel: kpath,
			RunDir: filepath.Join(b.TempDir(), "run")}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		t0 := time.Now()
		m, err := d.Start(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		c, err := hvtest.Connect(ctx, m)
		if err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if err := hypervisor.Shutdown(ctx, m, c, 10*time.Second); err != nil {
			b.Fatal(err)
		}
		if err := m.Wait(ctx); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		cancel()
		start += t1.Sub(t0)
		hello += t2.Sub(t1)
		stop += t3.Sub(t2)
	}
	n := float64(b.N)
	b.ReportMetric(float64(start.Milliseconds())/n, "ms-start")
	b.ReportMetric(float64(hello.Microseconds())/n/1000, "ms-agent-hello")
	b.ReportMetric(float64(stop.Milliseconds())/n, "ms-shutdown")
}
