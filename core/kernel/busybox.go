package kernel

import (
	"context"
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/berthvm/berth/core/api"
)

// BusyboxPins are Debian's busybox-static, one per guest arch, pinned by
// content like MacKernel: the demo image (packaging/demoimage) is built
// from them on a host without Debian's busybox, such as a Mac, so that
// `make app` needs nothing from the system. They are the very packages
// apt installs on Debian 12 (make deps fetches apt's into the kernel
// cache), so the demo image is the same on every host.
//
// Updating a pin: apt-cache show busybox-static and busybox-static:arm64
// give Filename, Size and SHA256; sha1sum of each .deb (apt-get download)
// gives its snapshot.debian.org name, which keeps the file after Debian's
// pool drops it; make deps fetches both and the kernel tests compare them
// with apt's.
var BusyboxPins = map[string]Pin{
	"amd64": {
		Arch:    "amd64",
		Package: "busybox-static",
		Version: "1:1.35.0-4+deb12u1+b1",
		URLs: []string{
			"https://deb.debian.org/debian/pool/main/b/busybox/busybox-static_1.35.0-4+deb12u1+b1_amd64.deb",
			"https://snapshot.debian.org/file/388095e72f44cefd025b869d917e45108d124655",
		},
		SHA256: "3d3fdbe91d4660c873e14b092c213fe81c1da6362daa236eb25d0171eb108744",
		Size:   928188,
	},
	"arm64": {
		Arch:    "arm64",
		Package: "busybox-static",
		Version: "1:1.35.0-4+deb12u1+b1",
		URLs: []string{
			"https://deb.debian.org/debian/pool/main/b/busybox/busybox-static_1.35.0-4+deb12u1+b1_arm64.deb",
			"https://snapshot.debian.org/file/87bf504541e6583e6fef6ec0bc67537f53c327f2",
		},
		SHA256: "732c9135564fc71337e0e05fb4da4d11e6c28c1834bce3e405e575afef2a52f5",
		Size:   822236,
	},
}

// pinnedBusyboxDir is where pinned busyboxes of arch live in the cache,
// apart from apt's (Manifest.Busybox) and the pinned kernels, whose
// clean-ups must never reach them.
func pinnedBusyboxDir(arch string) string { return filepath.Join("pinned-busybox", arch) }

// fileName makes a Debian version usable in a file name, as apt does
// with the epoch's colon.
func fileName(s string) string { return strings.ReplaceAll(s, ":", "%3a") }

// LocatePinnedBusybox returns the path of pin's busybox if the cache in
// dir holds it.
func LocatePinnedBusybox(dir string, pin Pin) (string, error) {
	p := filepath.Join(dir, pinnedBusyboxDir(pin.Arch), fileName(pin.Version), "busybox")
	if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s busybox-static %s is not downloaded yet: %w", pin.Arch, pin.Version, api.ErrNotFound)
	}
	return p, nil
}

// ProvisionBusybox returns the path of pin's static busybox in the cache
// in dir, downloading the pinned .deb first if needed (Download: resumed,
// checked against the pin's sha256) and keeping only its bin/busybox,
// checked to be an ELF executable for pin.Arch. progress hears the
// download under the ID "busybox". Older pinned versions are removed once
// the new one is in place.
func ProvisionBusybox(ctx context.Context, dir string, pin Pin, progress api.ProgressFunc) (string, error) {
	if p, err := LocatePinnedBusybox(dir, pin); err == nil {
		return p, nil
	}
	base := filepath.Join(dir, pinnedBusyboxDir(pin.Arch))
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", fmt.Errorf("kernel cache: %w", err)
	}
	unlock, err := lockFile(filepath.Join(base, ".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if p, err := LocatePinnedBusybox(dir, pin); err == nil {
		return p, nil
	}
	what := fmt.Sprintf("%s %s (%s)", pin.Package, pin.Version, pin.Arch)
	deb := filepath.Join(base, fileName(pin.DebName()))
	if err := Download(ctx, DownloadOptions{URLs: pin.URLs, SHA256: pin.SHA256, Size: pin.Size, Dest: deb,
		Progress: progress, ProgressID: "busybox"}); err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	stage, err := os.MkdirTemp(base, ".extract-")
	if err != nil {
		return "", fmt.Errorf("kernel cache: %w", err)
	}
	defer os.RemoveAll(stage)
	const member = "bin/busybox"
	got, err := extractDeb(ctx, deb, stage, func(name string) bool { return name == member }, progress, "busybox")
	if err != nil {
		_ = os.Remove(deb) // verified yet unreadable: a new download is the only cure
		return "", fmt.Errorf("%s: %w", what, err)
	}
	if !contains(got, member) {
		return "", fmt.Errorf("%s has no /%s: %w", what, member, api.ErrCorrupt)
	}
	bin := filepath.Join(stage, "busybox")
	if err := os.Rename(filepath.Join(stage, filepath.FromSlash(member)), bin); err != nil {
		return "", fmt.Errorf("kernel cache: %w", err)
	}
	_ = os.Remove(filepath.Join(stage, "bin"))
	if err := checkELFArch(bin, pin.Arch); err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	if err := os.Chmod(bin, 0o755); err != nil {
		return "", fmt.Errorf("kernel cache: %w", err)
	}
	final := filepath.Join(base, fileName(pin.Version))
	_ = os.RemoveAll(final) // half-made by a crash: LocatePinnedBusybox did not accept it
	// A whole staging directory moves into place: atomicfile is for single files.
	if err := os.Rename(stage, final); err != nil {
		return "", fmt.Errorf("kernel cache: %w", err)
	}
	_ = os.Remove(deb)
	// Earlier pins are no longer named by anything.
	if ents, err := os.ReadDir(base); err == nil {
		for _, e := range ents {
			if e.IsDir() && e.Name() != filepath.Base(final) && !strings.HasPrefix(e.Name(), ".") {
				_ = os.RemoveAll(filepath.Join(base, e.Name()))
			}
		}
	}
	progress.Report(api.Progress{ID: "busybox", Action: "extract", Done: true, Message: pin.Version})
	return filepath.Join(final, "busybox"), nil
}

// checkELFArch checks that path is an ELF executable for the guest arch.
func checkELFArch(path, arch string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s is not a Linux executable: %v: %w", filepath.Base(path), err, api.ErrCorrupt)
	}
	defer f.Close()
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[arch]
	if want == 0 {
		return fmt.Errorf("unknown guest arch %q: %w", arch, api.ErrUnsupported)
	}
	if f.Machine != want {
		return fmt.Errorf("%s is built for %v, not %s (%v): %w", filepath.Base(path), f.Machine, arch, want, api.ErrCorrupt)
	}
	return nil
}
