package kernel

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/atomicfile"
)

// Kernel is a guest kernel ready to boot.
type Kernel struct {
	Arch    string // GOARCH of the guest: amd64, arm64
	Release string // uname -r, "6.1.0-56-cloud-amd64"; empty if unknown
	Path    string // the kernel image (vmlinuz, Image)
	// ModulesDir is /lib/modules/<release> of this kernel; empty for a
	// kernel with everything built in.
	ModulesDir string
	// Package and Version name the Debian package it came from.
	Package, Version string
}

// Dir is the kernel cache: $BERTH_KERNEL_DIR, else
// $XDG_CACHE_HOME/berth/kernels (~/.cache/berth/kernels).
func Dir() (string, error) {
	if d := os.Getenv("BERTH_KERNEL_DIR"); d != "" {
		return d, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("kernel cache: %w (set BERTH_KERNEL_DIR)", err)
	}
	return filepath.Join(base, "berth", "kernels"), nil
}

// Manifest records what the cache holds. Paths are relative to the cache.
type Manifest struct {
	Kernels map[string]Entry `json:"kernels"` // by arch
	// Busybox holds a static busybox per arch (Debian's busybox-static):
	// tests build small root filesystems from it.
	Busybox map[string]Entry `json:"busybox,omitempty"`
	// Pinned holds kernels downloaded by ProvisionPinned (the macOS
	// guest kernel), by arch, apart from apt's.
	Pinned map[string]Entry `json:"pinned,omitempty"`
}

// Entry is one fetched package.
type Entry struct {
	Package string    `json:"package"`
	Version string    `json:"version"`
	Release string    `json:"release,omitempty"`
	Path    string    `json:"path"`              // kernel image or binary
	Modules string    `json:"modules,omitempty"` // modules dir
	Fetched time.Time `json:"fetched"`
}

const manifestName = "manifest.json"

// LoadManifest reads dir's manifest; a missing one is empty, not an error.
func LoadManifest(dir string) (Manifest, error) {
	m := Manifest{Kernels: map[string]Entry{}, Busybox: map[string]Entry{}}
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return m, fmt.Errorf("read kernel manifest: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("kernel manifest %s: %v: %w", filepath.Join(dir, manifestName), err, api.ErrCorrupt)
	}
	if m.Kernels == nil {
		m.Kernels = map[string]Entry{}
	}
	if m.Busybox == nil {
		m.Busybox = map[string]Entry{}
	}
	return m, nil
}

// Save writes the manifest atomically.
func (m Manifest) Save(dir string) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, manifestName), append(b, '\n'), 0o644)
}

// Locate returns the cached kernel for arch ("" for this machine's).
func Locate(arch string) (Kernel, error) {
	dir, err := Dir()
	if err != nil {
		return Kernel{}, err
	}
	return LocateIn(dir, arch)
}

// LocateIn is Locate for a given cache directory.
func LocateIn(dir, arch string) (Kernel, error) {
	if arch == "" {
		arch = runtime.GOARCH
	}
	m, err := LoadManifest(dir)
	if err != nil {
		return Kernel{}, err
	}
	e, ok := m.Kernels[arch]
	if !ok {
		return Kernel{}, fmt.Errorf("no %s guest kernel in %s: run make deps (go run ./packaging/kernels): %w", arch, dir, api.ErrNotFound)
	}
	k := Kernel{Arch: arch, Release: e.Release, Path: filepath.Join(dir, e.Path), Package: e.Package, Version: e.Version}
	if e.Modules != "" {
		k.ModulesDir = filepath.Join(dir, e.Modules)
	}
	if _, err := os.Stat(k.Path); err != nil {
		return Kernel{}, fmt.Errorf("%s guest kernel %s is missing from the cache: run make deps: %w", arch, k.Path, api.ErrNotFound)
	}
	return k, nil
}

// Busybox returns the cached static busybox for arch.
func Busybox(dir, arch string) (string, error) {
	m, err := LoadManifest(dir)
	if err != nil {
		return "", err
	}
	e, ok := m.Busybox[arch]
	if !ok {
		return "", fmt.Errorf("no %s busybox in %s: run make deps: %w", arch, dir, api.ErrNotFound)
	}
	return filepath.Join(dir, e.Path), nil
}

// FromPath uses a kernel the user supplied. modulesDir may be empty for a
// kernel with the needed drivers built in.
func FromPath(arch, path, modulesDir string) (Kernel, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Kernel{}, fmt.Errorf("kernel %q: %w", path, api.ErrNotFound)
	}
	if fi.IsDir() {
		return Kernel{}, fmt.Errorf("kernel %q is a directory, give the kernel image file: %w", path, api.ErrInvalidArgument)
	}
	k := Kernel{Arch: arch, Path: path, ModulesDir: modulesDir}
	if modulesDir != "" {
		if _, err := os.Stat(modulesDir); err != nil {
			return Kernel{}, fmt.Errorf("kernel modules directory %q: %w", modulesDir, api.ErrNotFound)
		}
		k.Release = filepath.Base(modulesDir)
	}
	return k, nil
}

// VerifyFile checks a downloaded file against its pinned sha256 (hex).
func VerifyFile(path, sha256hex string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("hash %s: %w", path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sha256hex {
		return fmt.Errorf("%s has sha256 %s, pinned %s: delete it and download again: %w", path, got, sha256hex, api.ErrCorrupt)
	}
	return nil
}
