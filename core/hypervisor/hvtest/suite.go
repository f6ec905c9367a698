package hvtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berthvm/berth/core/agent"
	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/hypervisor"
)

// Env is a backend under test.
type Env struct {
	Driver hypervisor.Driver
	// NewDriver returns an independent driver, as a restarted core would
	// have, for re-adoption.
	NewDriver func() hypervisor.Driver
	Arch      hypervisor.Arch
	// Fixtures are what the VMs boot; default Get(t, Arch).
	Fixtures *Fixtures
	// Subset runs only the process checks (slow emulated guests).
	Subset bool
	// Network, if set, is attached to the process VM; the guest gets
	// 10.0.2.15/24 via 10.0.2.2 on it. Another VM then gets the same by
	// DHCP (RunDHCP), in Subset mode too.
	Network *hypervisor.Network
	CPUs    int
	MemMiB  int
}

func (e Env) fixtures(t *testing.T) *Fixtures {
	if e.Fixtures != nil {
		return e.Fixtures
	}
	return Get(t, e.Arch)
}

// Timeout bounds one boot or call; TCG guests on a loaded machine are slow.
const Timeout = 90 * time.Second

func (e Env) config(t *testing.T, f *Fixtures, id string, disks ...hypervisor.Disk) hypervisor.VMConfig {
	cpus, mem := e.CPUs, e.MemMiB
	if cpus == 0 {
		cpus = 1
	}
	if mem == 0 {
		mem = 256
	}
	return hypervisor.VMConfig{
		ID: id, Arch: e.Arch, CPUs: cpus, MemoryMiB: mem,
		Kernel: f.Kernel.Path, Initrd: f.Initrd, Disks: disks,
		RunDir: filepath.Join(t.TempDir(), "run"),
	}
}

func timeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	t.Cleanup(cancel)
	return ctx
}

// Boot starts cfg and connects to its agent; the VM is killed at cleanup
// if the test left it running.
func Boot(t *testing.T, d hypervisor.Driver, cfg hypervisor.VMConfig) (hypervisor.Machine, *agent.Client) {
	t.Helper()
	ctx := timeout(t)
	m, err := d.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if m.State() == hypervisor.Running {
			_ = m.Kill()
		}
	})
	c, err := Connect(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	return m, c
}

// Connect dials the agent and opens a session; a VM that ends first
// fails it at once, with how it ended (as the runtime's boot does).
func Connect(ctx context.Context, m hypervisor.Machine) (*agent.Client, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ended := make(chan error, 1)
	go func() { ended <- m.Wait(ctx) }()
	type result struct {
		c   *agent.Client
		err error
	}
	got := make(chan result, 1)
	go func() {
		c, err := agent.Connect(ctx, func(ctx context.Context) (io.ReadWriteCloser, error) { return m.DialAgent(ctx) })
		got <- result{c, err}
	}()
	select {
	case r := <-got:
		return r.c, r.err
	case err := <-ended:
		if ctx.Err() != nil {
			r := <-got
			return r.c, r.err
		}
		cancel()
		if r := <-got; r.c != nil {
			r.c.Close()
		}
		if err == nil {
			err = errors.New("it powered off")
		}
		return nil, fmt.Errorf("VM %s ended before its agent answered: %w", m.ID(), err)
	}
}

// Result is a finished process.
type Result struct {
	Stdout, Stderr string
	Exit           proto.ExitStatus
}

// Collect feeds stdin, reads both outputs to the end and waits.
func Collect(ctx context.Context, p *agent.Process, stdin string) (Result, error) {
	if p.Stdin != nil {
		go func() {
			_, _ = io.WriteString(p.Stdin, stdin)
			p.Stdin.Close()
		}()
	}
	var out, errb bytes.Buffer
	var wg sync.WaitGroup
	for _, s := range []struct {
		r io.Reader
		w *bytes.Buffer
	}{{p.Stdout, &out}, {p.Stderr, &errb}} {
		if s.r != nil {
			wg.Add(1)
			go func() { defer wg.Done(); _, _ = io.Copy(s.w, s.r) }()
		}
	}
	st, err := p.Wait(ctx)
	wg.Wait()
	return Result{out.String(), errb.String(), st}, err
}

func sh(script string) proto.ProcessSpec {
	return proto.ProcessSpec{Args: []string{"sh", "-c", script}, Env: []string{"PATH=/bin"}}
}

func run(t *testing.T, c *agent.Client, container, id string, spec proto.ProcessSpec, stdin string) Result {
	t.Helper()
	ctx := timeout(t)
	p, err := c.Exec(ctx, container, id, spec, agent.Stdio{Stdin: stdin != "", Stdout: true, Stderr: true})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Collect(ctx, p, stdin)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Run runs the conformance suite against env.
func Run(t *testing.T, env Env) {
	f := env.fixtures(t)
	t.Run("processes", func(t *testing.T) { testProcesses(t, env, f) })
	if env.Network != nil {
		t.Run("network by DHCP", func(t *testing.T) { RunDHCP(t, env) })
	}
	if env.Subset {
		return
	}
	t.Run("shares", func(t *testing.T) { RunShares(t, env) })
	t.Run("writable layer survives a restart", func(t *testing.T) { testRestart(t, env, f) })
	t.Run("crash is reported with the console", func(t *testing.T) { testCrash(t, env, f) })
	t.Run("adopt", func(t *testing.T) { testAdopt(t, env, f) })
}

func testProcesses(t *testing.T, env Env, f *Fixtures) {
	upper := filepath.Join(t.TempDir(), "upper.ext4")
	if err := MakeExt4(upper, 128, ""); err != nil {
		t.Fatal(err)
	}
	cfg := env.config(t, f, "procs", hypervisor.Disk{ID: "base", Path: f.BaseDisk, ReadOnly: true},
		hypervisor.Disk{ID: "upper", Path: upper})
	if env.Network != nil {
		cfg.Networks = []hypervisor.Network{*env.Network}
	}
	m, c := Boot(t, env.Driver, cfg)
	ctx := timeout(t)

	info := c.Info()
	var host unix.Utsname
	_ = unix.Uname(&host)
	hostRelease := unix.ByteSliceToString(host.Release[:])
	if f.Kernel.Release != "" && info.Kernel != f.Kernel.Release {
		t.Errorf("guest kernel %q, want %q", info.Kernel, f.Kernel.Release)
	}
	if info.Arch != string(env.Arch) {
		t.Errorf("agent arch %q, want %q", info.Arch, env.Arch)
	}
	if err := c.SetTime(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	if env.Network != nil {
		nc := proto.NetworkConfig{Interfaces: []proto.Interface{{MAC: env.Network.MAC, Address: "10.0.2.15/24"}}, Gateway: "10.0.2.2"}
		start := time.Now()
		if err := c.ConfigureNetwork(ctx, nc); err != nil {
			t.Fatal(err)
		}
		t.Logf("static network configured in %v", time.Since(start).Round(time.Millisecond))
	}
	cc := proto.ContainerConfig{ID: "c", Base: proto.Device{Serial: "base"}, Upper: proto.Device{Serial: "upper"},
		Hostname: "berth-test", DNS: &proto.DNS{Servers: []string{"10.0.2.3"}}}
	if err := c.CreateContainer(ctx, cc); err != nil {
		t.Fatal(err)
	}
	main, err := c.Start(ctx, "c", "main", proto.ProcessSpec{Args: []string{"sleep", "3600"}}, agent.Stdio{})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("echo", func(t *testing.T) {
		r := run(t, c, "c", "echo", proto.ProcessSpec{Args: []string{"echo", "hello", "world"}}, "")
		if r.Stdout != "hello world\n" || r.Exit != (proto.ExitStatus{}) {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("exit code", func(t *testing.T) {
		if r := run(t, c, "c", "exit3", sh("echo to stderr >&2; exit 3"), ""); r.Exit.Code != 3 || r.Stderr != "to stderr\n" {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("stdin", func(t *testing.T) {
		in := strings.Repeat("through the pipe\n", 4000)
		if r := run(t, c, "c", "cat", proto.ProcessSpec{Args: []string{"cat"}}, in); r.Stdout != in {
			t.Fatalf("cat gave %d bytes, want %d", len(r.Stdout), len(in))
		}
	})
	t.Run("guest kernel", func(t *testing.T) {
		r := run(t, c, "c", "uname", proto.ProcessSpec{Args: []string{"uname", "-r"}}, "")
		got := strings.TrimSpace(r.Stdout)
		if got != info.Kernel || got == hostRelease {
			t.Fatalf("uname -r = %q (guest %q, host %q)", got, info.Kernel, hostRelease)
		}
	})
	t.Run("nonexistent command", func(t *testing.T) {
		_, err := c.Exec(ctx, "c", "nope", proto.ProcessSpec{Args: []string{"no-such-command"}}, agent.AllStdio)
		if !errors.Is(err, api.ErrNotFound) || !strings.Contains(err.Error(), `"no-such-command" not found`) {
			t.Fatalf("err = %v", err)
		}
	})
	if env.Subset {
		return
	}
	t.Run("identity and user", func(t *testing.T) {
		r := run(t, c, "c", "id", proto.ProcessSpec{Args: []string{"sh", "-c", "hostname; id -u; id -G; cat /etc/resolv.conf; echo $HOME"}, User: "app"}, "")
		want := "berth-test\n1000\n1000 50\nnameserver 10.0.2.3\n/home/app\n"
		if r.Stdout != want {
			t.Fatalf("got %q, want %q", r.Stdout, want)
		}
	})
	if env.Network != nil {
		t.Run("network", func(t *testing.T) {
			r := run(t, c, "c", "ip", sh("ip -4 addr show; ip route"), "")
			if !strings.Contains(r.Stdout, "inet 10.0.2.15/24") || !strings.Contains(r.Stdout, "default via 10.0.2.2") {
				t.Fatalf("guest network:\n%s%s", r.Stdout, r.Stderr)
			}
		})
	}
	t.Run("SIGTERM reaches the process", func(t *testing.T) {
		p, err := c.Exec(ctx, "c", "trap", sh("trap 'echo got TERM; exit 42' TERM; echo ready; while :; do sleep 0.1; done"), agent.Stdio{Stdout: true})
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 6)
		if _, err := io.ReadFull(p.Stdout, buf); err != nil || string(buf) != "ready\n" {
			t.Fatalf("read %q, %v", buf, err)
		}
		if err := p.Signal(ctx, int(syscall.SIGTERM)); err != nil {
			t.Fatal(err)
		}
		r, err := Collect(ctx, p, "")
		if err != nil || r.Stdout != "got TERM\n" || r.Exit.Code != 42 {
			t.Fatalf("after SIGTERM: %+v, %v", r, err)
		}
	})
	t.Run("terminal", func(t *testing.T) {
		spec := sh("stty size; [ -t 1 ] && echo is a tty")
		spec.Terminal, spec.Size = true, &proto.WinSize{Rows: 33, Cols: 111}
		p, err := c.Exec(ctx, "c", "tty", spec, agent.Stdio{Stdout: true})
		if err != nil {
			t.Fatal(err)
		}
		r, err := Collect(ctx, p, "")
		if err != nil || !strings.Contains(r.Stdout, "33 111") || !strings.Contains(r.Stdout, "is a tty") {
			t.Fatalf("terminal: %+v, %v", r, err)
		}
	})
	t.Run("reattach after the host disconnects", func(t *testing.T) {
		p, err := c.Exec(ctx, "c", "long", sh("echo first; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo second; exit 5"), agent.Stdio{Stdout: true, Stderr: true})
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 6)
		if _, err := io.ReadFull(p.Stdout, buf); err != nil || string(buf) != "first\n" {
			t.Fatalf("read %q, %v", buf, err)
		}
		c.Close()
		c2, err := Connect(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		c = c2
		if r := run(t, c, "c", "go", proto.ProcessSpec{Args: []string{"touch", "/tmp/go"}}, ""); r.Exit.Code != 0 {
			t.Fatalf("touch: %+v", r)
		}
		p2, err := c.Attach(ctx, "c", "long", agent.Stdio{Stdout: true, Stderr: true}, false)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Collect(ctx, p2, "")
		if err != nil || r.Stdout != "second\n" || r.Exit.Code != 5 || p2.StdoutOffset != 6 {
			t.Fatalf("after reattach: %+v offset %d, %v", r, p2.StdoutOffset, err)
		}
	})
	t.Run("container main process", func(t *testing.T) {
		// A second container on the same image with a throwaway layer.
		if err := c.CreateContainer(ctx, proto.ContainerConfig{ID: "c2", Base: proto.Device{Serial: "base"}}); err != nil {
			t.Fatal(err)
		}
		p, err := c.Start(ctx, "c2", "main", proto.ProcessSpec{Args: []string{"echo", "hello"}}, agent.Stdio{Stdout: true, Stderr: true})
		if err != nil {
			t.Fatal(err)
		}
		if r, err := Collect(ctx, p, ""); err != nil || r.Stdout != "hello\n" || r.Exit.Code != 0 {
			t.Fatalf("got %+v, %v", r, err)
		}
	})
	_ = main
	if err := hypervisor.Shutdown(ctx, m, c, 30*time.Second); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := m.Wait(ctx); err != nil {
		t.Fatalf("after shutdown: %v", err)
	}
	assertGone(t, m)
}

// RunDHCP boots a VM on env.Network whose guest gets its address by
// DHCP from the NAT, as it must from vz's (macOS vmnet). QEMU's user
// networking serves DHCP too, with the addresses Network promises
// (10.0.2.15/24 via 10.0.2.2, DNS 10.0.2.3), and forwards 10.0.2.2 to the
// host's loopback, so a request to a server on the test host proves the
// leased configuration works.
func RunDHCP(t *testing.T, env Env) {
	if env.Network == nil {
		t.Fatal("hvtest.RunDHCP needs Env.Network")
	}
	f := env.fixtures(t)
	cfg := env.config(t, f, "dhcp", hypervisor.Disk{ID: "base", Path: f.BaseDisk, ReadOnly: true})
	cfg.Networks = []hypervisor.Network{*env.Network}
	m, c := Boot(t, env.Driver, cfg)
	ctx := timeout(t)
	if !c.Info().Has(proto.FeatureDHCP) {
		t.Fatalf("the agent does not announce %q: %+v", proto.FeatureDHCP, c.Info())
	}
	start := time.Now()
	st, err := c.ApplyNetwork(ctx, proto.NetworkConfig{
		Interfaces: []proto.Interface{{MAC: env.Network.MAC, Address: proto.AddressDHCP}}, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("DHCP lease in %v: %+v", time.Since(start).Round(time.Millisecond), st)
	if len(st.Interfaces) != 1 || st.Interfaces[0].Lease == nil {
		t.Fatalf("status %+v", st)
	}
	is, l := st.Interfaces[0], st.Interfaces[0].Lease
	if is.Address != "10.0.2.15/24" || !strings.EqualFold(is.MAC, env.Network.MAC) || l.Server != "10.0.2.2" || l.Router != "10.0.2.2" ||
		l.Duration <= 0 || st.Gateway != "10.0.2.2" || strings.Join(st.DNS, " ") != "10.0.2.3" {
		t.Fatalf("status %+v, lease %+v", st, *l)
	}

	// Configuring again (a host that reconnects) gets the same lease;
	// the virtio-net driver is loaded by now, so this times the DHCP
	// exchange itself.
	start = time.Now()
	again, err := c.ApplyNetwork(ctx, proto.NetworkConfig{
		Interfaces: []proto.Interface{{MAC: env.Network.MAC, Address: proto.AddressDHCP}}, Timeout: 30 * time.Second})
	if err != nil || len(again.Interfaces) != 1 || again.Interfaces[0].Address != is.Address {
		t.Fatalf("configure again: %+v, %v", again, err)
	}
	t.Logf("DHCP again in %v", time.Since(start).Round(time.Millisecond))

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "reached the host\n") }))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port

	if err := c.CreateContainer(ctx, proto.ContainerConfig{ID: "d", Base: proto.Device{Serial: "base"}, Hostname: "dhcp-test",
		DNS: &proto.DNS{Servers: st.DNS, Search: st.Search}}); err != nil {
		t.Fatal(err)
	}
	p, err := c.Start(ctx, "d", "main", sh(fmt.Sprintf("ip -4 addr show; ip route; cat /proc/net/route /etc/resolv.conf; busybox wget -q -O - http://10.0.2.2:%d/", port)),
		agent.Stdio{Stdout: true, Stderr: true})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Collect(ctx, p, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"inet 10.0.2.15/24", "default via 10.0.2.2",
		"00000000\t0202000A", // /proc/net/route: default route, gateway 10.0.2.2 (hex, little-endian)
		"nameserver 10.0.2.3", "reached the host",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Fatalf("no %q in the guest's view:\n%s%s", want, r.Stdout, r.Stderr)
		}
	}
	if err := hypervisor.Shutdown(ctx, m, c, 30*time.Second); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := m.Wait(ctx); err != nil {
		t.Fatalf("after shutdown: %v", err)
	}
	assertGone(t, m)
}

// assertGone checks the VM left nothing in its run directory.
func assertGone(t *testing.T, m hypervisor.Machine) {
	t.Helper()
	if m.State() != hypervisor.Stopped {
		t.Fatalf("VM %s still %s", m.ID(), m.State())
	}
	if _, err := os.Stat(m.Handle().RunDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("run directory %s left behind (%v)", m.Handle().RunDir, err)
	}
}

func testRestart(t *testing.T, env Env, f *Fixtures) {
	upper := filepath.Join(t.TempDir(), "upper.ext4")
	if err := MakeExt4(upper, 128, ""); err != nil {
		t.Fatal(err)
	}
	disks := []hypervisor.Disk{{ID: "base", Path: f.BaseDisk, ReadOnly: true}, {ID: "upper", Path: upper}}
	cc := proto.ContainerConfig{ID: "c", Base: proto.Device{Serial: "base"}, Upper: proto.Device{Serial: "upper"}}
	runMain := func(c *agent.Client, script string) Result {
		ctx := timeout(t)
		if err := c.CreateContainer(ctx, cc); err != nil {
			t.Fatal(err)
		}
		p, err := c.Start(ctx, "c", "main", sh(script), agent.Stdio{Stdout: true, Stderr: true})
		if err != nil {
			t.Fatal(err)
		}
		r, err := Collect(ctx, p, "")
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	m, c := Boot(t, env.Driver, env.config(t, f, "restart1", disks...))
	if r := runMain(c, "echo kept > /data/file; echo also > /etc/new"); r.Exit.Code != 0 {
		t.Fatalf("write: %+v", r)
	}
	ctx := timeout(t)
	if err := hypervisor.Shutdown(ctx, m, c, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := m.Wait(ctx); err != nil {
		t.Fatalf("first VM: %v", err)
	}

	m2, c2 := Boot(t, env.Driver, env.config(t, f, "restart2", disks...))
	if r := runMain(c2, "cat /data/file /etc/new"); r.Stdout != "kept\nalso\n" {
		t.Fatalf("after restart: %+v", r)
	}
	// No agent shutdown this time: the ACPI power button path.
	c2.Close()
	if err := m2.Stop(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := m2.Wait(ctx); err != nil {
		t.Fatalf("second VM: %v", err)
	}
	assertGone(t, m2)
}

func testCrash(t *testing.T, env Env, f *Fixtures) {
	// A kernel that finds no init panics before any module loads.
	t.Run("at boot", func(t *testing.T) {
		cfg := env.config(t, f, "crash")
		cfg.Cmdline = []string{"rdinit=/no-such-init"}
		ctx := timeout(t)
		m, err := env.Driver.Start(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m.Kill() })
		err = m.Wait(ctx)
		var ee *hypervisor.ExitError
		switch {
		case !errors.As(err, &ee) || !errors.Is(err, api.ErrUnavailable):
			t.Fatalf("Wait = %v, want an ExitError that is ErrUnavailable", err)
		case env.Driver.Info().LateConsole():
			// The console is a module: the panic is seen by no one,
			// and the report must say so rather than call it clean.
			if !strings.Contains(ee.Reason, "before its console started") {
				t.Fatalf("Wait = %v, want a VM that ended before its console started", err)
			}
		case !strings.Contains(ee.Reason, "panic") || !strings.Contains(ee.ConsoleTail, "Kernel panic"):
			t.Fatalf("Wait = %v, want a kernel panic with the console tail", err)
		}
		assertGone(t, m)
	})
	// A panic once the agent runs reaches the console on every backend.
	t.Run("while running", func(t *testing.T) {
		cfg := env.config(t, f, "crash2", hypervisor.Disk{ID: "base", Path: f.BaseDisk, ReadOnly: true})
		m, c := Boot(t, env.Driver, cfg)
		ctx := timeout(t)
		if err := c.CreateContainer(ctx, proto.ContainerConfig{ID: "c", Base: proto.Device{Serial: "base"}}); err != nil {
			t.Fatal(err)
		}
		p, err := c.Start(ctx, "c", "main", sh("echo c > /proc/sysrq-trigger"), agent.Stdio{})
		if err != nil {
			t.Fatal(err)
		}
		go func() { _, _ = p.Wait(ctx) }()
		// A crashed guest must end, not hang restarting.
		wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
		defer wcancel()
		console := m.Handle().ConsoleLog
		err = m.Wait(wctx)
		var ee *hypervisor.ExitError
		if !errors.As(err, &ee) || ee.Reason != "guest kernel panic" || !strings.Contains(ee.ConsoleTail, "Kernel panic - not syncing: sysrq triggered crash") {
			b, _ := os.ReadFile(console)
			t.Fatalf("Wait = %v, want a kernel panic with the console tail; console:\n%s", err, b)
		}
		c.Close()
		assertGone(t, m)
	})
}

func testAdopt(t *testing.T, env Env, f *Fixtures) {
	m, c := Boot(t, env.Driver, env.config(t, f, "adopt"))
	c.Close()
	ctx := timeout(t)
	h := m.Handle()
	d2 := env.NewDriver()

	// A handle whose process is gone (here: a start time that does not
	// match): not found, and what it left is cleaned up.
	stale := h
	stale.StartTime++
	stale.RunDir = filepath.Join(t.TempDir(), "stale")
	if err := os.MkdirAll(stale.RunDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := d2.Adopt(ctx, stale); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("adopting a handle with the wrong start time: %v", err)
	}
	if _, err := os.Stat(stale.RunDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale run directory not removed: %v", err)
	}

	m2, err := d2.Adopt(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Connect(ctx, m2)
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.CreateContainer(ctx, proto.ContainerConfig{ID: "c", Rootfs: "/"}); err != nil {
		t.Fatal(err)
	}
	p, err := c2.Start(ctx, "c", "main", proto.ProcessSpec{Args: []string{"/init", "-h"}}, agent.Stdio{Stdout: true, Stderr: true})
	if err != nil {
		t.Fatal(err)
	}
	// The agent refuses to run as anything but PID 1: proof that the
	// adopted VM runs our initramfs.
	if r, err := Collect(ctx, p, ""); err != nil || !strings.Contains(r.Stderr, "must run as PID 1") {
		t.Fatalf("through the adopted VM: %+v, %v", r, err)
	}
	if err := hypervisor.Shutdown(ctx, m2, c2, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := m2.Wait(ctx); err != nil {
		t.Fatalf("adopted VM: %v", err)
	}
	if err := m.Wait(ctx); err != nil {
		t.Fatalf("original handle after the adopted VM powered off: %v", err)
	}
	assertGone(t, m2)
}

// StartAndHang plays a core in a child test process: it starts the VM
// described by the JSON config with d, prints the VM's handle as JSON and
// waits to be killed (tests SIGKILL it to show the VM survives its core).
func StartAndHang(d hypervisor.Driver, cfgJSON string) {
	var cfg hypervisor.VMConfig
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	m, err := d.Start(context.Background(), cfg)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	b, _ := json.Marshal(m.Handle())
	fmt.Println(string(b))
	select {}
}
