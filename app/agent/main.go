//go:build linux

// Command agent is PID 1 of every Berth guest: it mounts the basics,
// loads the kernel modules the initramfs carries, finds its channel to
// the host (the virtio-serial port "agent" under QEMU, else vsock port
// 1024 under Apple's Virtualization framework) and serves the agent
// protocol (core/agent/proto) with core/guest's Server until the host asks
// it to power off. It links the guest side only, never the host's client.
//
// Built with GOOS=linux CGO_ENABLED=0 for amd64 and arm64 (make agent);
// the host finds it as berth-agent-linux-<arch> (core/agent's BinaryPath).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/buildinfo"
	"github.com/berthvm/berth/core/guest"
	"github.com/berthvm/berth/core/guestabi"
)

func main() {
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "berth agent: must run as PID 1 of a Berth guest")
		os.Exit(2)
	}
	// First: until then a container's `kill -TERM 1` would end PID 1
	// and panic the guest kernel.
	guest.SurviveSignals()
	console := &guest.Console{}
	if err := run(console); err != nil {
		fmt.Fprintln(console, "berth agent:", err)
		// A failure before the console module loaded: show it if the
		// console can still be had.
		console.Attach(time.Second)
	}
	// PID 1 must not exit (the kernel would panic); power off instead.
	unix.Sync()
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	select {}
}

// consoleWait is how long the agent waits for a console that is a module
// (hvc0) to appear once the boot modules are loaded.
const consoleWait = time.Second

func run(console *guest.Console) error {
	started := guest.Uptime()
	if err := guest.EarlyMounts(); err != nil {
		return err
	}
	// The kernel's console, if it had one for PID 1 (a UART under QEMU).
	console.Attach(0)
	slog.SetDefault(slog.New(slog.NewTextHandler(console, &slog.HandlerOptions{Level: slog.LevelWarn})))
	cmdline := ""
	if b, err := os.ReadFile("/proc/cmdline"); err == nil {
		cmdline = string(b)
	}
	_, debugValue := guestabi.ArgValue(cmdline, guestabi.ArgDebug)
	debug := debugValue || guestabi.HasArg(cmdline, guestabi.ArgDebug)
	var trace func(string)
	if debug {
		trace = func(what string) {
			fmt.Fprintf(console, "berth agent: %s at %v\n", what, guest.Uptime().Round(time.Millisecond))
		}
		trace("started")
	}
	if err := guest.LoadModules(guestabi.ModuleList(guestabi.GroupBoot), guestabi.ModulesDir, trace); err != nil {
		return err
	}
	// The virtio console (hvc0, Apple's Virtualization framework) is one
	// of the boot modules: from here on what the agent says is seen.
	wait := time.Duration(0)
	if slices.Contains(strings.Fields(cmdline), "console="+guestabi.VirtioConsole) {
		wait = consoleWait
	}
	if !console.Attach(wait) && wait > 0 {
		return fmt.Errorf("no console %s %v after loading the boot modules", guestabi.VirtioConsole, wait)
	}
	if trace != nil {
		trace("console attached")
	}
	features := []string{proto.FeatureACPIButton}
	// x86_64 binaries (--rosetta): before serving, so the host learns
	// from the handshake whether they will run.
	if x := guest.ParseX86Setup(cmdline); x.Wanted() {
		err := guest.LoadModules(guestabi.ModuleList(guestabi.GroupRosetta), guestabi.ModulesDir, trace)
		interp := ""
		if err == nil {
			interp, err = guest.SetupX86(x)
		}
		if err != nil {
			fmt.Fprintln(console, "berth agent: x86_64 binaries will not run:", err)
		} else {
			fmt.Fprintln(console, "berth agent: x86_64 binaries run through", interp)
			features = append(features, proto.FeatureX86)
		}
	}
	disks, network, firstStart := make(chan struct{}), make(chan struct{}), make(chan struct{})
	srv := guest.NewServer(guest.ServerOptions{Version: buildinfo.Get().Version, System: guest.RealSystem(trace),
		Features: features, InitUptime: started, DisksReady: disks, NetworkReady: network, Trace: trace,
		FirstStart: firstStart})
	// Disks, overlayfs and the network are not on the way to the
	// handshake: load them while the host connects. The power button can
	// wait until the container has started (or a host is slow to come).
	go func() {
		for _, g := range []struct {
			name  string
			ready chan struct{}
		}{{guestabi.GroupDisk, disks}, {guestabi.GroupNet, network}, {guestabi.GroupExtra, nil}} {
			if g.name == guestabi.GroupExtra {
				select {
				case <-firstStart:
				case <-time.After(5 * time.Second):
				}
			}
			if err := guest.LoadModules(guestabi.ModuleList(g.name), guestabi.ModulesDir, trace); err != nil {
				fmt.Fprintf(console, "berth agent: %s modules: %v\n", g.name, err)
			}
			if g.ready != nil {
				close(g.ready)
			}
		}
		// The input device appears asynchronously after the module loads.
		for i := 0; i < 50 && !guest.WatchPowerButton(srv.RequestShutdown); i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}()
	ctx := context.Background()
	// The virtio-serial port (QEMU) or the vsock device (vz) shows up as
	// soon as its driver has probed; after 3 s with neither, try vsock.
	findCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	ch := guest.FindChannel(findCtx, guestabi.SerialPort)
	cancel()
	if trace != nil {
		trace("channel found")
	}
	if !ch.Vsock {
		fmt.Fprintln(console, "berth agent: ready on", ch.Port)
		return srv.ServePort(ctx, ch.Port)
	}
	fmt.Fprintln(console, "berth agent: ready on vsock port", guestabi.VsockPort)
	return srv.ServeVsock(ctx, guestabi.VsockPort)
}
