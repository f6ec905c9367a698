package qemu

import (
	"github.com/berthvm/berth/core/guestabi"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/kernel"
)

// Name is the driver name stored in Handles.
const Name = "qemu"

// Info declares the QEMU backend: the agent on a virtio-serial port, the
// fixed addresses of QEMU's user networking, a UART console built into the
// kernel, guests of any architecture (emulated when foreign), QEMU's
// virtio-mmio devices.
func Info() hypervisor.Info {
	return hypervisor.Info{
		Name:         Name,
		Channel:      hypervisor.Channel{Kind: hypervisor.ChannelSerial, SerialPort: guestabi.SerialPort},
		Addressing:   hypervisor.AddressStatic,
		NAT:          "QEMU user-mode NAT",
		Console:      hypervisor.ConsoleUART,
		ForeignArch:  true,
		ModuleGroups: kernel.DefaultModuleGroups,
		Networks:     []hypervisor.NetworkMode{hypervisor.NetworkNAT, hypervisor.NetworkSocket},
	}
}
