package daemon

import (
	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/hypervisor/qemu"
	"github.com/berthvm/berth/core/kernel"
	"github.com/berthvm/berth/core/runtime"
)

// platform picks the VM backend and the kernel source for this OS: QEMU
// (KVM or TCG, as the capability probe decided) and Debian's kernels from
// the kernel cache that make deps fills.
func platform(caps api.Capabilities, home string) (hypervisor.Driver, runtime.Kernels, error) {
	d := qemu.New(qemu.WithHost(qemu.HostFrom(caps)))
	return d, runtime.LocalKernels{Groups: d.Info().ModuleGroups}, nil
}

// platformKernel: Linux's default guest kernel is Debian's through apt
// (make deps), not a pinned download.
var platformKernel = func() (kernel.Pin, []kernel.ModuleGroup, bool) { return kernel.Pin{}, nil, false }
