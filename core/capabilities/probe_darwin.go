//go:build darwin

package capabilities

import (
	"context"
	"fmt"

	"github.com/berthvm/berth/core/api"
	"golang.org/x/sys/unix"
)

// probe reads sysctl for the chip and OS, then asks the Virtualization
// framework (vzfacts_darwin.go) what it supports. The decisions are in
// decide.go.
func probe(ctx context.Context) api.Capabilities {
	c := api.Capabilities{Hypervisor: "vz", Accelerator: AccelHVF, OSName: "macOS",
		AcceleratorReason: "Apple Virtualization framework"}
	if s, err := unix.Sysctl("machdep.cpu.brand_string"); err == nil {
		c.CPUModel = s
		c.AppleChip, c.AppleChipGeneration = ParseAppleChip(s)
	} else {
		c.Problems = append(c.Problems, fmt.Sprintf("sysctl machdep.cpu.brand_string: %v", err))
	}
	var ver Version
	if s, err := unix.Sysctl("kern.osproductversion"); err == nil {
		c.OSVersion = s
		if ver, err = ParseVersion(s); err != nil {
			c.Problems = append(c.Problems, err.Error())
		}
	} else {
		c.Problems = append(c.Problems, fmt.Sprintf("sysctl kern.osproductversion: %v", err))
	}
	if s, err := unix.Sysctl("kern.osrelease"); err == nil {
		c.Kernel = s
	}
	if n, err := unix.SysctlUint64("hw.memsize"); err == nil {
		c.MemoryMiB = int(n >> 20)
	}
	if n, err := unix.SysctlUint32("hw.ncpu"); err == nil {
		c.CPUs = int(n)
	}
	c.NestedVirtualization, c.NestedVirtualizationReason = MacNested(MacFacts{
		Chip: c.AppleChip, Generation: c.AppleChipGeneration, OSVersion: ver,
		VZSupported: vzNestedSupported(),
	})
	c.Rosetta, c.RosettaReason = MacRosetta(runtimeArch(), vzRosettaState())
	return c
}
