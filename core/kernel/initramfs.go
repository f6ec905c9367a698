package kernel

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"github.com/berthvm/berth/core/guestabi"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/atomicfile"
)

// Paths inside the initramfs, shared with the agent (see layout).
const (
	InitPath   = guestabi.InitPath
	ModulesDir = guestabi.ModulesDir
)

// ModuleList is where the initramfs lists a group's modules.
func ModuleList(group string) string { return guestabi.ModuleList(group) }

// initramfsFormat changes whenever the layout above changes, so cached
// images from an older layout are not reused.
const initramfsFormat = "berth-initramfs-4"

// InitramfsOptions say what goes into an initramfs.
type InitramfsOptions struct {
	Kernel Kernel
	// Agent is the agent binary built for Kernel.Arch.
	Agent string
	// Groups of modules (dependencies are added); ignored for a kernel
	// without ModulesDir. Default DefaultModuleGroups.
	Groups []ModuleGroup
	// CacheDir holds built images; default <kernel cache>/initramfs.
	CacheDir string
	// Extra files (absolute path in the image -> content, mode 0755),
	// such as an interpreter a test registers for x86_64 binaries.
	Extra map[string][]byte
}

// BuildInitramfs returns the path of the initramfs for opts, building it
// only when no image with the same content exists in the cache.
func BuildInitramfs(ctx context.Context, opts InitramfsOptions) (string, error) {
	if opts.Groups == nil {
		opts.Groups = DefaultModuleGroups
	}
	if opts.CacheDir == "" {
		dir, err := Dir()
		if err != nil {
			return "", err
		}
		opts.CacheDir = filepath.Join(dir, "initramfs")
	}
	agent, err := os.ReadFile(opts.Agent)
	if err != nil {
		return "", fmt.Errorf("agent binary %q: %w: build it with make agent or set BERTH_AGENT_DIR", opts.Agent, api.ErrNotFound)
	}
	if err := checkAgentArch(agent, opts.Kernel.Arch); err != nil {
		return "", fmt.Errorf("agent binary %q: %w", opts.Agent, err)
	}
	groups := make([][]Module, len(opts.Groups))
	if opts.Kernel.ModulesDir != "" {
		idx, err := newModuleIndex(opts.Kernel.ModulesDir)
		if err != nil {
			return "", err
		}
		done := map[string]bool{}
		for i, g := range opts.Groups {
			if groups[i], err = idx.resolve(g.Modules, done); err != nil {
				return "", fmt.Errorf("kernel %s: %w", opts.Kernel.Release, err)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	// The key covers every byte that goes in, so a new agent or module
	// build gets a new image and an unchanged one is reused.
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", initramfsFormat, opts.Kernel.Arch)
	h.Write(agent)
	contents := map[string][]byte{}
	for i, group := range groups {
		fmt.Fprintf(h, "group %s\n", opts.Groups[i].Name)
		for _, m := range group {
			data, err := os.ReadFile(m.Path)
			if err != nil {
				return "", fmt.Errorf("module %s: %w", m.Name, err)
			}
			data = stripModuleSignature(data)
			contents[m.Name] = data
			fmt.Fprintf(h, "\n%s %d\n", m.Name, len(data))
			h.Write(data)
		}
		fmt.Fprintf(h, "--\n")
	}
	extra := make([]string, 0, len(opts.Extra))
	for name := range opts.Extra {
		if !strings.HasPrefix(name, "/") || strings.Contains(name, "..") || name == InitPath {
			return "", fmt.Errorf("initramfs extra file %q: want an absolute path other than %s: %w", name, InitPath, api.ErrInvalidArgument)
		}
		extra = append(extra, name)
	}
	sort.Strings(extra)
	for _, name := range extra {
		fmt.Fprintf(h, "extra %s %d\n", name, len(opts.Extra[name]))
		h.Write(opts.Extra[name])
	}
	key := hex.EncodeToString(h.Sum(nil))[:32]
	out := filepath.Join(opts.CacheDir, fmt.Sprintf("initramfs-%s-%s.cpio", opts.Kernel.Arch, key))
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
		return "", fmt.Errorf("initramfs cache: %w", err)
	}
	tmp, err := atomicfile.Create(out, 0o644)
	if err != nil {
		return "", fmt.Errorf("initramfs cache: %w", err)
	}
	defer tmp.Abort()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	c := newCPIO(bw)
	err = func() error {
		for _, d := range []string{"dev", "proc", "sys", "run", "tmp", "mnt"} {
			if err := c.mkdirAll(d, 0o755); err != nil {
				return err
			}
		}
		for _, n := range guestabi.DeviceNodes {
			if err := c.charDev(n.Path, n.Perm, n.Major, n.Minor); err != nil {
				return err
			}
		}
		if err := c.file(InitPath, 0o755, agent); err != nil {
			return err
		}
		for _, name := range extra {
			if err := c.file(name, 0o755, opts.Extra[name]); err != nil {
				return err
			}
		}
		for i, g := range opts.Groups {
			var names []string
			for _, m := range groups[i] {
				names = append(names, m.Name)
				if err := c.file(ModulesDir+"/"+m.Name+".ko", 0o644, contents[m.Name]); err != nil {
					return err
				}
			}
			if err := c.file(ModuleList(g.Name), 0o644, []byte(strings.Join(names, "\n"))); err != nil {
				return err
			}
		}
		if err := c.close(); err != nil {
			return err
		}
		return bw.Flush()
	}()
	if err != nil {
		return "", fmt.Errorf("write initramfs: %w", err)
	}
	if err := tmp.Commit(); err != nil {
		return "", fmt.Errorf("write initramfs: %w", err)
	}
	pruneInitramfs(opts.CacheDir, opts.Kernel.Arch, out, time.Now())
	return out, nil
}

// moduleSigMagic ends a module with an appended signature.
const moduleSigMagic = "~Module signature appended~\n"

// stripModuleSignature drops a module's appended signature. The kernel
// then loads it unverified (Debian's kernels do not force signatures;
// the kernel notes a taint), which saves checking an RSA signature per
// module at every boot: tens of milliseconds each under emulation. The
// modules were verified once already, by apt, when make deps fetched the
// kernel package (or by sha256 against the pin, on macOS).
func stripModuleSignature(ko []byte) []byte {
	// [module][signature][struct module_signature: 12 bytes][magic]
	const tail = 12
	n := len(ko) - len(moduleSigMagic)
	if n < tail || string(ko[n:]) != moduleSigMagic {
		return ko
	}
	sigLen := int(binary.BigEndian.Uint32(ko[n-4 : n]))
	end := n - tail - sigLen
	if sigLen <= 0 || end <= 0 {
		return ko
	}
	return ko[:end]
}

// Initramfs images kept per arch beside the newest: every agent build
// makes a new image, and the cache must not grow without end.
const (
	keepInitramfs   = 3
	initramfsMinAge = time.Hour // a VM may be about to boot a recent one
)

// pruneInitramfs removes all but the newest images of arch (and never
// keep, the one just made, nor any image younger than initramfsMinAge).
func pruneInitramfs(dir, arch, keep string, now time.Time) {
	paths, _ := filepath.Glob(filepath.Join(dir, "initramfs-"+arch+"-*.cpio"))
	type image struct {
		path string
		mod  time.Time
	}
	var images []image
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && p != keep {
			images = append(images, image{p, fi.ModTime()})
		}
	}
	sort.Slice(images, func(i, j int) bool { return images[i].mod.After(images[j].mod) })
	for i, im := range images {
		if i >= keepInitramfs-1 && now.Sub(im.mod) > initramfsMinAge {
			os.Remove(im.path)
		}
	}
}
