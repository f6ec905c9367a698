// Command demoimage builds Berth's demo image (berth/demo:latest) from a
// static busybox, such as Debian's busybox-static, with no network: the
// image `make demo` runs and that the berth binary embeds (resources/demo).
//
//	go run ./packaging/demoimage -busybox /bin/busybox -arch amd64 -o resources/demo/demo-amd64.tar
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/berthvm/berth/core/kernel"
	"github.com/berthvm/berth/resources"
)

func main() {
	bb := flag.String("busybox", "auto", "a static busybox binary for -arch; auto: /bin/busybox for the host's arch, else the one make deps fetched into the kernel cache")
	arch := flag.String("arch", runtime.GOARCH, "the image's architecture (amd64, arm64)")
	out := flag.String("o", "", "output docker-save tarball")
	flag.Parse()
	if *out == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: demoimage -busybox PATH -arch ARCH -o OUT.tar")
		os.Exit(2)
	}
	if err := run(*bb, *arch, *out); err != nil {
		fmt.Fprintln(os.Stderr, "demoimage:", err)
		os.Exit(1)
	}
}

func run(busyboxPath, arch, out string) error {
	if arch != "amd64" && arch != "arm64" {
		return fmt.Errorf("arch %q: want amd64 or arm64", arch)
	}
	if busyboxPath == "auto" {
		busyboxPath = findBusybox(arch)
	}
	bin, err := os.ReadFile(busyboxPath)
	if err != nil {
		return fmt.Errorf("read busybox (install Debian's busybox-static, or make deps): %w", err)
	}
	img, err := build(spec{Busybox: bin, Arch: arch, Applets: applets(busyboxPath, arch)})
	if err != nil {
		return err
	}
	if err := write(img, resources.DemoImageRef, out); err != nil {
		return err
	}
	fmt.Printf("demoimage: wrote %s (%s, linux/%s)\n", out, resources.DemoImageRef, arch)
	return nil
}

// findBusybox picks Debian's busybox-static for arch: the host's own when
// the arch matches, else the copy packaging/kernels keeps in the kernel cache.
func findBusybox(arch string) string {
	if arch == runtime.GOARCH {
		if _, err := os.Stat("/bin/busybox"); err == nil {
			return "/bin/busybox"
		}
	}
	dir, err := kernel.Dir()
	if err != nil {
		return "/bin/busybox"
	}
	m, err := kernel.LoadManifest(dir)
	if err != nil {
		return "/bin/busybox"
	}
	if e, ok := m.Busybox[arch]; ok {
		return filepath.Join(dir, e.Path)
	}
	return "/bin/busybox"
}

// applets asks busybox for its applet list when it can run here; nil lets
// build fall back to a fixed list.
func applets(busyboxPath, arch string) []string {
	if arch != runtime.GOARCH {
		return nil
	}
	b, err := exec.Command(busyboxPath, "--list-full").Output()
	if err != nil {
		return nil
	}
	return strings.Fields(string(b))
}
