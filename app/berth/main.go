// Command berth is Berth's command-line interface and, as `berth daemon`,
// its core service. See app/berth/cli for the commands.
package main

import (
	"context"
	"os"

	"github.com/berthvm/berth/app/berth/cli"
	"github.com/berthvm/berth/core/hypervisor/vz"
)

func main() {
	// As `berth vm-host RUN_DIR` this process hosts one VM (macOS) and
	// never returns.
	vz.MaybeRunHost()
	os.Exit(cli.Main(context.Background(), os.Args[1:], cli.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}))
}
