// Command agent is PID 1 of every Berth guest: it mounts the basics,
// loads the kernel modules the initramfs carries, finds its channel to
// the host (the virtio-serial port "agent" under QEMU, else vsock port
// 1024 under Apple's Virtualization framework) and serves the protocol of
// core/agent until the host asks it to power off.
//
// Built with GOOS=linux CGO_ENABLED=0 for amd64 and arm64 (make agent);
// the host finds it as berth-agent-linux-<arch> (see agent.BinaryPath).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berthvm/berth/core/agent"
	"github.com/berthvm/berth/core/kernel"
)

// version is set at build time (-ldflags -X main.version=...).
var version = "dev"

// VsockPort is where the agent listens when there is no virtio-serial port.
const VsockPort = 1024

func main() {
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "berth agent: must run as PID 1 of a Berth guest")
		os.Exit(2)
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "berth agent:", err)
	}
	// PID 1 must not exit (the kernel would panic); power off instead.
	unix.Sync()
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	select {}
}

func run() error {
	if err := agent.EarlyMounts(); err != nil {
		return err
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err := agent.LoadModules(kernel.BootModulesList, kernel.ModulesDir); err != nil {
		return err
	}
	srv := agent.NewServer(agent.ServerOptions{Version: version, System: agent.GuestSystem(),
		Features: []string{agent.FeatureACPIButton}})
	// The power button and its input events are not on the way to the
	// first process: load them while the host connects.
	go func() {
		if err := agent.LoadModules(kernel.LateModulesList, kernel.ModulesDir); err != nil {
			slog.Warn("late modules", "err", err)
		}
		// The input device appears asynchronously after the module loads.
		for i := 0; i < 50 && !agent.WatchPowerButton(srv.RequestShutdown); i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}()
	ctx := context.Background()
	findCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	port, err := agent.FindPort(findCtx, "agent")
	cancel()
	if err == nil {
		fmt.Fprintln(os.Stderr, "berth agent: ready on", port)
		return srv.ServePort(ctx, port)
	}
	fmt.Fprintln(os.Stderr, "berth agent: ready on vsock port", VsockPort)
	return srv.ServeVsock(ctx, VsockPort)
}
