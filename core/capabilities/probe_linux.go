package capabilities

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/berthvm/berth/core/api"
	"golang.org/x/sys/unix"
)

func probe(ctx context.Context) api.Capabilities {
	c := probeLinux("/", runtime.GOARCH)
	var uts unix.Utsname
	if err := unix.Uname(&uts); err == nil {
		c.Kernel = unix.ByteSliceToString(uts.Release[:])
	}
	return c
}

// probeLinux reads the host's facts below root ("/" in production, a fake
// tree in tests).
func probeLinux(root, arch string) api.Capabilities {
	c := api.Capabilities{Hypervisor: "qemu", Rosetta: false, RosettaReason: "Rosetta is a macOS feature"}
	read := func(p string) (string, bool) {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			if !os.IsNotExist(err) {
				c.Problems = append(c.Problems, fmt.Sprintf("read %s: %v", p, err))
			}
			return "", false
		}
		return string(b), true
	}
	if text, ok := read("proc/cpuinfo"); ok {
		ci := ParseCPUInfo(text)
		c.CPUModel = ci.Model
		c.CPUMHz = ci.MHz
		c.CPUs = strings.Count(text, "\nprocessor") + btoi(strings.HasPrefix(text, "processor"))
	}
	if text, ok := read("proc/meminfo"); ok {
		c.MemoryMiB = ParseMemInfo(text)
	}
	if text, ok := read("etc/os-release"); ok {
		c.OSName, c.OSVersion = ParseOSRelease(text)
	}

	f := LinuxKVMFacts{Arch: arch, Modules: map[string]bool{}}
	for _, m := range []string{"kvm", "kvm_intel", "kvm_amd", "kvm_pvm"} {
		if _, err := os.Stat(filepath.Join(root, "sys/module", m)); err == nil {
			f.Modules[m] = true
		}
	}
	dev := filepath.Join(root, "dev/kvm")
	if _, err := os.Stat(dev); err == nil {
		f.DevKVM = true
		if fh, err := os.OpenFile(dev, os.O_RDWR, 0); err == nil {
			f.DevKVMUsable = true
			fh.Close()
		}
	}
	for _, m := range []string{"kvm_intel", "kvm_amd"} {
		if v, ok := read(filepath.Join("sys/module", m, "parameters/nested")); ok {
			v = strings.TrimSpace(v)
			f.Nested = f.Nested || v == "Y" || v == "1"
		}
	}
	c.KVM = KVMKind(f)
	c.Accelerator, c.AcceleratorReason = LinuxAccelerator(f)
	c.NestedVirtualization, c.NestedVirtualizationReason = LinuxNested(f)
	return c
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
