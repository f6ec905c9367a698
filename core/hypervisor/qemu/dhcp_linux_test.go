package qemu

import (
	"testing"

	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/hypervisor/hvtest"
)

// The arm64 agent and kernel (what the macOS build ships, where vmnet
// gives addresses only by DHCP) lease their address from QEMU's user
// networking: the packet socket, the arm64 build of the client, the
// arm64 kernel's AF_PACKET.
func TestDHCPARM64(t *testing.T) {
	needQEMU(t, hypervisor.ARM64)
	noLeftovers(t)
	hvtest.RunDHCP(t, hvtest.Env{
		Driver:  New(),
		Arch:    hypervisor.ARM64,
		Network: &hypervisor.Network{Mode: hypervisor.NetworkNAT, MAC: "52:54:00:12:34:57"},
	})
}
