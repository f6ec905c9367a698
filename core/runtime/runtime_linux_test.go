package runtime

// Real VMs under QEMU (TCG here): the runtime driving containers from
// create to removal, and across a restart of the manager.

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/capabilities"
	"github.com/berthvm/berth/core/events"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/hypervisor/hostproc"
	"github.com/berthvm/berth/core/hypervisor/hvtest"
	"github.com/berthvm/berth/core/hypervisor/qemu"
	"github.com/berthvm/berth/core/rootfs"
	"github.com/berthvm/berth/core/state"
	"github.com/berthvm/berth/core/testenv"
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "berth-runtime-fixtures")
	if err != nil {
		panic(err)
	}
	hvtest.SetWorkDir(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fakeImages serves one image: the busybox base disk of the fixtures.
type fakeImages struct{ img Image }

func (f fakeImages) Resolve(_ context.Context, ref string) (Image, error) {
	if ref != f.img.Ref {
		return Image{}, api.ErrNotFound
	}
	return f.img, nil
}

type fixedKernels struct{ boot BootFiles }

func (k fixedKernels) Boot(context.Context, string, string, api.ProgressFunc) (BootFiles, error) {
	return k.boot, nil
}

type templateDisks struct{ dir string }

func (d templateDisks) Create(ctx context.Context, path string) error {
	return rootfs.CreateWritable(ctx, d.dir, path, 1<<30)
}

type rig struct {
	t    *testing.T
	home string
	cfg  Config
	m    *Manager
	bus  *events.Bus
}

func newRig(t *testing.T) *rig {
	t.Helper()
	testenv.Tool(t, qemu.Binary(hypervisor.AMD64), "qemu-system-x86")
	f := hvtest.Get(t, hypervisor.AMD64)
	dir, err := os.MkdirTemp("", "brt")
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "h")
	os.MkdirAll(home, 0o700)
	db, err := state.Open(filepath.Join(home, "berth.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	caps := capabilities.Probe(context.Background())
	r := &rig{t: t, home: home, bus: events.NewBus(0)}
	r.cfg = Config{
		Home: home, DB: db, Bus: r.bus, Driver: qemu.New(qemu.WithHost(qemu.HostFrom(caps))),
		Images: fakeImages{Image{Ref: "busybox", Digest: "sha256:test", Arch: "amd64", BaseDisk: f.BaseDisk,
			Config: api.ImageConfig{Cmd: []string{"sh"}, Env: []string{"FROM_IMAGE=yes"}}}},
		Kernels: fixedKernels{BootFiles{Kernel: f.Kernel.Path, Initrd: f.Initrd}},
		Disks:   templateDisks{filepath.Join(dir, "templates")},
		Host:    caps,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	r.m, err = New(context.Background(), r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Kill whatever still runs, then check nothing leaked.
		list, _ := r.m.List(true)
		for _, c := range list {
			r.m.Remove(context.Background(), c.ID, api.RemoveOptions{Force: true})
		}
		r.m.Close()
		db.Close()
		os.RemoveAll(dir)
	})
	return r
}

func (r *rig) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	r.t.Cleanup(cancel)
	return ctx
}

func (r *rig) create(spec api.ContainerSpec) api.Container {
	r.t.Helper()
	if spec.Image == "" {
		spec.Image = "busybox"
	}
	if spec.MemoryMiB == 0 {
		spec.MemoryMiB = 256
	}
	if spec.CPUs == 0 {
		spec.CPUs = 1
	}
	c, err := r.m.Create(r.ctx(), spec)
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

// run creates, attaches, starts and waits: berth run in the foreground.
func (r *rig) run(spec api.ContainerSpec, stdin string) (api.Container, string, string) {
	r.t.Helper()
	c := r.create(spec)
	var out, errb testenv.Buffer
	opts := AttachOptions{Stdout: &out, Stderr: &errb}
	if stdin != "" {
		opts.Stdin = strings.NewReader(stdin)
	}
	wait, detach, err := r.m.Attach(c.ID, opts)
	if err != nil {
		r.t.Fatal(err)
	}
	defer detach()
	if _, err := r.m.Start(r.ctx(), c.ID, nil); err != nil {
		r.t.Fatalf("start: %v", err)
	}
	end, err := wait(r.ctx())
	if err != nil {
		r.t.Fatal(err)
	}
	return end, out.String(), errb.String()
}

func sh(script string) []string { return []string{"sh", "-c", script} }

func TestRunLifecycle(t *testing.T) {
	r := newRig(t)

	t.Run("echo, env, exit code, logs", func(t *testing.T) {
		c, out, errOut := r.run(api.ContainerSpec{Cmd: sh("echo out; echo err >&2; echo $FROM_IMAGE $HOSTNAME; exit 3")}, "")
		if c.State != api.StateExited || c.ExitCode != 3 {
			t.Fatalf("end state %s code %d (%s)", c.State, c.ExitCode, c.Error)
		}
		if out != "out\nyes "+c.ID[:12]+"\n" || errOut != "err\n" {
			t.Fatalf("stdout %q stderr %q", out, errOut)
		}
		var logged []string
		r.m.Logs(r.ctx(), c.ID, LogOptions{}, func(e LogEntry) error { logged = append(logged, e.Stream+":"+e.Log); return nil })
		if len(logged) != 3 {
			t.Fatalf("log %q", logged)
		}
	})

	t.Run("stdin", func(t *testing.T) {
		c, out, _ := r.run(api.ContainerSpec{Cmd: []string{"cat"}, OpenStdin: true}, "piped through\n")
		if c.ExitCode != 0 || out != "piped through\n" {
			t.Fatalf("code %d out %q", c.ExitCode, out)
		}
	})

	t.Run("command not found", func(t *testing.T) {
		c := r.create(api.ContainerSpec{Cmd: []string{"no-such-command"}})
		_, err := r.m.Start(r.ctx(), c.ID, nil)
		if !errors.Is(err, api.ErrCommandNotFound) || !strings.Contains(err.Error(), "no-such-command") {
			t.Fatalf("start: %v", err)
		}
		got, _ := r.m.Inspect(c.ID)
		if got.State != api.StateExited || got.ExitCode != 127 {
			t.Fatalf("after a missing command: %s %d", got.State, got.ExitCode)
		}
	})

	t.Run("auto remove", func(t *testing.T) {
		c, out, _ := r.run(api.ContainerSpec{Cmd: sh("echo bye"), AutoRemove: true}, "")
		if out != "bye\n" || c.ExitCode != 0 {
			t.Fatalf("out %q code %d", out, c.ExitCode)
		}
		// The record goes first, then the files (a crash in between
		// leaves a directory that reconcile removes): wait for both.
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, err := r.m.Inspect(c.ID)
			_, statErr := os.Stat(c.Dir)
			if errors.Is(err, api.ErrNotFound) && errors.Is(statErr, os.ErrNotExist) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("--rm container still there (inspect: %v) or its directory left (%v)", err, statErr)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

func TestStopExecPersistAndReadopt(t *testing.T) {
	r := newRig(t)
	ctx := r.ctx()
	// A service that ignores TERM, so stop must escalate to KILL.
	c := r.create(api.ContainerSpec{Cmd: sh(`trap "" TERM; echo ready; echo data > /persist; while true; do sleep 1; done`)})
	if _, err := r.m.Start(ctx, c.ID, nil); err != nil {
		t.Fatal(err)
	}

	var out testenv.Buffer
	code, err := r.m.Exec(ctx, c.ID, api.ExecSpec{Cmd: sh("echo exec $FROM_IMAGE; exit 4")}, ExecIO{Stdout: &out})
	if err != nil || code != 4 || out.String() != "exec yes\n" {
		t.Fatalf("exec: code %d err %v out %q", code, err, out.String())
	}

	// Restart the manager: the VM keeps running and is re-adopted.
	pid := mustInspect(t, r.m, c.ID).PID
	r.m.Close()
	if syscall.Kill(pid, 0) != nil {
		t.Fatal("closing the manager stopped the VM")
	}
	m2, err := New(ctx, r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.m = m2
	if got := mustInspect(t, m2, c.ID); got.State != api.StateRunning || got.PID != pid {
		t.Fatalf("after re-adoption: %s pid %d (was %d): %s", got.State, got.PID, pid, got.Error)
	}
	out = testenv.Buffer{}
	if code, err := m2.Exec(ctx, c.ID, api.ExecSpec{Cmd: []string{"cat", "/persist"}}, ExecIO{Stdout: &out}); err != nil || code != 0 || out.String() != "data\n" {
		t.Fatalf("exec after re-adoption: %d %v %q", code, err, out.String())
	}

	start := time.Now()
	got, err := m2.Stop(ctx, c.ID, time.Second, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != api.StateExited || got.ExitCode != 137 {
		t.Fatalf("stop of a TERM-ignoring process: %s %d (%s)", got.State, got.ExitCode, got.Error)
	}
	t.Logf("stop with escalation took %v", time.Since(start))
	// This test process is QEMU's parent (the first manager started
	// it): until that manager's Machine reaps it, QEMU is a zombie, which
	// kill(pid, 0) still finds. StartTime says whether it still runs.
	if _, err := hostproc.StartTime(pid); err == nil {
		t.Fatal("VM process still alive after stop")
	}

	// The file written in the first run survives into the second.
	_, err = m2.update(c.ID, func(r *state.ContainerRecord) error {
		r.Spec.Cmd = []string{"cat", "/persist"}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var out2 testenv.Buffer
	wait, detach, _ := m2.Attach(c.ID, AttachOptions{Stdout: &out2})
	defer detach()
	if _, err := m2.Start(ctx, c.ID, nil); err != nil {
		t.Fatal(err)
	}
	end, _ := wait(ctx)
	if end.ExitCode != 0 || out2.String() != "data\n" {
		t.Fatalf("second run: %d %q", end.ExitCode, out2.String())
	}
}

func TestCrashIsReported(t *testing.T) {
	r := newRig(t)
	ctx := r.ctx()
	c := r.create(api.ContainerSpec{Cmd: sh("echo up; sleep 1000")})
	if _, err := r.m.Start(ctx, c.ID, nil); err != nil {
		t.Fatal(err)
	}
	pid := mustInspect(t, r.m, c.ID).PID
	syscall.Kill(pid, syscall.SIGKILL)
	got, err := r.m.Wait(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != api.StateDead || got.ExitCode != 255 || got.Error == "" || got.ConsoleTail == "" {
		t.Fatalf("crash recorded as %s %d %q tail %d bytes", got.State, got.ExitCode, got.Error, len(got.ConsoleTail))
	}
	if err := r.m.Remove(ctx, c.ID, api.RemoveOptions{}); err != nil {
		t.Fatalf("remove dead container: %v", err)
	}
}

func mustInspect(t *testing.T, m *Manager, id string) api.Container {
	t.Helper()
	c, err := m.Inspect(id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSignalsToPID1: a container's root process signalling PID 1 (the
// agent) does not end it: the VM keeps running and the next exec works.
func TestSignalsToPID1(t *testing.T) {
	r := newRig(t)
	ctx := r.ctx()
	c := r.create(api.ContainerSpec{Cmd: sh("sleep 1000")})
	if _, err := r.m.Start(ctx, c.ID, nil); err != nil {
		t.Fatal(err)
	}
	var out testenv.Buffer
	code, err := r.m.Exec(ctx, c.ID, api.ExecSpec{Cmd: sh("kill -TERM 1; kill -INT 1; kill -HUP 1; kill -QUIT 1; kill -USR1 1; sleep 1; echo sent")},
		ExecIO{Stdout: &out})
	if err != nil || code != 0 || out.String() != "sent\n" {
		t.Fatalf("exec kill: code %d err %v out %q", code, err, out.String())
	}
	out = testenv.Buffer{}
	code, err = r.m.Exec(ctx, c.ID, api.ExecSpec{Cmd: sh("echo still here")}, ExecIO{Stdout: &out})
	if err != nil || code != 0 || out.String() != "still here\n" {
		got, _ := r.m.Inspect(c.ID)
		t.Fatalf("exec after signalling PID 1: code %d err %v out %q; container %s %q", code, err, out.String(), got.State, got.Error)
	}
	if got := mustInspect(t, r.m, c.ID); got.State != api.StateRunning {
		t.Fatalf("container %s (%q) after signalling PID 1", got.State, got.Error)
	}
}
