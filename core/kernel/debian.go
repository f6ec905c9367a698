package kernel

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/berthvm/berth/core/api"
)

// debianMeta is the meta package that always depends on Debian's current
// kernel for each guest arch.
var debianMeta = map[string]string{
	"amd64": "linux-image-cloud-amd64",
	"arm64": "linux-image-arm64",
}

// FetchOptions configure FetchDebian.
type FetchOptions struct {
	Arches  []string // default amd64 and arm64
	Busybox bool     // also fetch busybox-static per arch (test fixtures)
	// Progress, if set, hears one line per step.
	Progress func(string)
}

// runner runs a command and returns its stdout; tests replace it.
type runner func(ctx context.Context, name string, args ...string) ([]byte, error)

func execRunner(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// FetchDebian fills dir with Debian's current kernels through apt:
// apt-cache resolves each meta package to the versioned kernel package,
// apt-get download fetches it (apt checks its hash against the signed
// Release file) and dpkg-deb unpacks it. Nothing is done for an arch whose
// recorded package and version are current. It needs root only when it
// must add the arm64 architecture to dpkg or refresh apt's lists.
func FetchDebian(ctx context.Context, dir string, opts FetchOptions) error {
	return fetchDebian(ctx, dir, opts, execRunner)
}

func fetchDebian(ctx context.Context, dir string, opts FetchOptions, run runner) error {
	if len(opts.Arches) == 0 {
		opts.Arches = []string{"amd64", "arm64"}
	}
	say := opts.Progress
	if say == nil {
		say = func(s string) { slog.Info(s) }
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("kernel cache: %w", err)
	}
	m, err := LoadManifest(dir)
	if err != nil {
		return err
	}
	native, err := run(ctx, "dpkg", "--print-architecture")
	if err != nil {
		return fmt.Errorf("dpkg is needed to fetch Debian kernels: %w", err)
	}
	nativeArch := strings.TrimSpace(string(native))
	updated := false
	update := func() error {
		if updated {
			return nil
		}
		say("apt-get update")
		if _, err := run(ctx, "apt-get", "update", "-q"); err != nil {
			return err
		}
		updated = true
		return nil
	}
	for _, arch := range opts.Arches {
		meta, ok := debianMeta[arch]
		if !ok {
			return fmt.Errorf("no Debian kernel known for %q (have amd64, arm64): %w", arch, api.ErrUnsupported)
		}
		if arch != nativeArch {
			if err := ensureForeignArch(ctx, run, arch, update, say); err != nil {
				return err
			}
		}
		qual := func(p string) string {
			if arch == nativeArch {
				return p
			}
			return p + ":" + arch
		}
		pkg, version, err := resolveMeta(ctx, run, qual(meta))
		if err != nil {
			if uerr := update(); uerr != nil {
				return fmt.Errorf("%w (and apt-get update failed: %v)", err, uerr)
			}
			if pkg, version, err = resolveMeta(ctx, run, qual(meta)); err != nil {
				return err
			}
		}
		release := strings.TrimPrefix(pkg, "linux-image-")
		if e, ok := m.Kernels[arch]; ok && e.Package == pkg && e.Version == version && exists(filepath.Join(dir, e.Path)) {
			say(fmt.Sprintf("%s kernel %s %s is current", arch, pkg, version))
		} else {
			say(fmt.Sprintf("fetching %s kernel %s %s", arch, pkg, version))
			rel := filepath.Join(arch, release+"_"+version)
			if err := downloadAndUnpack(ctx, run, update, qual(pkg), filepath.Join(dir, rel)); err != nil {
				return err
			}
			img := filepath.Join(rel, "boot", "vmlinuz-"+release)
			if !exists(filepath.Join(dir, img)) {
				return fmt.Errorf("package %s has no /boot/vmlinuz-%s: %w", pkg, release, api.ErrCorrupt)
			}
			e := Entry{Package: pkg, Version: version, Release: release, Path: img, Fetched: time.Now().UTC()}
			if mods := filepath.Join(rel, "lib", "modules", release); exists(filepath.Join(dir, mods)) {
				e.Modules = mods
			}
			old := m.Kernels[arch]
			m.Kernels[arch] = e
			if err := m.Save(dir); err != nil {
				return err
			}
			removeOld(dir, old.Path, e.Path)
		}
		if !opts.Busybox {
			continue
		}
		bpkg, bver, err := resolveVersion(ctx, run, qual("busybox-static"))
		if err != nil {
			return err
		}
		if e, ok := m.Busybox[arch]; ok && e.Version == bver && exists(filepath.Join(dir, e.Path)) {
			say(fmt.Sprintf("%s busybox-static %s is current", arch, bver))
			continue
		}
		say(fmt.Sprintf("fetching %s busybox-static %s", arch, bver))
		rel := filepath.Join(arch, "busybox_"+strings.ReplaceAll(bver, ":", "_"))
		if err := downloadAndUnpack(ctx, run, update, qual(bpkg), filepath.Join(dir, rel)); err != nil {
			return err
		}
		old := m.Busybox[arch]
		m.Busybox[arch] = Entry{Package: bpkg, Version: bver, Path: filepath.Join(rel, "bin", "busybox"), Fetched: time.Now().UTC()}
		if err := m.Save(dir); err != nil {
			return err
		}
		removeOld(dir, old.Path, m.Busybox[arch].Path)
	}
	return nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// removeOld deletes the unpacked package directory of a replaced entry
// (the first two components of its path: arch/package_version).
func removeOld(dir, oldPath, newPath string) {
	if oldPath == "" {
		return
	}
	parts := strings.SplitN(oldPath, string(filepath.Separator), 3)
	newParts := strings.SplitN(newPath, string(filepath.Separator), 3)
	if len(parts) < 3 || len(newParts) < 3 || parts[1] == newParts[1] {
		return
	}
	_ = os.RemoveAll(filepath.Join(dir, parts[0], parts[1]))
}

func ensureForeignArch(ctx context.Context, run runner, arch string, update func() error, say func(string)) error {
	out, err := run(ctx, "dpkg", "--print-foreign-architectures")
	if err != nil {
		return err
	}
	for _, a := range strings.Fields(string(out)) {
		if a == arch {
			return nil
		}
	}
	say("dpkg --add-architecture " + arch)
	if _, err := run(ctx, "dpkg", "--add-architecture", arch); err != nil {
		return fmt.Errorf("add the %s architecture to dpkg (needs root): %w", arch, err)
	}
	return update()
}

// resolveMeta follows a meta package to the versioned package it depends
// on and that package's candidate version.
func resolveMeta(ctx context.Context, run runner, meta string) (pkg, version string, err error) {
	out, err := run(ctx, "apt-cache", "depends", "--important", meta)
	if err != nil {
		return "", "", fmt.Errorf("resolve %s: %w", meta, err)
	}
	pkg = parseDepends(out)
	if pkg == "" {
		return "", "", fmt.Errorf("resolve %s: apt-cache names no linux-image dependency (stale apt lists?): %w", meta, api.ErrNotFound)
	}
	if _, arch, ok := strings.Cut(meta, ":"); ok && !strings.Contains(pkg, ":") {
		pkg += ":" + arch
	}
	return resolveVersion(ctx, run, pkg)
}

// resolveVersion returns the package name (without arch) and the version
// apt would download.
func resolveVersion(ctx context.Context, run runner, pkg string) (string, string, error) {
	out, err := run(ctx, "apt-cache", "show", "--no-all-versions", pkg)
	if err != nil {
		return "", "", fmt.Errorf("look up %s: %w", pkg, err)
	}
	v := parseField(out, "Version")
	if v == "" {
		return "", "", fmt.Errorf("look up %s: no version: %w", pkg, api.ErrNotFound)
	}
	name, _, _ := strings.Cut(pkg, ":")
	return name, v, nil
}

// parseDepends picks the linux-image dependency out of apt-cache depends.
func parseDepends(out []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		dep, ok := strings.CutPrefix(line, "Depends:")
		if !ok {
			continue
		}
		dep = strings.Trim(strings.TrimSpace(dep), "<>")
		if strings.HasPrefix(dep, "linux-image-") {
			return dep
		}
	}
	return ""
}

func parseField(out []byte, field string) string {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+": "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// downloadAndUnpack fetches pkg with apt-get download (retrying once after
// apt-get update, for lists that name a version the mirror dropped) and
// unpacks it into dest, replacing it whole.
func downloadAndUnpack(ctx context.Context, run runner, update func() error, pkg, dest string) error {
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	// Unpack next to dest so the final rename stays on one filesystem.
	tmp, err := os.MkdirTemp(filepath.Dir(dest), ".fetch-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// apt-get download writes into the working directory.
	dl := func() error {
		_, err := run(ctx, "sh", "-c", `cd "$1" && apt-get download -q "$2"`, "sh", tmp, pkg)
		return err
	}
	if err := dl(); err != nil {
		if uerr := update(); uerr != nil {
			return fmt.Errorf("download %s: %w", pkg, err)
		}
		if err := dl(); err != nil {
			return fmt.Errorf("download %s: %w", pkg, err)
		}
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
	if len(debs) != 1 {
		return fmt.Errorf("download %s: expected one .deb, got %d: %w", pkg, len(debs), api.ErrCorrupt)
	}
	unpacked := filepath.Join(tmp, "root")
	if _, err := run(ctx, "dpkg-deb", "-x", debs[0], unpacked); err != nil {
		return fmt.Errorf("unpack %s: %w", pkg, err)
	}
	_ = os.RemoveAll(dest)
	if err := os.Rename(unpacked, dest); err != nil {
		return fmt.Errorf("unpack %s: %w", pkg, err)
	}
	return nil
}
