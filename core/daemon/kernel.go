package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	goruntime "runtime"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/kernel"
	"github.com/berthvm/berth/core/runtime"
	"github.com/berthvm/berth/core/state"
)

// The guest kernel setting: berth system kernel [set PATH | set --default | fetch].

// kernelSettingKey names the setting in state.
const kernelSettingKey = "kernel"

// kernelSetting is the stored value: a kernel image for guests of Arch.
type kernelSetting struct {
	Path string `json:"path"`
	Arch string `json:"arch"`
}

// guestArch is the arch of the guests that boot the default kernel: the
// host's (the Virtualization framework runs nothing else).
func guestArch() string { return goruntime.GOARCH }

func (d *Daemon) kernelRoutes() {
	d.route("GET /v1/system/kernel", func(*http.Request) (any, error) { return d.kernelInfo() })
	d.route("PUT /v1/system/kernel", d.setKernel)
	d.streamRoute("POST /v1/system/kernel/fetch", d.fetchKernel)
}

// kernelSetting returns the kernel set for guests of arch, or "".
func (d *Daemon) kernelSetting(arch string) (string, error) {
	var s kernelSetting
	err := d.db.View(func(tx *state.Tx) error { return tx.Setting(kernelSettingKey, &s) })
	if errors.Is(err, api.ErrNotFound) || (err == nil && s.Arch != arch) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the kernel setting: %w", err)
	}
	return s.Path, nil
}

func (d *Daemon) kernelInfo() (api.KernelInfo, error) {
	arch := guestArch()
	info := api.KernelInfo{Arch: arch}
	setting, err := d.kernelSetting(arch)
	if err != nil {
		return info, err
	}
	info.Setting = setting
	dir, derr := kernel.Dir()
	if pin, _, ok := platformKernel(); ok {
		info.Default = api.KernelDefault{Package: pin.Package, Version: pin.Version, Release: pin.Release,
			SHA256: pin.SHA256, Size: pin.Size, URLs: pin.URLs,
			Note: "Debian's arm64 kernel, downloaded on the first container start (or berth system kernel fetch) and verified by sha256"}
		if derr == nil {
			if k, err := kernel.LocatePinned(dir, pin); err == nil {
				info.Default.Downloaded, info.Default.Path = true, k.Path
			}
		}
	} else {
		info.Default.Note = "Debian's kernel through apt, fetched by make deps"
		if derr == nil {
			if k, err := kernel.LocateIn(dir, arch); err == nil {
				info.Default.Package, info.Default.Version, info.Default.Release = k.Package, k.Version, k.Release
				info.Default.Downloaded, info.Default.Path = true, k.Path
			}
		}
	}
	switch {
	case setting != "":
		info.Source, info.Path = api.KernelFromSetting, setting
		if err := kernel.CheckImage(setting, arch); err != nil {
			info.Problem = err.Error() + "; set another with berth system kernel set PATH, or go back to the default with berth system kernel set --default"
		}
	default:
		info.Source = api.KernelDebian
		if _, _, ok := platformKernel(); ok {
			info.Source = api.KernelPinned
		}
		info.Path, info.Package, info.Version, info.Release = info.Default.Path, info.Default.Package, info.Default.Version, info.Default.Release
		if !info.Default.Downloaded && info.Source == api.KernelDebian {
			info.Problem = "no " + arch + " guest kernel in the kernel cache: run make deps"
		}
	}
	return info, nil
}

func (d *Daemon) setKernel(r *http.Request) (any, error) {
	var req api.KernelSetRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	arch := guestArch()
	switch {
	case req.Default && req.Path != "":
		return nil, fmt.Errorf("give a kernel path or --default, not both: %w", api.ErrInvalidArgument)
	case req.Default:
		if err := d.db.Update(func(tx *state.Tx) error { return tx.DeleteSetting(kernelSettingKey) }); err != nil && !errors.Is(err, api.ErrNotFound) {
			return nil, err
		}
	default:
		if !filepath.IsAbs(req.Path) {
			return nil, fmt.Errorf("kernel path %q must be absolute: %w", req.Path, api.ErrInvalidArgument)
		}
		fi, err := os.Stat(req.Path)
		if err != nil {
			return nil, fmt.Errorf("kernel %q: %w", req.Path, api.ErrNotFound)
		}
		if fi.IsDir() {
			return nil, fmt.Errorf("kernel %q is a directory, give the kernel image file: %w", req.Path, api.ErrInvalidArgument)
		}
		if err := kernel.CheckImage(req.Path, arch); err != nil {
			return nil, err
		}
		s := kernelSetting{Path: filepath.Clean(req.Path), Arch: arch}
		if err := d.db.Update(func(tx *state.Tx) error { return tx.SetSetting(kernelSettingKey, s) }); err != nil {
			return nil, err
		}
	}
	return d.kernelInfo()
}

func (d *Daemon) fetchKernel(r *http.Request, progress api.ProgressFunc) (any, error) {
	pin, groups, ok := platformKernel()
	if !ok {
		return nil, fmt.Errorf("on %s the default guest kernel is Debian's through apt: run make deps: %w", goruntime.GOOS, api.ErrUnsupported)
	}
	dir, err := kernel.Dir()
	if err != nil {
		return nil, err
	}
	if _, err := kernel.ProvisionPinned(r.Context(), dir, pin, groups, progress); err != nil {
		return nil, err
	}
	return d.kernelInfo()
}

// settingKernels makes containers that name no kernel (berth run
// --kernel) boot the one set with berth system kernel set.
type settingKernels struct {
	runtime.Kernels
	setting func(arch string) (string, error)
}

// Boot implements runtime.Kernels.
func (s settingKernels) Boot(ctx context.Context, arch, kernelPath string, progress api.ProgressFunc) (runtime.BootFiles, error) {
	if kernelPath == "" {
		p, err := s.setting(arch)
		if err != nil {
			return runtime.BootFiles{}, err
		}
		kernelPath = p
	}
	return s.Kernels.Boot(ctx, arch, kernelPath, progress)
}

// withKernelSetting wraps the platform's kernels with the setting.
func (d *Daemon) withKernelSetting(k runtime.Kernels) runtime.Kernels {
	return settingKernels{Kernels: k, setting: d.kernelSetting}
}
