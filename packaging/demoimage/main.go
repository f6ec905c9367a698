// Command demoimage builds Berth's demo image (berth/demo:latest) from
// Debian's busybox-static: the image `make demo` runs and that the berth
// binary embeds (resources/demo). It takes the system's busybox on Debian
// (or the one make deps fetched with apt), and on any other host, a Mac
// included, downloads the pinned package (kernel.BusyboxPins, sha256-
// verified) into the kernel cache once; after that it needs no network.
//
//	go run ./packaging/demoimage [-busybox PATH] -arch amd64 -o resources/demo/demo-amd64.tar
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/kernel"
	"github.com/berthvm/berth/resources"
)

func main() {
	bb := flag.String("busybox", "auto", "a static busybox binary for -arch; auto: /bin/busybox on Linux for the host's arch, else the one make deps fetched into the kernel cache, else Debian's pinned busybox-static, downloaded into the kernel cache")
	arch := flag.String("arch", runtime.GOARCH, "the image's architecture (amd64, arm64)")
	out := flag.String("o", "", "output docker-save tarball")
	flag.Parse()
	if *out == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: demoimage -busybox PATH -arch ARCH -o OUT.tar")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *bb, *arch, *out); err != nil {
		fmt.Fprintln(os.Stderr, "demoimage:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, busyboxPath, arch, out string) error {
	if arch != "amd64" && arch != "arm64" {
		return fmt.Errorf("arch %q: want amd64 or arm64", arch)
	}
	if busyboxPath == "auto" {
		dir, err := kernel.Dir()
		if err != nil {
			return err
		}
		if busyboxPath, err = findBusybox(ctx, sources{dir: dir, goos: runtime.GOOS, goarch: runtime.GOARCH, system: "/bin/busybox"}, arch); err != nil {
			return err
		}
	}
	bin, err := os.ReadFile(busyboxPath)
	if err != nil {
		return fmt.Errorf("read busybox: %w", err)
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

// sources are where findBusybox looks.
type sources struct {
	dir          string // the kernel cache
	goos, goarch string // the build host
	system       string // the system's busybox (/bin/busybox)
	pins         map[string]kernel.Pin
}

// findBusybox picks Debian's busybox-static for arch: the system's own on
// Linux when the arch matches, else apt's copy that make deps keeps in the
// kernel cache, else the pinned package, downloaded into the cache once.
func findBusybox(ctx context.Context, s sources, arch string) (string, error) {
	if s.goos == "linux" && arch == s.goarch {
		if fi, err := os.Stat(s.system); err == nil && fi.Mode().IsRegular() {
			return s.system, nil
		}
	}
	if p, err := kernel.Busybox(s.dir, arch); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if s.pins == nil {
		s.pins = kernel.BusyboxPins
	}
	pin, ok := s.pins[arch]
	if !ok {
		return "", fmt.Errorf("no pinned busybox-static for %s: %w", arch, api.ErrUnsupported)
	}
	if p, err := kernel.LocatePinnedBusybox(s.dir, pin); err == nil {
		return p, nil
	}
	fmt.Fprintf(os.Stderr, "demoimage: downloading Debian's busybox-static %s for %s into %s\n", pin.Version, arch, s.dir)
	p, err := kernel.ProvisionBusybox(ctx, s.dir, pin, nil)
	if err != nil {
		if errors.Is(err, api.ErrUnavailable) {
			return "", fmt.Errorf("%w; or give a static Linux busybox for %s with -busybox PATH", err, arch)
		}
		return "", err
	}
	return p, nil
}

// applets asks busybox for its applet list when it can run here; nil lets
// build fall back to the pinned version's list.
func applets(busyboxPath, arch string) []string {
	if runtime.GOOS != "linux" || arch != runtime.GOARCH {
		return nil
	}
	b, err := exec.Command(busyboxPath, "--list-full").Output()
	if err != nil {
		return nil
	}
	return strings.Fields(string(b))
}
