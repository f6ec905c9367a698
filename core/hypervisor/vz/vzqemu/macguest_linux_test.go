package vzqemu

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthvm/berth/core/agent"
	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/guestabi"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/hypervisor/hvtest"
	"github.com/berthvm/berth/core/hypervisor/qemu"
	"github.com/berthvm/berth/core/kernel"
	"github.com/berthvm/berth/core/testenv"
)

// These tests boot what the macOS build boots (the pinned Debian arm64
// kernel as the Mac downloads and cuts it, the initramfs with the arm64
// agent and kernel.VZModuleGroups, the vz plan's command line and devices)
// under qemu-system-aarch64 with the Mac's device model (see the package
// doc). What no Linux host provides: the agent is reached over a
// virtio-serial port instead of vsock (no /dev/vhost-vsock here; the vsock
// path runs in core/hypervisor/vz's fake-VM tests and on a Mac); the CPU is
// an emulated Cortex-A72 with QEMU's device tree, not Apple's; Rosetta is
// replaced by an interpreter registered the same way.

var workDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "berth-vzqemu-test-")
	if err != nil {
		panic(err)
	}
	workDir = dir
	hvtest.SetWorkDir(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	macOnce  sync.Once
	macK     kernel.Kernel
	macMiss  string
	macStale string
)

// macKernel is the macOS build's guest kernel from the kernel cache.
func macKernel(t *testing.T) kernel.Kernel {
	t.Helper()
	testenv.Tool(t, qemu.Binary(hypervisor.ARM64), "qemu-system-arm")
	macOnce.Do(func() {
		kdir, err := kernel.Dir()
		if err != nil {
			macMiss = err.Error()
			return
		}
		if macK, err = kernel.LocatePinned(kdir, kernel.MacKernel); err == nil {
			return
		}
		// Debian moved on and the pinned .deb is gone: boot the same
		// initramfs with apt's current arm64 kernel until the pin is
		// updated, rather than lose the test.
		cur, stale := kernel.PinIsStale(kdir, kernel.MacKernel)
		if !stale {
			macMiss = err.Error() + ": run make deps"
			return
		}
		if macK, err = kernel.LocateIn(kdir, "arm64"); err != nil {
			macMiss = err.Error() + ": run make deps"
			return
		}
		macStale = cur
	})
	if macMiss != "" {
		testenv.Missing(t, macMiss)
	}
	if macStale != "" {
		t.Logf("the pinned kernel is not provisioned; using apt's %s (update kernel.MacKernel)", macStale)
	}
	return macK
}

// macFixtures are the Mac's guest: its kernel and module groups.
func macFixtures(t *testing.T) *hvtest.Fixtures {
	k := macKernel(t)
	return hvtest.For(t, hvtest.Spec{Name: "mac", Arch: hypervisor.ARM64, Kernel: &k, Groups: New().Info().ModuleGroups})
}

// The conformance suite on the Mac's guest and device model: processes,
// a DHCP lease (the only way the Mac's NAT gives addresses), a writable
// layer across boots, crashes, and re-adoption.
func TestMacGuestConformance(t *testing.T) {
	f := macFixtures(t)
	hvtest.Run(t, hvtest.Env{Driver: New(), NewDriver: func() hypervisor.Driver { return New() },
		Arch: hypervisor.ARM64, Fixtures: f,
		Network: &hypervisor.Network{Mode: hypervisor.NetworkNAT, MAC: "52:54:00:12:34:58"}})
}

// The console is hvc0, which exists only once the agent has loaded
// virtio_console: what the agent says from then on must reach the
// console file, as on a Mac, where it is the only record of a boot.
func TestMacGuestConsole(t *testing.T) {
	f := macFixtures(t)
	console := filepath.Join(t.TempDir(), "console.log")
	cfg := hypervisor.VMConfig{ID: "console", Arch: hypervisor.ARM64, CPUs: 1, MemoryMiB: 256,
		Kernel: f.Kernel.Path, Initrd: f.Initrd, RunDir: filepath.Join(t.TempDir(), "run"), ConsoleLog: console}
	m, c := hvtest.Boot(t, New(), cfg)
	ctx, cancel := context.WithTimeout(context.Background(), hvtest.Timeout)
	defer cancel()
	if err := hypervisor.Shutdown(ctx, m, c, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := m.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(console)
	// The kernel's own "reboot: Power down" never reaches hvc0: it comes
	// after the devices shut down.
	for _, want := range []string{"berth agent: ready on", guestabi.PowerOffMarker} {
		if !strings.Contains(string(b), want) {
			t.Errorf("no %q on the console; it holds:\n%s", want, b)
		}
	}
}

// macBaseDisk is a small image: arm64 busybox, and amd64 busybox at
// /x86/busybox (an x86_64 binary for the interpreter test).
func macBaseDisk(t *testing.T) string {
	real, _ := kernel.Dir()
	arm, err1 := kernel.Busybox(real, "arm64")
	x86, err2 := kernel.Busybox(real, "amd64")
	for _, err := range []error{err1, err2} {
		if err != nil {
			testenv.Missing(t, err.Error())
		}
	}
	testenv.Tool(t, "mkfs.ext4", "e2fsprogs")
	root := t.TempDir()
	for p, src := range map[string]string{"bin/busybox": arm, "x86/busybox": x86} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		_ = os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755)
		if err := os.WriteFile(filepath.Join(root, p), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []string{"sh", "echo", "cat", "grep", "sleep"} {
		_ = os.Symlink("/bin/busybox", filepath.Join(root, "bin", a))
	}
	for _, d := range []string{"proc", "sys", "dev", "tmp", "run", "etc"} {
		_ = os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	out := filepath.Join(t.TempDir(), "base.ext4")
	if err := hvtest.MakeExt4(out, 32, root); err != nil {
		t.Fatal(err)
	}
	return out
}

func run(ctx context.Context, c *agent.Client, container, id string, args ...string) (hvtest.Result, error) {
	p, err := c.Exec(ctx, container, id, proto.ProcessSpec{Args: args, Env: []string{"PATH=/bin"}}, agent.Stdio{Stdout: true, Stderr: true})
	if err != nil {
		return hvtest.Result{}, err
	}
	return hvtest.Collect(ctx, p, "")
}

// The macOS guest's own paths beyond the suite: an x86_64 binary runs
// through the interpreter the agent registers with binfmt_misc (Rosetta's
// code path, with busybox's echo standing in for Rosetta, which exists
// only on a Mac), and the power key, which is how the framework's
// RequestStop reaches a Linux guest (a PL061 GPIO key; QEMU's virt
// machine has one too), powers the guest off cleanly.
func TestMacGuestX86AndPowerKey(t *testing.T) {
	f := macFixtures(t)
	real, _ := kernel.Dir()
	armBusybox, err := kernel.Busybox(real, "arm64")
	if err != nil {
		testenv.Missing(t, err.Error())
	}
	interp, err := os.ReadFile(armBusybox)
	if err != nil {
		t.Fatal(err)
	}
	// Named echo, busybox runs its echo applet: the interpreter prints
	// the arguments the kernel gives it.
	initrd, err := kernel.BuildInitramfs(context.Background(), kernel.InitramfsOptions{Kernel: f.Kernel, Agent: f.Agent,
		Groups: kernel.VZModuleGroups, CacheDir: filepath.Join(workDir, "x86-initramfs"),
		Extra: map[string][]byte{"/berth/x86/echo": interp}})
	if err != nil {
		t.Fatal(err)
	}
	base := macBaseDisk(t)
	console := filepath.Join(t.TempDir(), "console.log")
	cfg := hypervisor.VMConfig{ID: "macguest", Arch: hypervisor.ARM64, CPUs: 1, MemoryMiB: 256,
		Kernel: f.Kernel.Path, Initrd: initrd, RunDir: filepath.Join(t.TempDir(), "run"), ConsoleLog: console,
		Cmdline: []string{"berth.x86-interpreter=/berth/x86/echo"},
		Disks:   []hypervisor.Disk{{ID: "base", Path: base, ReadOnly: true}}}
	m, c := hvtest.Boot(t, New(), cfg)
	ctx, cancel := context.WithTimeout(context.Background(), hvtest.Timeout)
	defer cancel()
	if !c.Info().Has(proto.FeatureX86) {
		b, _ := os.ReadFile(console)
		t.Fatalf("the agent does not announce %s; console:\n%s", proto.FeatureX86, b)
	}
	if err := c.CreateContainer(ctx, proto.ContainerConfig{ID: "c", Base: proto.Device{Serial: "base"}}); err != nil {
		t.Fatal(err)
	}
	// The container's main process waits for the power key's shutdown.
	if _, err := c.Start(ctx, "c", "main", proto.ProcessSpec{Args: []string{"sleep", "3600"}, Env: []string{"PATH=/bin"}}, agent.Stdio{}); err != nil {
		t.Fatal(err)
	}
	r, err := run(ctx, c, "c", "x86", "/x86/busybox", "uname", "-m")
	if err != nil || r.Stdout != "/x86/busybox uname -m\n" || r.Exit.Code != 0 {
		t.Fatalf("x86_64 binary: %+v, %v; want the interpreter to get its path and arguments", r, err)
	}

	// The power key: wait until gpio-keys is there (the agent loads its
	// module once the container has started), then press it.
	for i := 0; ; i++ {
		r, err := run(ctx, c, "c", fmt.Sprintf("input%d", i), "cat", "/proc/bus/input/devices")
		if err == nil && strings.Contains(r.Stdout, "gpio-keys") {
			break
		}
		if i > 200 {
			t.Fatalf("no gpio-keys input device: %+v, %v", r, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // the agent opens the device right after it appears
	c.Close()
	if err := m.Stop(ctx, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := m.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(console)
	if !strings.Contains(string(b), guestabi.PowerOffMarker) {
		t.Fatalf("the guest did not power itself off after the power key (it was killed); console:\n%s", b)
	}
}
