package hvtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/kernel"
	"github.com/berthvm/berth/core/testenv"
)

// Fixtures are the files a VM test boots from, shared by a test binary.
type Fixtures struct {
	Arch     hypervisor.Arch
	Kernel   kernel.Kernel
	Agent    string
	Initrd   string
	BaseDisk string // read-only ext4: busybox, /etc/passwd, /etc/group
	dir      string
}

var (
	fixMu    sync.Mutex
	fixtures = map[string]*Fixtures{}
	workDir  string
)

// Spec says what a set of fixtures boots.
type Spec struct {
	// Name keys the fixtures (and their directory) within a test binary;
	// default the arch.
	Name string
	Arch hypervisor.Arch
	// Kernel is the guest kernel; default the kernel cache's for Arch
	// (make deps).
	Kernel *kernel.Kernel
	// Groups are the modules the initramfs carries; default
	// kernel.DefaultModuleGroups (QEMU's devices).
	Groups []kernel.ModuleGroup
}

// SetWorkDir sets where fixtures are built; call it from TestMain with a
// directory removed at the end (fixtures outlive single tests).
func SetWorkDir(dir string) { workDir = dir }

// moduleRoot finds the repository root (go.mod) from this file.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// BuildAgent builds app/agent for arch into dir, as make agent does.
func BuildAgent(ctx context.Context, arch hypervisor.Arch, dir string) (string, error) {
	out := filepath.Join(dir, "berth-agent-linux-"+string(arch))
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./app/agent")
	cmd.Dir = moduleRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+string(arch))
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the agent for %s: %v: %s", arch, err, b)
	}
	return out, nil
}

// Get returns the fixtures for arch with the kernel cache's kernel,
// building them on first use.
func Get(t testing.TB, arch hypervisor.Arch) *Fixtures { return For(t, Spec{Arch: arch}) }

// For returns the fixtures of s, building them on first use.
func For(t testing.TB, s Spec) *Fixtures {
	t.Helper()
	fixMu.Lock()
	defer fixMu.Unlock()
	if s.Name == "" {
		s.Name = string(s.Arch)
	}
	if f := fixtures[s.Name]; f != nil {
		return f
	}
	if workDir == "" {
		t.Fatal("hvtest.SetWorkDir was not called from TestMain")
	}
	var k kernel.Kernel
	if s.Kernel != nil {
		k = *s.Kernel
	} else {
		var err error
		if k, err = kernel.Locate(string(s.Arch)); err != nil {
			testenv.Missing(t, err.Error())
		}
	}
	kdir, _ := kernel.Dir()
	bb, err := kernel.Busybox(kdir, string(s.Arch))
	if err != nil {
		testenv.Missing(t, err.Error())
	}
	testenv.Tool(t, "mkfs.ext4", "e2fsprogs")
	f := &Fixtures{Arch: s.Arch, Kernel: k, dir: filepath.Join(workDir, s.Name)}
	if err := os.MkdirAll(f.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if f.Agent, err = BuildAgent(ctx, s.Arch, f.dir); err != nil {
		t.Fatal(err)
	}
	if f.Initrd, err = kernel.BuildInitramfs(ctx, kernel.InitramfsOptions{Kernel: k, Agent: f.Agent, Groups: s.Groups,
		CacheDir: filepath.Join(f.dir, "initramfs")}); err != nil {
		t.Fatal(err)
	}
	if f.BaseDisk, err = BusyboxDisk(bb, filepath.Join(f.dir, "base.ext4")); err != nil {
		t.Fatal(err)
	}
	fixtures[s.Name] = f
	return f
}

// BusyboxDisk makes a small ext4 image holding a static busybox with its
// applet links and minimal /etc files: an image's base disk in miniature.
func BusyboxDisk(busybox, out string) (string, error) {
	root, err := os.MkdirTemp(filepath.Dir(out), "root-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(root)
	for _, d := range []string{"bin", "etc", "tmp", "root", "home/app", "proc", "sys", "dev", "run", "data"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return "", err
		}
	}
	data, err := os.ReadFile(busybox)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "busybox"), data, 0o755); err != nil {
		return "", err
	}
	for _, applet := range strings.Fields("sh echo cat uname id sleep ls sync touch mkdir rm chmod dd hostname true false ip kill wc head stty printf test sed grep env pwd date mount " +
		// Network tests: a server, clients, a name lookup.
		"httpd wget nc nslookup timeout") {
		if err := os.Symlink("/bin/busybox", filepath.Join(root, "bin", applet)); err != nil {
			return "", err
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n",
		"etc/group":  "root:x:0:\napp:x:1000:\nstaff:x:50:app\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			return "", err
		}
	}
	if err := MakeExt4(out, 64, root); err != nil {
		return "", err
	}
	return out, nil
}

// MakeExt4 creates a sparse ext4 image of sizeMiB, filled from dir if set.
func MakeExt4(out string, sizeMiB int, dir string) error {
	args := []string{"-q", "-F", "-t", "ext4"}
	if dir != "" {
		args = append(args, "-d", dir)
	}
	args = append(args, out, fmt.Sprintf("%dM", sizeMiB))
	if b, err := exec.Command("mkfs.ext4", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("mkfs.ext4 %s: %v: %s", out, err, b)
	}
	return nil
}
