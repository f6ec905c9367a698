package vz

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthvm/berth/core/agent"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/hypervisor/hvtest"
	"github.com/berthvm/berth/core/hypervisor/qemu"
	"github.com/berthvm/berth/core/kernel"
	"github.com/berthvm/berth/core/testenv"
)

// What the macOS build boots (the pinned Debian arm64 kernel, as the Mac
// downloads and cuts it, with the arm64 agent and the vz module groups)
// cannot run on the Framework here, so it runs under qemu-system-aarch64:
// the same guest, reached over virtio-serial instead of vsock (the agent
// picks whichever device the VM has; vz's vsock path runs in the fake-VM
// tests above and on a Mac).

// macGuest is the macOS guest: kernel, and the initramfs as shipped.
type macGuest struct {
	kernel kernel.Kernel
	agent  string
	initrd string
	dir    string
}

var (
	macOnce  sync.Once
	macFix   macGuest
	macErr   error
	macMiss  string
	fixtures string // removed by TestMain
)

// getMacGuest builds the guest once per test binary.
func getMacGuest(t *testing.T) macGuest {
	t.Helper()
	testenv.Tool(t, qemu.Binary(hypervisor.ARM64), "qemu-system-arm")
	macOnce.Do(func() {
		kdir, err := kernel.Dir()
		if err != nil {
			macErr = err
			return
		}
		k, err := kernel.LocatePinned(kdir, kernel.MacKernel)
		if err != nil {
			// Debian moved on and the pinned .deb is gone: boot the same
			// initramfs with apt's current arm64 kernel until the pin is
			// updated, rather than lose the test.
			cur, stale := kernel.PinIsStale(kdir, kernel.MacKernel)
			if !stale {
				macMiss = err.Error() + ": run make deps"
				return
			}
			if k, err = kernel.LocateIn(kdir, "arm64"); err != nil {
				macMiss = err.Error() + ": run make deps"
				return
			}
			fmt.Fprintf(os.Stderr, "macguest: the pinned kernel is not provisioned; using apt's %s (update kernel.MacKernel)\n", cur)
		}
		g := macGuest{kernel: k, dir: filepath.Join(fixtures, "mac")}
		if g.agent, macErr = hvtest.BuildAgent(context.Background(), hypervisor.ARM64, fixtures); macErr != nil {
			return
		}
		g.initrd, macErr = kernel.BuildInitramfs(context.Background(), kernel.InitramfsOptions{Kernel: k, Agent: g.agent,
			Groups: kernel.VZModuleGroups, CacheDir: filepath.Join(g.dir, "initramfs")})
		macFix = g
	})
	if macMiss != "" {
		testenv.Missing(t, macMiss)
	}
	if macErr != nil {
		t.Fatal(macErr)
	}
	return macFix
}

// withInitrd boots every VM of a driver with one initramfs.
type withInitrd struct {
	hypervisor.Driver
	initrd string
}

func (d withInitrd) Validate(cfg hypervisor.VMConfig) error {
	cfg.Initrd = d.initrd
	return d.Driver.Validate(cfg)
}

func (d withInitrd) Start(ctx context.Context, cfg hypervisor.VMConfig) (hypervisor.Machine, error) {
	cfg.Initrd = d.initrd
	return d.Driver.Start(ctx, cfg)
}

// kernelDirFor makes a kernel cache naming g's kernel as the arm64 one,
// so hvtest's fixtures boot it (with the apt cache's busybox).
func kernelDirFor(t *testing.T, g macGuest) string {
	real, _ := kernel.Dir()
	bb, err := kernel.Busybox(real, "arm64")
	if err != nil {
		testenv.Missing(t, err.Error())
	}
	dir := t.TempDir()
	for name, target := range map[string]string{"Image": g.kernel.Path, "modules": g.kernel.ModulesDir, "busybox": bb} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	m := kernel.Manifest{
		Kernels: map[string]kernel.Entry{"arm64": {Package: g.kernel.Package, Version: g.kernel.Version,
			Release: g.kernel.Release, Path: "Image", Modules: "modules"}},
		Busybox: map[string]kernel.Entry{"arm64": {Package: "busybox-static", Path: "busybox"}},
	}
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The conformance subset the QEMU backend runs for arm64, on the macOS
// guest.
func TestMacGuestConformance(t *testing.T) {
	g := getMacGuest(t)
	t.Setenv("BERTH_KERNEL_DIR", kernelDirFor(t, g))
	hvtest.SetWorkDir(filepath.Join(fixtures, "hvtest"))
	d := withInitrd{qemu.New(), g.initrd}
	// With a NIC, the suite also leases an address by DHCP, as the Mac's
	// NAT needs, on this very guest.
	hvtest.Run(t, hvtest.Env{Driver: d, NewDriver: func() hypervisor.Driver { return d }, Arch: hypervisor.ARM64, Subset: true,
		Network: &hypervisor.Network{Mode: hypervisor.NetworkNAT, MAC: "52:54:00:12:34:58"}})
}

// macBaseDisk is a small image: arm64 busybox, and amd64 busybox at
// /x86/busybox (an x86_64 binary for the interpreter test).
func macBaseDisk(t *testing.T) string {
	real, _ := kernel.Dir()
	arm, err1 := kernel.Busybox(real, "arm64")
	x86, err2 := kernel.Busybox(real, "amd64")
	if err := errors.Join(err1, err2); err != nil {
		testenv.Missing(t, err.Error())
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

func run(t *testing.T, ctx context.Context, c *agent.Client, container, id string, args ...string) (hvtest.Result, error) {
	p, err := c.Exec(ctx, container, id, agent.ProcessSpec{Args: args, Env: []string{"PATH=/bin"}}, agent.Stdio{Stdout: true, Stderr: true})
	if err != nil {
		return hvtest.Result{}, err
	}
	return hvtest.Collect(ctx, p, "")
}

// The macOS guest's own paths beyond the subset: an x86_64 binary runs
// through the interpreter the agent registers with binfmt_misc (Rosetta's
// code path, with busybox's echo standing in for Rosetta, which exists
// only on a Mac), and the power key, which is how the framework's
// RequestStop reaches a Linux guest (a PL061 GPIO key; QEMU's virt
// machine presses one too), powers the guest off cleanly.
func TestMacGuestX86AndPowerKey(t *testing.T) {
	g := getMacGuest(t)
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
	initrd, err := kernel.BuildInitramfs(context.Background(), kernel.InitramfsOptions{Kernel: g.kernel, Agent: g.agent,
		Groups: kernel.VZModuleGroups, CacheDir: filepath.Join(g.dir, "initramfs"),
		Extra: map[string][]byte{"/berth/x86/echo": interp}})
	if err != nil {
		t.Fatal(err)
	}
	base := macBaseDisk(t)
	console := filepath.Join(t.TempDir(), "console.log")
	cfg := hypervisor.VMConfig{ID: "macguest", Arch: hypervisor.ARM64, CPUs: 1, MemoryMiB: 256,
		Kernel: g.kernel.Path, Initrd: initrd, RunDir: filepath.Join(t.TempDir(), "run"), ConsoleLog: console,
		Cmdline: []string{"berth.x86-interpreter=/berth/x86/echo"},
		Disks:   []hypervisor.Disk{{ID: "base", Path: base, ReadOnly: true}}}
	m, c := hvtest.Boot(t, qemu.New(), cfg)
	ctx, cancel := context.WithTimeout(context.Background(), hvtest.Timeout)
	defer cancel()
	if !c.Info().Has(agent.FeatureX86) {
		b, _ := os.ReadFile(console)
		t.Fatalf("the agent does not announce %s; console:\n%s", agent.FeatureX86, b)
	}
	if err := c.CreateContainer(ctx, agent.ContainerConfig{ID: "c", Base: agent.Device{Serial: "base"}}); err != nil {
		t.Fatal(err)
	}
	// The container's main process waits for the power key's shutdown.
	if _, err := c.Start(ctx, "c", "main", agent.ProcessSpec{Args: []string{"sleep", "3600"}, Env: []string{"PATH=/bin"}}, agent.Stdio{}); err != nil {
		t.Fatal(err)
	}
	r, err := run(t, ctx, c, "c", "x86", "/x86/busybox", "uname", "-m")
	if err != nil || r.Stdout != "/x86/busybox uname -m\n" || r.Exit.Code != 0 {
		t.Fatalf("x86_64 binary: %+v, %v; want the interpreter to get its path and arguments", r, err)
	}

	// The power key: wait until gpio-keys is there (the agent loads its
	// module once the container has started), then press it.
	for i := 0; ; i++ {
		r, err := run(t, ctx, c, "c", fmt.Sprintf("input%d", i), "cat", "/proc/bus/input/devices")
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
	if !strings.Contains(string(b), "reboot: Power down") {
		t.Fatalf("the guest did not power itself off after the power key (it was killed); console:\n%s", b)
	}
}
