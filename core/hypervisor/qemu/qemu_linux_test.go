package qemu

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"syscall"

	"github.com/berthvm/berth/core/agent"
	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/api"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/hypervisor/hvtest"
	"github.com/berthvm/berth/core/testenv"
)

func TestMain(m *testing.M) {
	if cfg := os.Getenv(helperEnv); cfg != "" {
		hvtest.StartAndHang(New(), cfg)
		return
	}
	dir, err := os.MkdirTemp("", "berth-qemu-test-")
	if err != nil {
		panic(err)
	}
	hvtest.SetWorkDir(dir)
	workDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func needQEMU(t *testing.T, arch hypervisor.Arch) {
	pkg := "qemu-system-x86"
	if arch == hypervisor.ARM64 {
		pkg = "qemu-system-arm"
	}
	testenv.Tool(t, Binary(arch), pkg)
}

// workDir holds this test binary's fixtures; its VMs boot from files in it.
var workDir string

// qemuProcesses lists running QEMUs started by these tests: named berth-*
// and booting from this binary's fixtures. Other test packages (and other
// Berth processes) run VMs on the same machine at the same time; they are
// not ours to count or kill.
func qemuProcesses(t *testing.T) []string {
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 2 && strings.Contains(args[0], "qemu-system") && args[1] == "-name" && strings.HasPrefix(args[2], "berth-") &&
			strings.Contains(string(b), workDir) {
			out = append(out, e.Name()+" "+args[2])
		}
	}
	return out
}

// noLeftovers fails the test if it leaves a QEMU running.
func noLeftovers(t *testing.T) {
	before := len(qemuProcesses(t))
	t.Cleanup(func() {
		if ps := qemuProcesses(t); len(ps) > before {
			for _, p := range ps {
				pid := strings.Fields(p)[0]
				_ = exec.Command("kill", "-9", pid).Run()
			}
			t.Errorf("QEMU processes left behind: %v", ps)
		}
	})
}

func TestConformance(t *testing.T) {
	needQEMU(t, hypervisor.AMD64)
	noLeftovers(t)
	hvtest.Run(t, hvtest.Env{
		Driver:    New(),
		NewDriver: func() hypervisor.Driver { return New() },
		Arch:      hypervisor.AMD64,
		Network:   &hypervisor.Network{Mode: hypervisor.NetworkNAT, MAC: "52:54:00:12:34:56"},
	})
}

// The agent and initramfs built for arm64 (what the macOS build ships)
// boot under qemu-system-aarch64 and pass the process checks.
func TestConformanceARM64(t *testing.T) {
	needQEMU(t, hypervisor.ARM64)
	noLeftovers(t)
	hvtest.Run(t, hvtest.Env{
		Driver:    New(),
		NewDriver: func() hypervisor.Driver { return New() },
		Arch:      hypervisor.ARM64,
		Subset:    true,
	})
}

const helperEnv = "BERTH_QEMU_TEST_START"

// The core is SIGKILLed while its VM runs; the VM survives and a new core
// re-adopts it from the persisted handle, talks to its agent, and sees
// the VM's later death (QEMU killed from outside) as a crash. The VM has
// a share: its virtiofsd survives the core too, and ends by itself once
// QEMU is gone (no core is left to end it).
func TestSurvivesCoreKillAndReadopts(t *testing.T) {
	needQEMU(t, hypervisor.AMD64)
	noLeftovers(t)
	f := hvtest.Get(t, hypervisor.AMD64)
	share := t.TempDir()
	cfg := hypervisor.VMConfig{ID: "orphan", Arch: hypervisor.AMD64, CPUs: 1, MemoryMiB: 256,
		Kernel: f.Kernel.Path, Initrd: f.Initrd, RunDir: filepath.Join(t.TempDir(), "run")}
	_, vfsErr := New().virtiofsdPath()
	if vfsErr == nil {
		cfg.Shares = []hypervisor.Share{{Tag: "orphan", Path: share}}
	}
	cfgJSON, _ := json.Marshal(cfg)
	core := exec.Command(os.Args[0], "-test.run=^$")
	core.Env = append(os.Environ(), helperEnv+"="+string(cfgJSON))
	out, err := core.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := core.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		core.Process.Kill()
		t.Fatalf("helper core: %v", err)
	}
	var h hypervisor.Handle
	if err := json.Unmarshal([]byte(line), &h); err != nil {
		core.Process.Kill()
		t.Fatalf("helper core said %q", line)
	}
	t.Cleanup(func() { syscall.Kill(h.PID, syscall.SIGKILL) })
	if err := core.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	core.Wait()
	if vfsErr == nil {
		if ps := processesNaming("source=" + share); len(ps) == 0 {
			t.Fatal("virtiofsd did not survive its core")
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), hvtest.Timeout)
	defer cancel()
	// The orphan still owns its run directory: a new VM there is refused.
	if _, err := New().Start(ctx, cfg); !errors.Is(err, api.ErrAlreadyExists) {
		t.Fatalf("start in a run directory in use: %v", err)
	}
	m, err := New().Adopt(ctx, h)
	if err != nil {
		t.Fatalf("re-adopt after the core was killed: %v", err)
	}
	c, err := hvtest.Connect(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CreateContainer(ctx, proto.ContainerConfig{ID: "c", Rootfs: "/"}); err != nil {
		t.Fatal(err)
	}
	p, err := c.Start(ctx, "c", "main", proto.ProcessSpec{Args: []string{"/init"}}, agent.Stdio{Stderr: true})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := hvtest.Collect(ctx, p, ""); err != nil || r.Exit.Code != 2 {
		t.Fatalf("process in the adopted VM: %+v, %v", r, err)
	}
	if err := syscall.Kill(h.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = m.Wait(ctx)
	var ee *hypervisor.ExitError
	if !errors.As(err, &ee) || !strings.Contains(ee.ConsoleTail, "berth agent: ready") {
		t.Fatalf("Wait after QEMU was killed = %v, want a crash report with the console tail", err)
	}
	if _, err := os.Stat(h.RunDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("run directory left behind: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); vfsErr == nil; time.Sleep(20 * time.Millisecond) {
		ps := processesNaming("source=" + share)
		if len(ps) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("virtiofsd still runs after its QEMU was killed: %v", ps)
		}
	}
}

// The console is the guest's to write: "Kernel panic" printed there by a
// process that then powers the VM off is not reported as a kernel panic
// (QEMU saw the guest power off; a panic resets it).
func TestConsolePanicTextIsNotAPanic(t *testing.T) {
	needQEMU(t, hypervisor.AMD64)
	noLeftovers(t)
	f := hvtest.Get(t, hypervisor.AMD64)
	cfg := hypervisor.VMConfig{ID: "fakepanic", Arch: hypervisor.AMD64, CPUs: 1, MemoryMiB: 256,
		Kernel: f.Kernel.Path, Initrd: f.Initrd, RunDir: filepath.Join(t.TempDir(), "run"),
		Disks: []hypervisor.Disk{{ID: "base", Path: f.BaseDisk, ReadOnly: true}}}
	m, c := hvtest.Boot(t, New(), cfg)
	ctx, cancel := context.WithTimeout(context.Background(), hvtest.Timeout)
	defer cancel()
	if err := c.CreateContainer(ctx, proto.ContainerConfig{ID: "c", Base: proto.Device{Serial: "base"}}); err != nil {
		t.Fatal(err)
	}
	p, err := c.Start(ctx, "c", "main", proto.ProcessSpec{Args: []string{"sh", "-c",
		"echo '<0>Kernel panic - not syncing: made up' > /dev/kmsg; echo o > /proc/sysrq-trigger; sleep 30"},
		Env: []string{"PATH=/bin"}}, agent.Stdio{})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = p.Wait(ctx) }()
	err = m.Wait(ctx)
	var ee *hypervisor.ExitError
	if !errors.As(err, &ee) || ee.Reason != "the VM stopped unexpectedly" || !strings.Contains(ee.ConsoleTail, "made up") {
		t.Fatalf("Wait = %v; want the VM stopped unexpectedly, not a kernel panic, with the console tail", err)
	}
	c.Close()
}
