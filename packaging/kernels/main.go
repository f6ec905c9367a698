// Command kernels fills the guest kernel cache from Debian with apt
// (make deps runs it): Debian's current cloud-amd64 and arm64 kernels,
// following their meta packages, plus busybox-static per arch for the VM
// tests, plus the pinned arm64 kernel of the macOS build (downloaded and
// cut down by the very code a Mac runs on first use, so the tests boot
// what ships) and the pinned busybox-static per arch that a host without
// Debian's busybox builds the demo image from (kernel.BusyboxPins). It
// does nothing for what is already current.
//
//	go run ./packaging/kernels [-dir DIR] [-arch amd64,arm64] [-busybox=false] [-mac=false]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/kernel"
)

func main() {
	def, err := kernel.Dir()
	if err != nil {
		def = ""
	}
	dir := flag.String("dir", def, "kernel cache directory (default $BERTH_KERNEL_DIR or ~/.cache/berth/kernels)")
	arches := flag.String("arch", "amd64,arm64", "guest architectures to fetch")
	busybox := flag.Bool("busybox", true, "also fetch busybox-static per arch (test root filesystems)")
	mac := flag.Bool("mac", true, "also fetch the pinned arm64 kernel of the macOS build (kernel.MacKernel) and the pinned busybox-static per arch (kernel.BusyboxPins)")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "kernels: no cache directory: set BERTH_KERNEL_DIR or pass -dir")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	opts := kernel.FetchOptions{
		Arches:   strings.Split(*arches, ","),
		Busybox:  *busybox,
		Progress: func(s string) { fmt.Println("kernels:", s) },
	}
	if err := kernel.FetchDebian(ctx, *dir, opts); err != nil {
		fmt.Fprintln(os.Stderr, "kernels:", err)
		os.Exit(1)
	}
	if *mac {
		p := kernel.MacKernel
		fmt.Printf("kernels: macOS guest kernel %s %s\n", p.Package, p.Version)
		k, err := kernel.ProvisionPinned(ctx, *dir, p, kernel.VZModuleGroups, progressLine())
		if err != nil {
			// Not fatal for Linux work: Debian drops a kernel from its
			// pool once a newer one ships, and then the pin needs an
			// update (pinned.go says how); the macOS guest tests use
			// apt's arm64 kernel meanwhile.
			fmt.Fprintf(os.Stderr, "kernels: WARNING: the pinned macOS guest kernel %s %s could not be fetched: %v\n",
				p.Package, p.Version, err)
		} else {
			fmt.Printf("kernels: macOS guest kernel at %s\n", k.Path)
		}
		for _, arch := range []string{"amd64", "arm64"} {
			p := kernel.BusyboxPins[arch]
			bin, err := kernel.ProvisionBusybox(ctx, *dir, p, nil)
			if err != nil {
				// Not fatal either: apt's busybox serves Linux builds.
				fmt.Fprintf(os.Stderr, "kernels: WARNING: the pinned %s busybox-static %s could not be fetched: %v\n", arch, p.Version, err)
			} else {
				fmt.Printf("kernels: pinned %s busybox-static %s at %s\n", arch, p.Version, bin)
			}
		}
	}
	m, err := kernel.LoadManifest(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kernels:", err)
		os.Exit(1)
	}
	for arch, e := range m.Kernels {
		fmt.Printf("kernels: %s: %s %s (%s)\n", arch, e.Package, e.Version, e.Release)
	}
}

// progressLine prints a line per finished step and every 10 MiB.
func progressLine() api.ProgressFunc {
	var last int64
	return func(p api.Progress) {
		switch {
		case p.Done:
			fmt.Printf("kernels: %s done %s\n", p.Action, p.Message)
		case p.Action == "download" && p.Current-last >= 10<<20:
			last = p.Current
			fmt.Printf("kernels: download %d/%d MiB\n", p.Current>>20, p.Total>>20)
		}
	}
}
