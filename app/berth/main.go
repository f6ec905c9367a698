// Command berth is Berth's command-line interface and, as `berth daemon`,
// its core service; it is also Berth.app's main executable, which runs the
// menu bar when opened as the app (launch.go). See app/berth/cli for the
// commands.
package main

import (
	"context"
	"os"

	"github.com/berthvm/berth/app/berth/cli"
	"github.com/berthvm/berth/core/hypervisor/vz"
	"github.com/berthvm/berth/core/network/nethost"
)

func main() {
	// As `berth vm-host RUN_DIR` this process hosts one VM (macOS) and
	// never returns.
	vz.MaybeRunHost()
	// As `berth net-host RUN_DIR` it runs one network and never returns.
	nethost.MaybeRun()
	// Opened as Berth.app, this binary runs the menu bar (launchArgs).
	exe, _ := os.Executable()
	args := launchArgs(os.Args[0], exe, os.Args[1:])
	os.Exit(cli.Main(context.Background(), args, cli.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}))
}
