package vzqemu

import (
	"os"

	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/hypervisor/qemu"
	"github.com/berthvm/berth/core/hypervisor/vz"
)

// EarlyconEnv names a file that, when set, receives what the kernel
// prints from its first instruction, through the virt machine's UART as
// an early console. It is for a person debugging a boot, never for a
// test's verdict: it changes the command line, and a Mac has no UART.
const EarlyconEnv = "BERTH_VZQEMU_EARLYCON"

// Driver is QEMU booting the Mac's guest and device model. It declares
// what vz declares, but for the channel it really has and the name its
// Handles carry (QEMU's process handling adopts them).
type Driver struct{ *qemu.Driver }

// Info is vz's Info, with QEMU's name and agent channel, and virtio-fs
// shares only where QEMU's driver has virtiofsd to serve them.
func (d Driver) Info() hypervisor.Info {
	i := vz.Info()
	q := d.Driver.Info()
	i.Name, i.Channel, i.Shares = q.Name, q.Channel, q.Shares
	return i
}

var _ hypervisor.Driver = Driver{}

// New returns a QEMU driver that boots every VMConfig as the Mac would:
// vz.BuildPlan for Mac(), then Args.
func New(opts ...qemu.Option) Driver {
	build := func(cfg hypervisor.VMConfig, h qemu.Host, f qemu.Files) ([]string, error) {
		p, err := vz.BuildPlan(cfg, Mac())
		if err != nil {
			return nil, err
		}
		early := os.Getenv(EarlyconEnv)
		if early != "" {
			p.Cmdline += " earlycon=pl011,0x09000000 keep_bootcon"
		}
		args, err := Args(p, h, f)
		if err == nil && early != "" {
			args = append(args, "-serial", "file:"+early)
		}
		return args, err
	}
	return Driver{qemu.New(append(opts, qemu.WithArgs(build))...)}
}
