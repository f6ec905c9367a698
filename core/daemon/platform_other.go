//go:build !linux && !darwin

package daemon

import (
	"fmt"
	"runtime"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/kernel"
	berthruntime "github.com/berthvm/berth/core/runtime"
)

// platform: Berth runs VMs on Linux (QEMU) and macOS (Virtualization
// framework) only.
func platform(api.Capabilities, string) (hypervisor.Driver, berthruntime.Kernels, error) {
	return nil, nil, fmt.Errorf("berth has no VM backend for %s: %w", runtime.GOOS, api.ErrUnsupported)
}

// platformKernel: no default guest kernel here.
var platformKernel = func() (kernel.Pin, []kernel.ModuleGroup, bool) { return kernel.Pin{}, nil, false }
