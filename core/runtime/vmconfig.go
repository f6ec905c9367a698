package runtime

import (
	"crypto/sha256"
	"fmt"
	"net"

	"github.com/berthvm/berth/core/agent"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/state"
)

// Disk serials the agent looks for (virtio-blk serial = hypervisor.Disk.ID).
const (
	diskBase  = "base"
	diskUpper = "upper"
)

// MACFor derives a container's MAC address from its id: stable across
// restarts (so the guest's network identity is too), locally administered
// and unicast (first octet 0x02 set, 0x01 clear), as virtual NICs should be.
func MACFor(id string) string {
	sum := sha256.Sum256([]byte("berth-mac:" + id))
	mac := net.HardwareAddr{0x02, sum[0], sum[1], sum[2], sum[3], sum[4]}
	return mac.String()
}

// vmID is the VM's name: the container's short id, which keeps the VM's
// run directory and socket paths short (sockets allow ~104 bytes).
func vmID(containerID string) string {
	if len(containerID) > 12 {
		return containerID[:12]
	}
	return containerID
}

// vmConfig builds the VM for a container: plain data, the backend
// translates it.
func vmConfig(rec state.ContainerRecord, boot BootFiles, runDir string) hypervisor.VMConfig {
	return hypervisor.VMConfig{
		ID:        vmID(rec.ID),
		Arch:      hypervisor.Arch(rec.Arch),
		CPUs:      rec.CPUs,
		MemoryMiB: rec.MemoryMiB,
		Kernel:    boot.Kernel,
		Initrd:    boot.Initrd,
		Cmdline:   boot.Cmdline,
		Disks: []hypervisor.Disk{
			{ID: diskBase, Path: rec.BaseDisk, ReadOnly: true},
			{ID: diskUpper, Path: rec.WritableDisk},
		},
		Networks:   []hypervisor.Network{{Mode: hypervisor.NetworkNAT, MAC: rec.MAC}},
		RunDir:     runDir,
		ConsoleLog: rec.ConsoleLog,
		Nested:     rec.Spec.NestedVirtualization,
		Rosetta:    rec.Spec.Rosetta,
	}
}

// The NAT network every container gets: QEMU's user networking fixes
// these addresses; they are private to each VM.
const (
	natAddress = "10.0.2.15/24"
	natGateway = "10.0.2.2"
	natDNS     = "10.0.2.3"
)

// guestNetwork is the agent's network configuration for a container.
func guestNetwork(rec state.ContainerRecord) agent.NetworkConfig {
	return agent.NetworkConfig{
		Interfaces: []agent.Interface{{MAC: rec.MAC, Address: natAddress}},
		Gateway:    natGateway,
	}
}

// guestContainer is the agent's container configuration: disks by serial,
// hostname, and name resolution.
func guestContainer(rec state.ContainerRecord) agent.ContainerConfig {
	host := hostname(rec)
	ip, _, _ := net.ParseCIDR(natAddress)
	return agent.ContainerConfig{
		ID:       rec.ID,
		Base:     agent.Device{Serial: diskBase},
		Upper:    agent.Device{Serial: diskUpper},
		Hostname: host,
		Hosts:    []agent.HostEntry{{IP: ip.String(), Names: []string{host}}},
		DNS:      &agent.DNS{Servers: []string{natDNS}},
	}
}

// hostname is the spec's, else the short id (docker's default).
func hostname(rec state.ContainerRecord) string {
	if rec.Spec.Hostname != "" {
		return rec.Spec.Hostname
	}
	return vmID(rec.ID)
}

// processSpec merges the image's config with the user's overrides.
func processSpec(rec state.ContainerRecord) (agent.ProcessSpec, error) {
	img := agent.ImageConfig{
		Entrypoint: rec.ImageConfig.Entrypoint, Cmd: rec.ImageConfig.Cmd, Env: rec.ImageConfig.Env,
		WorkingDir: rec.ImageConfig.WorkingDir, User: rec.ImageConfig.User,
	}
	o := agent.Overrides{
		Entrypoint: rec.Spec.Entrypoint, Cmd: rec.Spec.Cmd, Env: rec.Spec.Env,
		WorkingDir: rec.Spec.WorkingDir, User: rec.Spec.User, Terminal: rec.Spec.TTY,
	}
	spec, err := agent.Merge(img, o)
	if err != nil {
		return spec, fmt.Errorf("container %s: %w", rec.Name, err)
	}
	spec.Env = appendIfUnset(spec.Env, "HOSTNAME", hostname(rec))
	if rec.Spec.TTY {
		spec.Env = appendIfUnset(spec.Env, "TERM", "xterm")
	}
	return spec, nil
}

// appendIfUnset adds KEY=value unless env already sets KEY.
func appendIfUnset(env []string, key, value string) []string {
	for _, kv := range env {
		if len(kv) > len(key) && kv[:len(key)+1] == key+"=" {
			return env
		}
	}
	return append(env, key+"="+value)
}
