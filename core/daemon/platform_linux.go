package daemon

import (
	"fmt"
	"os"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/hypervisor/qemu"
	"github.com/berthvm/berth/core/kernel"
	"github.com/berthvm/berth/core/runtime"
)

// ShareCacheVar sets how long a container may trust what it read of a
// bind mount (virtiofsd's cache mode): auto (the default: the host's
// changes show within a second), always (faster reads; the host's
// changes may not show until the file is reopened), none.
const ShareCacheVar = "BERTH_SHARE_CACHE"

// platform picks the VM backend and the kernel source for this OS: QEMU
// (KVM or TCG, as the capability probe decided) and Debian's kernels from
// the kernel cache that make deps fills.
func platform(caps api.Capabilities, home string) (hypervisor.Driver, runtime.Kernels, error) {
	opts := []qemu.Option{qemu.WithHost(qemu.HostFrom(caps))}
	if c := os.Getenv(ShareCacheVar); c != "" {
		switch mode := qemu.ShareCache(c); mode {
		case qemu.CacheAuto, qemu.CacheAlways, qemu.CacheNone:
			opts = append(opts, qemu.WithShareCache(mode))
		default:
			return nil, nil, fmt.Errorf("%s=%q: want auto, always or none: %w", ShareCacheVar, c, api.ErrInvalidArgument)
		}
	}
	d := qemu.New(opts...)
	return d, runtime.LocalKernels{Groups: d.Info().ModuleGroups}, nil
}

// platformKernel: Linux's default guest kernel is Debian's through apt
// (make deps), not a pinned download.
var platformKernel = func() (kernel.Pin, []kernel.ModuleGroup, bool) { return kernel.Pin{}, nil, false }
