package daemon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/kernel"
	"github.com/berthvm/berth/core/runtime"
)

// hostKernelImage writes a file with the header of a kernel this host's
// guests boot: an arm64 Image, or an x86 bzImage.
func hostKernelImage(t *testing.T) string {
	b := make([]byte, 4096)
	if goruntime.GOARCH == "arm64" {
		copy(b[56:], "ARM\x64")
	} else {
		copy(b[0x202:], "HdrS")
	}
	p := filepath.Join(t.TempDir(), "vmlinuz")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestKernelSetting(t *testing.T) {
	t.Setenv("BERTH_KERNEL_DIR", t.TempDir()) // an empty cache
	c, _, _ := runDaemon(t, shortHome(t))
	ctx := context.Background()

	info, err := c.Kernel(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Setting != "" || info.Arch != goruntime.GOARCH || info.Default.Downloaded {
		t.Fatalf("fresh: %+v", info)
	}
	if goruntime.GOOS == "linux" && (info.Source != api.KernelDebian || !strings.Contains(info.Problem, "make deps")) {
		t.Fatalf("Linux without kernels: %+v", info)
	}

	dir := t.TempDir()
	gz := filepath.Join(dir, "Image.gz")
	_ = os.WriteFile(gz, []byte{0x1f, 0x8b, 8, 0}, 0o644)
	bad := []struct {
		name string
		req  api.KernelSetRequest
		err  error
		msg  string
	}{
		{"relative", api.KernelSetRequest{Path: "vmlinuz"}, api.ErrInvalidArgument, "must be absolute"},
		{"missing", api.KernelSetRequest{Path: filepath.Join(dir, "nope")}, api.ErrNotFound, "nope"},
		{"directory", api.KernelSetRequest{Path: dir}, api.ErrInvalidArgument, "is a directory"},
		{"compressed", api.KernelSetRequest{Path: gz}, api.ErrInvalidArgument, "gzip-compressed"},
		{"both", api.KernelSetRequest{Path: gz, Default: true}, api.ErrInvalidArgument, "not both"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.SetKernel(ctx, tc.req)
			if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %v containing %q", err, tc.err, tc.msg)
			}
		})
	}
	if info, _ := c.Kernel(ctx); info.Setting != "" {
		t.Fatalf("a refused setting was stored: %+v", info)
	}

	img := hostKernelImage(t)
	info, err = c.SetKernel(ctx, api.KernelSetRequest{Path: img})
	if err != nil {
		t.Fatal(err)
	}
	if info.Source != api.KernelFromSetting || info.Path != img || info.Setting != img || info.Problem != "" {
		t.Fatalf("after set: %+v", info)
	}
	// A kernel that went away since is reported, with what to do.
	os.Remove(img)
	if info, _ := c.Kernel(ctx); !strings.Contains(info.Problem, "--default") {
		t.Fatalf("missing set kernel: %+v", info)
	}
	info, err = c.SetKernel(ctx, api.KernelSetRequest{Default: true})
	if err != nil || info.Setting != "" || info.Source == api.KernelFromSetting {
		t.Fatalf("back to the default: %+v, %v", info, err)
	}
	if _, err := c.SetKernel(ctx, api.KernelSetRequest{Default: true}); err != nil {
		t.Fatalf("default twice: %v", err)
	}
	if goruntime.GOOS == "linux" {
		if _, err := c.FetchKernel(ctx, nil); !errors.Is(err, api.ErrUnsupported) || !strings.Contains(err.Error(), "make deps") {
			t.Fatalf("fetch on Linux: %v", err)
		}
	}
}

// The pinned default, as macOS reports it (platformKernel says so).
func TestKernelInfoPinned(t *testing.T) {
	old := platformKernel
	platformKernel = func() (kernel.Pin, []kernel.ModuleGroup, bool) { return kernel.MacKernel, kernel.VZModuleGroups, true }
	t.Cleanup(func() { platformKernel = old })
	t.Setenv("BERTH_KERNEL_DIR", t.TempDir())
	c, _, _ := runDaemon(t, shortHome(t))
	info, err := c.Kernel(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d := info.Default
	if info.Source != api.KernelPinned || d.Downloaded || d.SHA256 != kernel.MacKernel.SHA256 || d.Version != kernel.MacKernel.Version ||
		len(d.URLs) == 0 || !strings.Contains(d.Note, "first container start") || info.Problem != "" {
		t.Fatalf("pinned, not downloaded: %+v", info)
	}
}

type recordKernels struct{ got []string }

func (r *recordKernels) Boot(_ context.Context, arch, kernelPath string, _ api.ProgressFunc) (runtime.BootFiles, error) {
	r.got = append(r.got, arch+":"+kernelPath)
	return runtime.BootFiles{Kernel: kernelPath}, nil
}

func TestSettingKernels(t *testing.T) {
	inner := &recordKernels{}
	k := settingKernels{Kernels: inner, setting: func(arch string) (string, error) {
		if arch == "arm64" {
			return "/set/Image", nil
		}
		return "", nil
	}}
	ctx := context.Background()
	for _, call := range [][2]string{{"arm64", ""}, {"arm64", "/run/--kernel"}, {"amd64", ""}} {
		if _, err := k.Boot(ctx, call[0], call[1], nil); err != nil {
			t.Fatal(err)
		}
	}
	want := "arm64:/set/Image arm64:/run/--kernel amd64:"
	if got := strings.Join(inner.got, " "); got != want {
		t.Fatalf("kernels booted %q, want %q (--kernel wins, the setting is per arch)", got, want)
	}
	failing := settingKernels{Kernels: inner, setting: func(string) (string, error) { return "", errors.New("db") }}
	if _, err := failing.Boot(ctx, "arm64", "", nil); err == nil {
		t.Fatal("a setting that cannot be read is ignored")
	}
	var d Daemon
	if _, ok := d.withKernelSetting(inner).(settingKernels); !ok {
		t.Fatal("withKernelSetting")
	}
}
