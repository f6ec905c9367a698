package qemu

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/hypervisor/hvtest"
	"github.com/berthvm/berth/core/internal/testenv"
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "berth-qemu-test-")
	if err != nil {
		panic(err)
	}
	hvtest.SetWorkDir(dir)
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

// qemuProcesses lists running QEMUs started by these tests (named berth-*).
func qemuProcesses(t *testing.T) []string {
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 2 && strings.Contains(args[0], "qemu-system") && args[1] == "-name" && strings.HasPrefix(args[2], "berth-") {
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
