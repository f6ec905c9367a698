// Package vzqemu boots the guest that Apple's Virtualization framework
// would boot, under qemu-system-aarch64, so that Linux tests see what a Mac
// sees. It translates the very Plan the darwin code walks (vz.BuildPlan):
// the same kernel, initramfs and kernel command line, and the same devices
// in the same order, each as the QEMU device closest to vz's:
//
//	vz                                  QEMU (virt machine)
//	virtio console to a file (hvc0)     virtconsole on its own virtio-serial-pci, to the file
//	virtio-blk, cached, serial = ID     virtio-blk-pci, cache=writeback, serial = ID
//	virtio-vsock (agent on port 1024)   virtserialport "agent" on a second virtio-serial-pci (*)
//	virtio entropy                      virtio-rng-pci
//	traditional balloon                 virtio-balloon-pci (no free page reporting: vz has none)
//	NAT attachment                      user networking on virtio-net-pci, same MAC
//	file-handle (datagram) attachment   -netdev dgram on the plan's two socket paths
//	PL061 GPIO power key (RequestStop)  the virt machine's PL061 power key (QMP system_powerdown)
//	virtio-fs shared folder (tag)       vhost-user-fs-pci, same tag, served by virtiofsd (**),
//	                                    guest RAM as shared memory (a memfd)
//
// No UART is wired (-nodefaults, no -serial): as on a Mac, nothing the
// kernel prints before virtio_console loads is seen anywhere.
//
// (*) What no Linux host here can provide: vsock (no /dev/vhost-vsock),
// so the agent is reached over virtio-serial; Apple's CPU and its
// device tree (QEMU emulates a Cortex-A72 and has its own); the Rosetta
// share (Rosetta exists only on a Mac: plans with it are refused). Every
// other difference is a bug in this translation.
//
// (**) The guest's side of a shared folder is the same (the same virtiofs
// driver, device kind and tag, mounted the same way); the server is not:
// Apple's own virtio-fs server exists only on a Mac, so here QEMU's
// driver serves each share with virtiofsd (its read-only binding, its
// cache mode, its view of file owners: root's guest uids pass through,
// where a Mac makes every file the user's).
//
// It is test support: imported by tests (and benchmarks), never by
// product code.
package vzqemu

import (
	"fmt"
	"runtime"
	"strconv"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/capabilities"
	"github.com/berthvm/berth/core/guestabi"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/hypervisor/qemu"
	"github.com/berthvm/berth/core/hypervisor/vz"
)

// Mac is the Mac the plans are made for: Apple silicon, with the
// framework's limits as a Mac with this machine's CPU count reports them,
// and neither nested virtualization nor Rosetta (neither can be shown
// here).
func Mac() vz.Host {
	return vz.Host{
		Arch: hypervisor.ARM64,
		Limits: vz.Limits{MinCPUs: 1, MaxCPUs: uint(max(runtime.NumCPU(), 1)),
			MinMemory: 128 << 20, MaxMemory: 64 << 30},
		Caps: api.Capabilities{OS: "darwin", Arch: "arm64", Hypervisor: "vz", Accelerator: capabilities.AccelHVF,
			NestedVirtualizationReason: "not shown under QEMU", RosettaReason: "Rosetta exists only on a Mac"},
	}
}

// Args is QEMU's command line (without the binary) for plan on h. f are
// the files the QEMU driver watches; the plan's console must be f's.
func Args(p vz.Plan, h qemu.Host, f qemu.Files) ([]string, error) {
	if p.Console != f.Console {
		return nil, fmt.Errorf("VM %q: the plan's console %s is not the driver's %s: %w", p.ID, p.Console, f.Console, api.ErrInvalidArgument)
	}
	machine := "virt"
	if p.Count(vz.DevShare) > 0 {
		machine += "," + qemu.SharedMemoryBackend
	}
	args := []string{
		"-name", "berth-" + p.ID,
		"-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
		"-monitor", "none",
		"-machine", machine,
	}
	if p.Count(vz.DevShare) > 0 {
		args = append(args, qemu.SharedMemoryArgs(int(p.MemoryBytes>>20))...)
	}
	args = append(args, qemu.AccelArgs(h, hypervisor.ARM64)...)
	args = append(args,
		"-smp", strconv.FormatUint(uint64(p.CPUs), 10),
		"-m", strconv.FormatUint(p.MemoryBytes>>20, 10),
		"-kernel", p.Kernel,
	)
	if p.Initrd != "" {
		args = append(args, "-initrd", p.Initrd)
	}
	args = append(args, "-append", p.Cmdline)
	shares := 0
	for i, d := range p.Devices {
		if d.Kind == vz.DevShare {
			// The plan keeps cfg's order of shares, and so do the
			// driver's virtiofsd sockets.
			if shares >= len(f.Shares) {
				return nil, fmt.Errorf("VM %q: share %q has no virtiofsd socket: %w", p.ID, d.Tag, api.ErrInvalidArgument)
			}
			args = append(args, qemu.ShareDevice(shares, d.Tag, f.Shares[shares], true)...)
			shares++
			continue
		}
		dev, err := device(d, i, f)
		if err != nil {
			return nil, fmt.Errorf("VM %q: %w", p.ID, err)
		}
		args = append(args, dev...)
	}
	// vz's RequestStop presses the guest's power key; QMP's
	// system_powerdown presses the virt machine's.
	return append(args, "-qmp", "unix:"+f.QMPSocket+",server=on,wait=off"), nil
}

// device is one plan device as QEMU arguments; i makes ids unique.
func device(d vz.Device, i int, f qemu.Files) ([]string, error) {
	id := strconv.Itoa(i)
	switch d.Kind {
	case vz.DevConsole:
		// The QEMU driver appends the console to d.Path (f.Console).
		return append(qemu.ConsoleChardev(f),
			"-device", "virtio-serial-pci,id=console-bus,max_ports=1",
			"-device", "virtconsole,chardev=console,bus=console-bus.0"), nil
	case vz.DevBlock:
		if d.Caching != vz.CachingCached {
			return nil, fmt.Errorf("disk %s: caching %q has no QEMU counterpart here: %w", d.ID, d.Caching, api.ErrUnsupported)
		}
		drive := fmt.Sprintf("if=none,id=disk-%s,file=%s,format=raw,cache=writeback,%s", d.ID, d.Path, qemu.DriveErrorPolicy)
		if d.ReadOnly {
			drive += ",readonly=on"
		}
		return []string{"-drive", drive,
			"-device", fmt.Sprintf("virtio-blk-pci,drive=disk-%s,serial=%s", d.ID, d.ID)}, nil
	case vz.DevVsock:
		return []string{"-chardev", "socket,id=agent,path=" + f.AgentSocket + ",server=on,wait=off",
			"-device", "virtio-serial-pci,id=agent-bus",
			"-device", "virtserialport,chardev=agent,name=" + guestabi.SerialPort + ",bus=agent-bus.0"}, nil
	case vz.DevEntropy:
		return []string{"-device", "virtio-rng-pci"}, nil
	case vz.DevBalloon:
		return []string{"-device", "virtio-balloon-pci"}, nil
	case vz.DevNet:
		var netdev string
		switch d.Attachment {
		case vz.AttachNAT:
			netdev = "user,id=net" + id
		case vz.AttachDatagram:
			netdev = fmt.Sprintf("dgram,id=net%s,local.type=unix,local.path=%s,remote.type=unix,remote.path=%s", id, d.Local, d.Socket)
		default:
			return nil, fmt.Errorf("network attachment %q: %w", d.Attachment, api.ErrInvalidArgument)
		}
		return []string{"-netdev", netdev, "-device", fmt.Sprintf("virtio-net-pci,netdev=net%s,mac=%s", id, d.MAC)}, nil
	case vz.DevRosetta:
		return nil, fmt.Errorf("the Rosetta share exists only on a Mac: %w", api.ErrUnsupported)
	}
	return nil, fmt.Errorf("device kind %q: %w", d.Kind, api.ErrInvalidArgument)
}
