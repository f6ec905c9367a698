//go:build darwin

package vz

// The real Virtualization framework, on a Mac. Nothing here has run on
// the Linux machines Berth is developed on: it is type-checked there
// (make darwin-check). Creating VMs needs the virtualization entitlement,
// which a plain `go test` binary lacks: TestMain runs the tests from a
// copy of the test binary signed with it (testenv.MainWithEntitlement), so
//
//	go test -run Darwin -v ./core/hypervisor/vz
//
// works as is. The first run downloads the pinned kernel (57 MiB) into the
// kernel cache and builds the arm64 agent with the Go toolchain.

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/agent"
	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/capabilities"
	"github.com/berthvm/berth/core/guestabi"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/hypervisor/hvtest"
	"github.com/berthvm/berth/core/kernel"
	"github.com/berthvm/berth/core/testenv"
)

func TestMain(m *testing.M) {
	// VM host processes are this binary (WithHelper(os.Args[0])): the
	// signed copy once MainWithEntitlement has made it.
	if len(os.Args) > 1 && os.Args[1] == HostArg {
		os.Exit(HostMain(os.Args[2:], newPlatformVM))
	}
	os.Exit(testenv.MainWithEntitlement(m))
}

type darwinGuest struct {
	kernel kernel.Kernel
	initrd string
	caps   api.Capabilities
}

func darwinSetup(t *testing.T) darwinGuest {
	t.Helper()
	if runtime.GOARCH != "arm64" {
		t.Skip("the pinned guest kernel is arm64: Apple silicon only")
	}
	testenv.RequireEntitlement(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir, err := kernel.Dir()
	if err != nil {
		t.Fatal(err)
	}
	k, err := kernel.ProvisionPinned(ctx, dir, kernel.MacKernel, kernel.VZModuleGroups, func(p api.Progress) {
		if p.Done {
			t.Logf("kernel: %s done %s", p.Action, p.Message)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	agentBin, err := hvtest.BuildAgent(ctx, hypervisor.ARM64, work)
	if err != nil {
		t.Fatal(err)
	}
	initrd, err := kernel.BuildInitramfs(ctx, kernel.InitramfsOptions{Kernel: k, Agent: agentBin,
		Groups: kernel.VZModuleGroups, CacheDir: filepath.Join(work, "initramfs")})
	if err != nil {
		t.Fatal(err)
	}
	return darwinGuest{kernel: k, initrd: initrd, caps: capabilities.Probe(ctx)}
}

// shortDir is a run directory whose socket paths fit in 104 bytes
// (t.TempDir() under /var/folders is too deep).
func shortDir(t *testing.T) string {
	d, err := os.MkdirTemp("", "vz")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return filepath.Join(d, "run")
}

func (g darwinGuest) config(t *testing.T, id string) hypervisor.VMConfig {
	return hypervisor.VMConfig{ID: id, Arch: hypervisor.ARM64, CPUs: 2, MemoryMiB: 512,
		Kernel: g.kernel.Path, Initrd: g.initrd, RunDir: shortDir(t),
		ConsoleLog: filepath.Join(t.TempDir(), "console.log")}
}

func TestDarwinBootAgentAndPowerKey(t *testing.T) {
	g := darwinSetup(t)
	d := New(WithCapabilities(g.caps), WithHelper(os.Args[0]))
	cfg := g.config(t, "smoke")
	m, c := hvtest.Boot(t, d, cfg)
	info := c.Info()
	if info.Kernel != g.kernel.Release || info.Arch != "arm64" {
		t.Fatalf("guest %+v, want kernel %s on arm64", info, g.kernel.Release)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hvtest.Timeout)
	defer cancel()
	if err := c.CreateContainer(ctx, proto.ContainerConfig{ID: "c", Rootfs: "/"}); err != nil {
		t.Fatal(err)
	}
	p, err := c.Start(ctx, "c", "main", proto.ProcessSpec{Args: []string{"/init", "-h"}}, agent.Stdio{Stderr: true})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := hvtest.Collect(ctx, p, ""); err != nil || !strings.Contains(r.Stderr, "must run as PID 1") {
		t.Fatalf("process in the guest: %+v, %v", r, err)
	}
	// Adopted by another driver, as a restarted core would.
	m2, err := New(WithCapabilities(g.caps), WithHelper(os.Args[0])).Adopt(ctx, m.Handle())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	// RequestStop: the PL061 power key, which the agent answers by
	// powering off (wait for gpio-keys to be watched: it loads after the
	// first process started).
	time.Sleep(2 * time.Second)
	if err := m2.Stop(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := m2.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(cfg.ConsoleLog)
	if !strings.Contains(string(b), guestabi.PowerOffMarker) {
		t.Errorf("the guest did not power off by itself after RequestStop; console:\n%s", b)
	}
	if err := m.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestDarwinRosettaAndNested(t *testing.T) {
	g := darwinSetup(t)
	d := New(WithCapabilities(g.caps), WithHelper(os.Args[0]))
	cfg := g.config(t, "features")
	cfg.Rosetta, cfg.Nested = g.caps.Rosetta, g.caps.NestedVirtualization
	if !cfg.Rosetta && !cfg.Nested {
		t.Skipf("this Mac has neither Rosetta (%s) nor nested virtualization (%s)", g.caps.RosettaReason, g.caps.NestedVirtualizationReason)
	}
	m, c := hvtest.Boot(t, d, cfg)
	if cfg.Rosetta && !c.Info().Has(proto.FeatureX86) {
		b, _ := os.ReadFile(cfg.ConsoleLog)
		t.Errorf("Rosetta shared but the agent did not register it; console:\n%s", b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hvtest.Timeout)
	defer cancel()
	if err := hypervisor.Shutdown(ctx, m, c, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := m.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestDarwinRefusals(t *testing.T) {
	g := darwinSetup(t)
	d := New(WithCapabilities(g.caps), WithHelper(os.Args[0]))
	cfg := g.config(t, "big")
	cfg.CPUs = int(d.Host().Limits.MaxCPUs) + 1
	if _, err := d.Start(context.Background(), cfg); !errors.Is(err, api.ErrInvalidArgument) {
		t.Fatalf("too many CPUs: %v", err)
	}
	if !g.caps.NestedVirtualization {
		cfg = g.config(t, "nested")
		cfg.Nested = true
		_, err := d.Start(context.Background(), cfg)
		if !errors.Is(err, api.ErrUnsupported) || !strings.Contains(err.Error(), "M3") {
			t.Fatalf("nested on this Mac: %v", err)
		}
	}
}

func TestDarwinCrash(t *testing.T) {
	g := darwinSetup(t)
	d := New(WithCapabilities(g.caps), WithHelper(os.Args[0]))
	cfg := g.config(t, "crash")
	cfg.Cmdline = []string{"rdinit=/no-such-init"}
	m, err := d.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hvtest.Timeout)
	defer cancel()
	var ee *hypervisor.ExitError
	if err := m.Wait(ctx); !errors.As(err, &ee) {
		t.Fatalf("Wait = %v, want a crash", err)
	}
	t.Logf("crash reported as: %v", ee)
}
