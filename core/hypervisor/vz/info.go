package vz

import (
	"github.com/berthvm/berth/core/guestabi"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/kernel"
)

// Name is the driver name stored in Handles.
const Name = "vz"

// Info declares the Virtualization framework backend: the agent on vsock,
// addresses by DHCP from vmnet behind the NAT attachment, the virtio
// console (hvc0, a module of the guest kernel), guests of the Mac's own
// architecture only, virtio-pci devices, virtio-fs shares.
func Info() hypervisor.Info {
	return hypervisor.Info{
		Name:         Name,
		Channel:      hypervisor.Channel{Kind: hypervisor.ChannelVsock, VsockPort: guestabi.VsockPort},
		Addressing:   hypervisor.AddressDHCP,
		NAT:          "Virtualization framework NAT (vmnet)",
		Console:      hypervisor.ConsoleVirtio,
		ForeignArch:  false,
		ModuleGroups: kernel.VZModuleGroups,
		Shares:       []hypervisor.ShareKind{hypervisor.ShareVirtioFS},
		Networks:     []hypervisor.NetworkMode{hypervisor.NetworkNAT, hypervisor.NetworkSocket},
	}
}
