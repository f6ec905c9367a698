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
	qual := func(p, arch string) string {
		if arch == nativeArch {
			return p
		}
		return p + ":" + arch
	}
	for _, arch := range opts.Arches {
		if _, ok := debianMeta[arch]; !ok {
			return fmt.Errorf("no Debian kernel known for %q (have amd64, arm64): %w", arch, api.ErrUnsupported)
		}
		if arch != nativeArch {
			if err := ensureForeignArch(ctx, run, arch, update, say); err != nil {
				return err
			}
		}
	}
	// One apt-cache call per question for all arches: each call costs
	// seconds on a multi-arch machine.
	wanted, err := resolveAll(ctx, run, opts, qual)
	if err != nil {
		if uerr := update(); uerr != nil {
			return fmt.Errorf("%w (and apt-get update failed: %v)", err, uerr)
		}
		if wanted, err = resolveAll(ctx, run, opts, qual); err != nil {
			return err
		}
	}
	for _, arch := range opts.Arches {
		k := wanted[qual(debianMeta[arch], arch)]
		release := strings.TrimPrefix(k.name, "linux-image-")
		if e, ok := m.Kernels[arch]; ok && e.Package == k.name && e.Version == k.version && exists(filepath.Join(dir, e.Path)) {
			say(fmt.Sprintf("%s kernel %s %s is current", arch, k.name, k.version))
		} else {
			say(fmt.Sprintf("fetching %s kernel %s %s", arch, k.name, k.version))
			rel := filepath.Join(arch, release+"_"+k.version)
			if err := downloadAndUnpack(ctx, run, update, qual(k.name, arch), filepath.Join(dir, rel)); err != nil {
				return err
			}
			img := filepath.Join(rel, "boot", "vmlinuz-"+release)
			if !exists(filepath.Join(dir, img)) {
				return fmt.Errorf("package %s has no /boot/vmlinuz-%s: %w", k.name, release, api.ErrCorrupt)
			}
			e := Entry{Package: k.name, Version: k.version, Release: release, Path: img, Fetched: time.Now().UTC()}
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
		b := wanted[qual("busybox-static", arch)]
		if e, ok := m.Busybox[arch]; ok && e.Version == b.version && exists(filepath.Join(dir, e.Path)) {
			say(fmt.Sprintf("%s busybox-static %s is current", arch, b.version))
			continue
		}
		say(fmt.Sprintf("fetching %s busybox-static %s", arch, b.version))
		rel := filepath.Join(arch, "busybox_"+strings.ReplaceAll(b.version, ":", "_"))
		if err := downloadAndUnpack(ctx, run, update, qual(b.name, arch), filepath.Join(dir, rel)); err != nil {
			return err
		}
		old := m.Busybox[arch]
		m.Busybox[arch] = Entry{Package: b.name, Version: b.version, Path: filepath.Join(rel, "bin", "busybox"), Fetched: time.Now().UTC()}
		if err := m.Save(dir); err != nil {
			return err
		}
		removeOld(dir, old.Path, m.Busybox[arch].Path)
	}
	return nil
}

// pkgVersion is a package apt would download.
type pkgVersion struct{ name, version, arch string }

// resolveAll answers, for every arch, which versioned kernel package the
// meta package names and the candidate versions to download. Keys are
// the (arch-qualified) meta package and busybox-static names.
func resolveAll(ctx context.Context, run runner, opts FetchOptions, qual func(p, arch string) string) (map[string]pkgVersion, error) {
	var metas []string
	for _, arch := range opts.Arches {
		metas = append(metas, qual(debianMeta[arch], arch))
	}
	out, err := run(ctx, "apt-cache", append([]string{"depends", "--important"}, metas...)...)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", strings.Join(metas, " "), err)
	}
	deps := parseDependsAll(out)
	got := map[string]pkgVersion{}
	var show []string
	for i, arch := range opts.Arches {
		pkg := deps[metas[i]]
		if pkg == "" {
			return nil, fmt.Errorf("resolve %s: apt-cache names no linux-image dependency (stale apt lists?): %w", metas[i], api.ErrNotFound)
		}
		name, _, _ := strings.Cut(pkg, ":")
		got[metas[i]] = pkgVersion{name: name, arch: arch}
		show = append(show, qual(name, arch))
		if opts.Busybox {
			got[qual("busybox-static", arch)] = pkgVersion{name: "busybox-static", arch: arch}
			show = append(show, qual("busybox-static", arch))
		}
	}
	out, err = run(ctx, "apt-cache", append([]string{"show", "--no-all-versions"}, show...)...)
	if err != nil {
		return nil, fmt.Errorf("look up %s: %w", strings.Join(show, " "), err)
	}
	versions := parseVersions(out, opts, qual)
	for key, pv := range got {
		pv.version = versions[qual(pv.name, pv.arch)]
		if pv.version == "" {
			return nil, fmt.Errorf("look up %s: no version: %w", qual(pv.name, pv.arch), api.ErrNotFound)
		}
		got[key] = pv
	}
	return got, nil
}

// parseDependsAll maps each package in apt-cache depends output to its
// linux-image dependency.
func parseDependsAll(out []byte) map[string]string {
	res := map[string]string{}
	cur := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if line != "" && line[0] != ' ' {
			cur = strings.TrimSpace(line)
			continue
		}
		dep, ok := strings.CutPrefix(strings.TrimSpace(line), "Depends:")
		if !ok || res[cur] != "" {
			continue
		}
		dep = strings.Trim(strings.TrimSpace(dep), "<>")
		if strings.HasPrefix(dep, "linux-image-") {
			res[cur] = dep
		}
	}
	return res
}

// parseVersions maps "name" (native) or "name:arch" to the Version of
// each record in apt-cache show output.
func parseVersions(out []byte, opts FetchOptions, qual func(p, arch string) string) map[string]string {
	res := map[string]string{}
	for _, rec := range strings.Split(string(out), "\n\n") {
		name, arch, version := parseField([]byte(rec), "Package"), parseField([]byte(rec), "Architecture"), parseField([]byte(rec), "Version")
		if name == "" || version == "" {
			continue
		}
		if arch == "all" || arch == "" {
			for _, a := range opts.Arches {
				res[qual(name, a)] = version
			}
			continue
		}
		res[qual(name, arch)] = version
	}
	return res
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
	// A whole unpacked tree moves into place: atomicfile is for single files.
	if err := os.Rename(unpacked, dest); err != nil {
		return fmt.Errorf("unpack %s: %w", pkg, err)
	}
	return nil
}
