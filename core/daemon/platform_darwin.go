//go:build darwin

package daemon

import (
	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/hypervisor/vz"
	"github.com/berthvm/berth/core/kernel"
	"github.com/berthvm/berth/core/runtime"
)

// platform picks the VM backend and the kernel source for macOS: the
// Virtualization framework (one berth vm-host process per VM) and the
// pinned Debian arm64 kernel, downloaded on first use (platformKernel).
func platform(caps api.Capabilities, home string) (hypervisor.Driver, runtime.Kernels, error) {
	pin, groups, _ := platformKernel()
	return vz.New(vz.WithCapabilities(caps)), runtime.LocalKernels{Pin: &pin, Groups: groups}, nil
}

// platformKernel is how macOS gets its default guest kernel: a pinned
// download, cut to the modules the backend's devices need.
var platformKernel = func() (kernel.Pin, []kernel.ModuleGroup, bool) {
	return kernel.MacKernel, vz.Info().ModuleGroups, true
}
