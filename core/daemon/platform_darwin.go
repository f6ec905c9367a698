//go:build darwin

package daemon

import (
	"fmt"
	"runtime"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/hypervisor"
	berthruntime "github.com/berthvm/berth/core/runtime"
)

// platform is replaced by the Virtualization framework backend
// (core/hypervisor/vz) when it lands; until then macOS reports plainly
// that it cannot run containers.
func platform(api.Capabilities, string) (hypervisor.Driver, berthruntime.Kernels, error) {
	return nil, nil, fmt.Errorf("berth has no VM backend for %s: %w", runtime.GOOS, api.ErrUnsupported)
}
