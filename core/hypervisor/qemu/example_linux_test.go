package qemu_test

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/berthvm/berth/core/agent"
	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/hypervisor/qemu"
	"github.com/berthvm/berth/core/kernel"
	"github.com/berthvm/berth/core/runtime"
)

// How core/runtime runs a container: kernel and initramfs, boot, connect,
// prepare the container, run its process, stop the VM. Errors are
// ignored here for brevity only.
func Example() {
	ctx := context.Background()
	k, _ := kernel.Locate("")                                                                    // make deps filled the cache
	agentBin, _ := agent.BinaryPath(k.Arch)                                                      // berth-agent-linux-<arch> beside berth
	initrd, _ := kernel.BuildInitramfs(ctx, kernel.InitramfsOptions{Kernel: k, Agent: agentBin}) // cached

	d := qemu.New()
	m, _ := d.Start(ctx, hypervisor.VMConfig{
		ID: "web", Arch: hypervisor.Arch(k.Arch), CPUs: 2, MemoryMiB: 512,
		Kernel: k.Path, Initrd: initrd,
		Disks: []hypervisor.Disk{
			{ID: "base", Path: "/data/images/sha256-abc.ext4", ReadOnly: true}, // core/rootfs
			{ID: "upper", Path: "/data/containers/web/layer.ext4"},             // host-formatted ext4
		},
		Networks: []hypervisor.Network{{Mode: hypervisor.NetworkNAT, MAC: "52:54:00:12:34:56"}},
		RunDir:   "/run/berth/vm/web", // the VM's own: removed when it is gone
	})
	// Persist m.Handle() now: a restarted core re-adopts with d.Adopt.

	c, _ := agent.Connect(ctx, func(ctx context.Context) (io.ReadWriteCloser, error) { return m.DialAgent(ctx) })
	_ = c.SetTime(ctx, time.Now())
	_ = c.ConfigureNetwork(ctx, proto.NetworkConfig{
		Interfaces: []proto.Interface{{MAC: "52:54:00:12:34:56", Address: "10.0.2.15/24"}}, Gateway: "10.0.2.2"})
	_ = c.CreateContainer(ctx, proto.ContainerConfig{ID: "web",
		Base: proto.Device{Serial: "base"}, Upper: proto.Device{Serial: "upper"},
		Hostname: "web", DNS: &proto.DNS{Servers: []string{"10.0.2.3"}}})
	spec, _ := runtime.Merge(runtime.ImageConfig{Cmd: []string{"nginx", "-g", "daemon off;"}}, runtime.Overrides{})
	p, _ := c.Start(ctx, "web", "main", spec, agent.Stdio{Stdout: true, Stderr: true})
	go io.Copy(os.Stdout, p.Stdout)
	go io.Copy(os.Stderr, p.Stderr)
	st, _ := p.Wait(ctx)
	_ = st.Code

	_ = hypervisor.Shutdown(ctx, m, c, 10*time.Second) // agent, then ACPI, then kill
}
