package runtime

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/berthvm/berth/core/agent"
	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/kernel"
	"github.com/berthvm/berth/core/network"
	"github.com/berthvm/berth/core/state"
)

// Image is what a container needs from its image.
type Image struct {
	Ref      string // the reference the user gave
	Digest   string // manifest digest: the image's identity
	Arch     string // GOARCH of the image's platform
	Config   api.ImageConfig
	BaseDisk string // read-only ext4 of the flattened image
}

// Images resolves references to local images. It never pulls: the client
// decides to pull (with progress) and asks again.
type Images interface {
	// Resolve returns the local image for ref, or api.ErrNotFound.
	Resolve(ctx context.Context, ref string) (Image, error)
}

// BootFiles are what a VM boots: kernel, initramfs with the agent, and
// extra kernel arguments.
type BootFiles struct {
	Kernel  string
	Initrd  string
	Cmdline []string
}

// Kernels provides boot files for a guest arch. kernelPath, if set, is a
// kernel the user chose (berth run --kernel).
type Kernels interface {
	Boot(ctx context.Context, arch, kernelPath string, progress api.ProgressFunc) (BootFiles, error)
}

// WritableDisks makes each container's persistent writable disk.
type WritableDisks interface {
	// Create makes an empty ext4 disk at path.
	Create(ctx context.Context, path string) error
}

// Networks gives containers their networks (core/network's Manager).
// Without it, a container's VM gets its backend's own NAT.
type Networks interface {
	// Assign gives a new container its addresses, in the transaction
	// that stores it.
	Assign(tx *state.Tx, rec *state.ContainerRecord) error
	// Up readies a container's networks for a VM with run directory
	// vmRunDir and returns its NICs, in the container's order.
	Up(ctx context.Context, rec state.ContainerRecord, vmID, vmRunDir string) ([]hypervisor.Network, error)
	// Publish publishes ports, all or none.
	Publish(ctx context.Context, rec state.ContainerRecord, bindings []api.PortBinding) ([]api.PortMapping, error)
	// Announce gives a running container its names on its networks.
	Announce(ctx context.Context, rec state.ContainerRecord)
	// Down lets go of a stopped container's ports, NICs and names.
	Down(ctx context.Context, rec state.ContainerRecord, vmID string)
	// Guest is what the guest is told: resolver and extra hosts.
	Guest(rec state.ContainerRecord) (network.Guest, error)
	// Sync retells the networks everything after a restart; vms maps
	// each running container's id to its VM's id and run directory.
	Sync(ctx context.Context, vms map[string][2]string)
}

// LocalKernels boots Debian kernels from the kernel cache (make deps) or a
// user's kernel, with the agent binary found beside berth, and builds the
// initramfs once per (kernel, agent).
type LocalKernels struct {
	// CacheDir is the kernel cache; "" means kernel.Dir().
	CacheDir string
	// Pin, if set, is the default kernel for its arch, downloaded and
	// verified on first use (macOS); otherwise the default is Debian's
	// kernel that make deps put in the cache (Linux).
	Pin *kernel.Pin
	// Groups are the kernel modules the initramfs carries for the
	// backend's devices (hypervisor.Info.ModuleGroups; nil:
	// kernel.DefaultModuleGroups). A user's kernel (--kernel) gets none:
	// Berth does not know its modules.
	Groups []kernel.ModuleGroup
}

// Boot implements Kernels.
func (l LocalKernels) Boot(ctx context.Context, arch, kernelPath string, progress api.ProgressFunc) (BootFiles, error) {
	var (
		k   kernel.Kernel
		err error
	)
	dir := l.CacheDir
	if dir == "" {
		if dir, err = kernel.Dir(); err != nil {
			return BootFiles{}, err
		}
	}
	switch {
	case kernelPath != "":
		// A user's kernel must have what the agent needs built in: its
		// modules are unknown to Berth.
		k, err = kernel.FromPath(arch, kernelPath, "")
	case l.Pin != nil && l.Pin.Arch == arch:
		k, err = kernel.ProvisionPinned(ctx, dir, *l.Pin, l.Groups, progress)
	case l.CacheDir != "":
		k, err = kernel.LocateIn(l.CacheDir, arch)
	default:
		k, err = kernel.Locate(arch)
	}
	if err != nil {
		return BootFiles{}, fmt.Errorf("guest kernel for %s: %w", arch, err)
	}
	agentBin, err := agent.BinaryPath(arch)
	if err != nil {
		return BootFiles{}, err
	}
	opts := kernel.InitramfsOptions{Kernel: k, Agent: agentBin, CacheDir: filepath.Join(dir, "initramfs"), Groups: l.Groups}
	progress.Report(api.Progress{ID: "initramfs", Action: "build"})
	initrd, err := kernel.BuildInitramfs(ctx, opts)
	if err != nil {
		return BootFiles{}, fmt.Errorf("initramfs for %s: %w", k.Path, err)
	}
	progress.Report(api.Progress{ID: "initramfs", Action: "build", Done: true})
	return BootFiles{Kernel: k.Path, Initrd: initrd}, nil
}
