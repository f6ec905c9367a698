// Command kernels fills the guest kernel cache from Debian with apt
// (make deps runs it): Debian's current cloud-amd64 and arm64 kernels,
// following their meta packages, plus busybox-static per arch for the VM
// tests. It does nothing for what is already current.
//
//	go run ./packaging/kernels [-dir DIR] [-arch amd64,arm64] [-busybox=false]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

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
	m, err := kernel.LoadManifest(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kernels:", err)
		os.Exit(1)
	}
	for arch, e := range m.Kernels {
		fmt.Printf("kernels: %s: %s %s (%s)\n", arch, e.Package, e.Version, e.Release)
	}
}
