//go:build darwin

package capabilities

import (
	"context"
	"fmt"
	"os"
	"runtime"

	"github.com/berthvm/berth/core/api"
	"golang.org/x/sys/unix"
)

// probe reads sysctl for the chip, the OS and the build, the running
// executable for the SDK it was linked against, then asks the
// Virtualization framework (vzfacts_darwin.go) what it supports. The
// decisions are in decide.go and macos.go.
func probe(ctx context.Context) api.Capabilities {
	c := api.Capabilities{Hypervisor: "vz", Accelerator: AccelHVF, OSName: "macOS",
		AcceleratorReason: "Apple Virtualization framework"}
	if s, err := unix.Sysctl("machdep.cpu.brand_string"); err == nil {
		c.CPUModel = s
		c.AppleChip, c.AppleChipGeneration = ParseAppleChip(s)
	} else {
		c.Problems = append(c.Problems, fmt.Sprintf("sysctl machdep.cpu.brand_string: %v", err))
	}
	product, perr := unix.Sysctl("kern.osproductversion")
	if perr != nil {
		c.Problems = append(c.Problems, fmt.Sprintf("sysctl kern.osproductversion: %v", perr))
	}
	if s, err := unix.Sysctl("kern.osrelease"); err == nil {
		c.Kernel = s
	}
	ver, err := MacOSVersion(product, c.Kernel)
	if err != nil {
		c.Problems = append(c.Problems, err.Error())
		c.OSVersion = product
	} else {
		c.OSVersion = ver.String()
	}
	if n, err := unix.SysctlUint64("hw.memsize"); err == nil {
		c.MemoryMiB = int(n >> 20)
	}
	if n, err := unix.SysctlUint32("hw.ncpu"); err == nil {
		c.CPUs = int(n)
	}
	// Both are absent on some Intel Macs: absent reads as no.
	translated, _ := unix.SysctlUint32("sysctl.proc_translated")
	arm64, _ := unix.SysctlUint32("hw.optional.arm64")
	if ok, reason := MacBuild(MacBuildFacts{Arch: runtimeArch(), Translated: translated == 1, AppleSilicon: arm64 == 1}); !ok {
		c.Unsupported = reason
	}
	var sdk Version
	if exe, err := os.Executable(); err == nil {
		if sdk, err = ReadMachOSDK(exe, runtime.GOARCH); err == nil {
			c.BuildSDK = sdk.String()
			if w := MacSDKProblem(sdk); w != "" {
				c.Problems = append(c.Problems, w)
			}
		}
	}
	c.NestedVirtualization, c.NestedVirtualizationReason = MacNested(MacFacts{
		Chip: c.AppleChip, Generation: c.AppleChipGeneration, OSVersion: ver,
		VZSupported: vzNestedSupported(), BuildSDK: sdk,
	})
	c.Rosetta, c.RosettaReason = MacRosetta(runtimeArch(), vzRosettaState())
	return c
}
