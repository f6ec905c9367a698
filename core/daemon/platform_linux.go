package daemon

import (
	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/hypervisor/qemu"
	"github.com/berthvm/berth/core/runtime"
)

// platform picks the VM backend and the kernel source for this OS: QEMU
// (KVM or TCG, as the capability probe decided) and Debian's kernels from
// the kernel cache that make deps fills.
func platform(caps api.Capabilities, home string) (hypervisor.Driver, runtime.Kernels, error) {
	return qemu.New(qemu.WithHost(qemu.HostFrom(caps))), runtime.LocalKernels{}, nil
}
