package kernel

import (
	"context"
	"errors"
	"fmt"
	"github.com/berthvm/berth/core/guestabi"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berthvm/berth/core/api"
)

// Pin names one kernel package by content: where to download it and the
// sha256 it must have. Nothing else is trusted.
type Pin struct {
	Arch    string // guest GOARCH
	Package string // Debian package name
	Version string // Debian version
	Release string // uname -r; the package holds boot/vmlinuz-<Release>
	// URLs are mirrors of the same .deb, tried in order.
	URLs   []string
	SHA256 string
	Size   int64
}

// MacKernel is the guest kernel of the macOS build: Debian's arm64 kernel,
// downloaded from Debian's pool on first use (ProvisionPinned) and cut
// down to the Image and the modules VZModuleGroups need.
//
// Why Debian's and not Kata Containers' static kernel (Apple's container
// uses Kata's): it is the very kernel CI boots under qemu-system-aarch64
// with the very initramfs the macOS build ships (core/hypervisor/vz
// tests), so what ships is tested; it is a 57 MiB download where Kata's
// release tarball is hundreds; Debian patches it for security and signs
// its archive. Its cost: virtio, vsock and ext4 are modules, so they ride
// in the initramfs, and a panic before the agent loads virtio_console (a
// broken initramfs) leaves no console output on vz.
//
// The first URL is Debian's security pool, which drops a version once a
// newer one is published; snapshot.debian.org keeps every file forever by
// its SHA-1, so the pin keeps working. Updating the pin: apt-cache show
// linux-image-<abi>-arm64:arm64 gives Filename, Size and SHA256; sha1sum
// of the .deb gives the snapshot name; make deps fetches it and the
// kernel tests check it.
var MacKernel = Pin{
	Arch:    "arm64",
	Package: "linux-image-6.1.0-56-arm64",
	Version: "6.1.192-2",
	Release: "6.1.0-56-arm64",
	URLs: []string{
		"https://deb.debian.org/debian-security/pool/updates/main/l/linux-signed-arm64/linux-image-6.1.0-56-arm64_6.1.192-2_arm64.deb",
		"https://security.debian.org/debian-security/pool/updates/main/l/linux-signed-arm64/linux-image-6.1.0-56-arm64_6.1.192-2_arm64.deb",
		"https://snapshot.debian.org/file/b22a28b7d5762beda99831493914875f40061cf3",
	},
	SHA256: "6f4ed2d1cb9106bc977c2b1960008f175e2eed5740340634b7894e65ef5acc82",
	Size:   59812568,
}

// GroupRosetta holds what the agent needs to register Rosetta (layout).
const GroupRosetta = guestabi.GroupRosetta

// VZModuleGroups serve a guest on Apple's Virtualization framework, whose
// devices are virtio-pci: the agent is reached over vsock, the console is
// virtio-console (hvc0), the power button is a PL061 GPIO key, and there
// is an entropy device and a balloon. CI boots this very initramfs under
// QEMU with the same virtio-pci devices (core/hypervisor/vz/vzqemu).
var VZModuleGroups = []ModuleGroup{
	{GroupBoot, append([]string{"virtio_pci", "virtio_console"}, VsockModules...)},
	{GroupDisk, []string{"virtio_blk", "ext4", "overlay", "virtiofs"}},
	{GroupNet, []string{"virtio_net"}},
	{GroupExtra, []string{"gpio_keys", "evdev", "virtio_balloon", "virtio_rng"}},
	{GroupRosetta, []string{"virtiofs", "binfmt_misc"}},
}

// DebName is the file name of the pinned package.
func (p Pin) DebName() string { return p.Package + "_" + p.Version + "_" + p.Arch + ".deb" }

// pinnedDir is where pinned kernels of arch live inside the cache.
func pinnedDir(arch string) string { return filepath.Join("pinned", arch) }

// LocatePinned returns pin's kernel if the cache in dir holds it.
func LocatePinned(dir string, pin Pin) (Kernel, error) {
	m, err := LoadManifest(dir)
	if err != nil {
		return Kernel{}, err
	}
	e, ok := m.Pinned[pin.Arch]
	if !ok || e.Package != pin.Package || e.Version != pin.Version {
		return Kernel{}, fmt.Errorf("%s guest kernel %s %s is not downloaded yet: %w", pin.Arch, pin.Package, pin.Version, api.ErrNotFound)
	}
	return entryKernel(dir, pin.Arch, e)
}

func entryKernel(dir, arch string, e Entry) (Kernel, error) {
	k := Kernel{Arch: arch, Release: e.Release, Path: filepath.Join(dir, e.Path), Package: e.Package, Version: e.Version}
	if e.Modules != "" {
		k.ModulesDir = filepath.Join(dir, e.Modules)
	}
	for _, p := range []string{k.Path, k.ModulesDir} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err != nil {
			return Kernel{}, fmt.Errorf("%s guest kernel %s %s: %s is missing from the cache: %w", arch, e.Package, e.Version, p, api.ErrNotFound)
		}
	}
	return k, nil
}

// ProvisionPinned returns pin's kernel from the cache in dir, downloading
// it first if needed: the .deb is fetched with resume and checked against
// the pin (Download), then only the Image and the modules that groups
// need (with their dependencies) are kept. progress hears the download,
// verification and extraction under the ID "kernel".
//
// When the download fails (offline, a checksum mismatch) and the cache
// holds an earlier pinned kernel for the arch, that one is returned and
// the failure logged: a good kernel is never lost to a failed update.
func ProvisionPinned(ctx context.Context, dir string, pin Pin, groups []ModuleGroup, progress api.ProgressFunc) (Kernel, error) {
	if k, err := LocatePinned(dir, pin); err == nil {
		return k, nil
	}
	if err := os.MkdirAll(filepath.Join(dir, pinnedDir(pin.Arch)), 0o755); err != nil {
		return Kernel{}, fmt.Errorf("kernel cache: %w", err)
	}
	// One provisioner at a time per cache (two daemons of two data dirs
	// share the cache): the other waits, then finds the kernel in place.
	unlock, err := lockFile(filepath.Join(dir, pinnedDir(pin.Arch), ".lock"))
	if err != nil {
		return Kernel{}, err
	}
	defer unlock()
	if k, err := LocatePinned(dir, pin); err == nil {
		return k, nil
	}
	k, err := provision(ctx, dir, pin, groups, progress)
	if err == nil {
		return k, nil
	}
	if !errors.Is(err, api.ErrCanceled) && !errors.Is(err, api.ErrUnavailable) {
		// The pinned file itself is unusable: keeping it would only
		// make the next attempt fail the same way without a download.
		_ = os.Remove(filepath.Join(dir, pinnedDir(pin.Arch), pin.DebName()))
	}
	m, merr := LoadManifest(dir)
	if merr == nil {
		if e, ok := m.Pinned[pin.Arch]; ok {
			if old, oerr := entryKernel(dir, pin.Arch, e); oerr == nil {
				slog.Warn("could not get the pinned guest kernel; using the cached one", "want", pin.Package+" "+pin.Version,
					"using", old.Package+" "+old.Version, "err", err)
				progress.Report(api.Progress{ID: "kernel", Action: "download", Done: true,
					Message: "using cached kernel " + old.Version + ": " + err.Error()})
				return old, nil
			}
		}
	}
	return Kernel{}, err
}

func provision(ctx context.Context, dir string, pin Pin, groups []ModuleGroup, progress api.ProgressFunc) (Kernel, error) {
	base := filepath.Join(dir, pinnedDir(pin.Arch))
	deb := filepath.Join(base, pin.DebName())
	err := Download(ctx, DownloadOptions{URLs: pin.URLs, SHA256: pin.SHA256, Size: pin.Size, Dest: deb,
		Progress: progress, ProgressID: "kernel"})
	if err != nil {
		return Kernel{}, fmt.Errorf("guest kernel %s %s: %w", pin.Package, pin.Version, err)
	}
	stage, err := os.MkdirTemp(base, ".extract-")
	if err != nil {
		return Kernel{}, fmt.Errorf("kernel cache: %w", err)
	}
	defer os.RemoveAll(stage)
	image := "boot/vmlinuz-" + pin.Release
	mods := "lib/modules/" + pin.Release
	keep := func(name string) bool {
		switch {
		case name == image, name == mods+"/modules.builtin", name == mods+"/modules.builtin.modinfo":
			return true
		case strings.HasPrefix(name, mods+"/kernel/") && strings.HasSuffix(name, ".ko"):
			// All of them for now: which ones are needed is known only
			// once every module's dependencies are readable.
			return true
		}
		return false
	}
	got, err := extractDeb(ctx, deb, stage, keep, progress, "kernel")
	if err != nil {
		return Kernel{}, fmt.Errorf("guest kernel %s: %w", pin.Package, err)
	}
	if !contains(got, image) {
		return Kernel{}, fmt.Errorf("guest kernel %s has no %s: %w", pin.DebName(), image, api.ErrCorrupt)
	}
	imgPath := filepath.Join(stage, filepath.FromSlash(image))
	// The framework boots only an uncompressed arm64 Image.
	if err := gunzipInPlace(imgPath); err != nil {
		return Kernel{}, err
	}
	if err := CheckImage(imgPath, pin.Arch); err != nil {
		return Kernel{}, fmt.Errorf("guest kernel %s: %w", pin.DebName(), err)
	}
	modDir := filepath.Join(stage, filepath.FromSlash(mods))
	if err := pruneModules(modDir, groups); err != nil {
		return Kernel{}, fmt.Errorf("guest kernel %s: %w", pin.Package, err)
	}
	rel := filepath.Join(pinnedDir(pin.Arch), pin.Release+"_"+pin.Version)
	final := filepath.Join(dir, rel)
	_ = os.RemoveAll(final) // a half-made one from a crash; the manifest never named it
	// A whole staging directory moves into place: atomicfile is for single files.
	if err := os.Rename(stage, final); err != nil {
		return Kernel{}, fmt.Errorf("kernel cache: %w", err)
	}
	m, err := LoadManifest(dir)
	if err != nil {
		return Kernel{}, err
	}
	if m.Pinned == nil {
		m.Pinned = map[string]Entry{}
	}
	old := m.Pinned[pin.Arch]
	e := Entry{Package: pin.Package, Version: pin.Version, Release: pin.Release, Fetched: time.Now().UTC(),
		Path: filepath.Join(rel, filepath.FromSlash(image)), Modules: filepath.Join(rel, filepath.FromSlash(mods))}
	m.Pinned[pin.Arch] = e
	if err := m.Save(dir); err != nil {
		return Kernel{}, err
	}
	// The .deb served its purpose; the old kernel is no longer named.
	_ = os.Remove(deb)
	if old.Path != "" && old.Path != e.Path {
		if oldRoot := pinnedRoot(old.Path); oldRoot != "" && oldRoot != rel {
			_ = os.RemoveAll(filepath.Join(dir, oldRoot))
		}
	}
	progress.Report(api.Progress{ID: "kernel", Action: "extract", Done: true, Message: pin.Release})
	return entryKernel(dir, pin.Arch, e)
}

// pinnedRoot is the pinned/<arch>/<release>_<version> prefix of a
// manifest path.
func pinnedRoot(p string) string {
	parts := strings.Split(filepath.ToSlash(p), "/")
	if len(parts) < 3 || parts[0] != "pinned" {
		return ""
	}
	return filepath.FromSlash(path.Join(parts[:3]...))
}

// pruneModules deletes every module under modDir that groups do not need.
func pruneModules(modDir string, groups []ModuleGroup) error {
	idx, err := newModuleIndex(modDir)
	if err != nil {
		return err
	}
	need := map[string]bool{}
	done := map[string]bool{}
	for _, g := range groups {
		mods, err := idx.resolve(g.Modules, done)
		if err != nil {
			return fmt.Errorf("module group %s: %w", g.Name, err)
		}
		for _, m := range mods {
			need[m.Path] = true
		}
	}
	return filepath.WalkDir(filepath.Join(modDir, "kernel"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && !need[p] {
			return os.Remove(p)
		}
		return nil
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// lockFile takes an exclusive advisory lock on p, waiting for it.
func lockFile(p string) (func(), error) {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("kernel cache lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("kernel cache lock %s: %w", p, err)
	}
	return func() {
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}

// PinIsStale reports whether Debian's current arm64 kernel in the kernel
// cache (from apt) is another version than pin: then pin's .deb may be
// gone from Debian's pool and the pin needs updating.
func PinIsStale(dir string, pin Pin) (current string, stale bool) {
	apt, err := LocateIn(dir, pin.Arch)
	if err != nil {
		return "", false
	}
	return apt.Package + " " + apt.Version, apt.Package != pin.Package || apt.Version != pin.Version
}
