package kernel

import (
	"bytes"
	"debug/elf"
	"fmt"
	"github.com/berthvm/berth/core/guestabi"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/berthvm/berth/core/api"
)

// ModuleGroup is a set of modules the agent loads together, in the
// initramfs as ModulesDir/../modules.<Name> (names in load order).
type ModuleGroup struct {
	Name    string
	Modules []string // wanted names; dependencies are added
}

// Module groups, in the order the agent loads them (see layout).
const (
	GroupBoot  = guestabi.GroupBoot
	GroupDisk  = guestabi.GroupDisk
	GroupNet   = guestabi.GroupNet
	GroupExtra = guestabi.GroupExtra
)

// DefaultModuleGroups serve a guest under QEMU.
var DefaultModuleGroups = []ModuleGroup{
	{GroupBoot, []string{"virtio_mmio", "virtio_console"}},
	{GroupDisk, []string{"virtio_blk", "ext4", "overlay", "virtiofs"}},
	{GroupNet, []string{"virtio_net"}},
	{GroupExtra, []string{"button", "evdev", "virtio_balloon"}},
}

// VsockModules serve the agent over vsock (Apple's Virtualization
// framework, with a kernel that has them as modules): add them to the
// boot group.
var VsockModules = []string{"virtio_pci", "vmw_vsock_virtio_transport"}

// Module is one loadable module file.
type Module struct {
	Name string // normalised: dashes as underscores
	Path string
}

type modInfo struct {
	depends  []string
	softPre  []string
	aliases  []string
	filePath string
}

// moduleIndex knows a kernel's module files and built-in modules.
type moduleIndex struct {
	dir     string
	files   map[string]string // name -> path
	builtin map[string]bool
	aliases map[string]string // alias -> module name; built lazily
	infos   map[string]*modInfo
}

func normalise(name string) string { return strings.ReplaceAll(name, "-", "_") }

func newModuleIndex(dir string) (*moduleIndex, error) {
	idx := &moduleIndex{dir: dir, files: map[string]string{}, builtin: map[string]bool{}, infos: map[string]*modInfo{}}
	b, err := os.ReadFile(filepath.Join(dir, "modules.builtin"))
	if err != nil {
		return nil, fmt.Errorf("kernel modules %s: %w (is this /lib/modules/<release>?)", dir, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if line != "" {
			idx.builtin[modName(line)] = true
		}
	}
	err = filepath.WalkDir(filepath.Join(dir, "kernel"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case strings.HasSuffix(p, ".ko"):
			idx.files[modName(p)] = p
		case strings.HasSuffix(p, ".ko.xz"), strings.HasSuffix(p, ".ko.zst"), strings.HasSuffix(p, ".ko.gz"):
			// Loading these needs the kernel's decompressor support and
			// a flag to finit_module; the kernels we use ship plain .ko.
			idx.files[modName(p)] = p
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("kernel modules %s: %w", dir, err)
	}
	return idx, nil
}

func modName(p string) string {
	base := filepath.Base(p)
	base = base[:strings.Index(base, ".ko")]
	return normalise(base)
}

func (idx *moduleIndex) info(name string) (*modInfo, error) {
	if mi := idx.infos[name]; mi != nil {
		return mi, nil
	}
	p := idx.files[name]
	if !strings.HasSuffix(p, ".ko") {
		return nil, fmt.Errorf("module %s is compressed (%s); only plain .ko modules are supported: %w", name, filepath.Base(p), api.ErrUnsupported)
	}
	f, err := elf.Open(p)
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", p, err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("module %s has no .modinfo: %w", p, api.ErrCorrupt)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", p, err)
	}
	mi := &modInfo{filePath: p}
	for _, kv := range bytes.Split(data, []byte{0}) {
		k, v, ok := strings.Cut(string(kv), "=")
		if !ok {
			continue
		}
		switch k {
		case "depends":
			for _, d := range strings.Split(v, ",") {
				if d != "" {
					mi.depends = append(mi.depends, normalise(d))
				}
			}
		case "softdep":
			// "pre: a b post: c": only pre-dependencies must load first.
			pre := false
			for _, w := range strings.Fields(v) {
				switch w {
				case "pre:":
					pre = true
				case "post:":
					pre = false
				default:
					if pre {
						mi.softPre = append(mi.softPre, w)
					}
				}
			}
		case "alias":
			mi.aliases = append(mi.aliases, v)
		}
	}
	idx.infos[name] = mi
	return mi, nil
}

// resolveAlias finds the module for a soft dependency that names an alias
// (ext4's "crypto-crc32c"). It reports "" when a built-in provides it.
func (idx *moduleIndex) resolveAlias(alias string) (string, error) {
	if n := normalise(alias); idx.files[n] != "" || idx.builtin[n] {
		if idx.builtin[n] {
			return "", nil
		}
		return n, nil
	}
	if b, err := os.ReadFile(filepath.Join(idx.dir, "modules.builtin.modinfo")); err == nil {
		for _, kv := range bytes.Split(b, []byte{0}) {
			if _, v, ok := strings.Cut(string(kv), ".alias="); ok && v == alias {
				return "", nil
			}
		}
	}
	if idx.aliases == nil {
		// Reading every module's .modinfo is slow (thousands of files), so
		// it happens only when a soft dependency names an alias.
		idx.aliases = map[string]string{}
		for name := range idx.files {
			mi, err := idx.info(name)
			if err != nil {
				continue
			}
			for _, a := range mi.aliases {
				if _, dup := idx.aliases[a]; !dup || strings.HasSuffix(name, "_generic") {
					idx.aliases[a] = name
				}
			}
		}
	}
	if n, ok := idx.aliases[alias]; ok {
		return n, nil
	}
	return "", nil // a soft dependency may be absent
}

// ResolveModules returns the module files to load, in an order where each
// comes after its dependencies, for the wanted names. Built-in modules
// are skipped; a wanted module that is neither built in nor present is an
// error naming the kernel.
func ResolveModules(modulesDir string, wanted []string) ([]Module, error) {
	idx, err := newModuleIndex(modulesDir)
	if err != nil {
		return nil, err
	}
	return idx.resolve(wanted, nil)
}

func (idx *moduleIndex) resolve(wanted []string, done map[string]bool) ([]Module, error) {
	if done == nil {
		done = map[string]bool{}
	}
	var out []Module
	visiting := map[string]bool{}
	var visit func(name string, chain []string) error
	visit = func(name string, chain []string) error {
		name = normalise(name)
		if done[name] || idx.builtin[name] {
			return nil
		}
		if visiting[name] {
			return fmt.Errorf("module dependency cycle: %s: %w", strings.Join(append(chain, name), " -> "), api.ErrCorrupt)
		}
		if idx.files[name] == "" {
			return fmt.Errorf("module %s is neither built into the kernel nor in %s: %w", name, idx.dir, api.ErrNotFound)
		}
		visiting[name] = true
		mi, err := idx.info(name)
		if err != nil {
			return err
		}
		for _, s := range mi.softPre {
			dep, err := idx.resolveAlias(s)
			if err != nil {
				return err
			}
			if dep != "" {
				if err := visit(dep, append(chain, name)); err != nil {
					return err
				}
			}
		}
		for _, d := range mi.depends {
			if err := visit(d, append(chain, name)); err != nil {
				return err
			}
		}
		visiting[name] = false
		done[name] = true
		out = append(out, Module{Name: name, Path: idx.files[name]})
		return nil
	}
	for _, w := range wanted {
		if err := visit(w, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}
