package runtime

import (
	"crypto/sha256"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/network"
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

// vmConfig builds the VM for a container, with its NICs: plain data, the
// backend translates it.
func vmConfig(rec state.ContainerRecord, boot BootFiles, runDir string, nics []hypervisor.Network, mounts mountPlan) hypervisor.VMConfig {
	return hypervisor.VMConfig{
		ID:        vmID(rec.ID),
		Arch:      hypervisor.Arch(rec.Arch),
		CPUs:      rec.CPUs,
		MemoryMiB: rec.MemoryMiB,
		Kernel:    boot.Kernel,
		Initrd:    boot.Initrd,
		Cmdline:   boot.Cmdline,
		Disks: append([]hypervisor.Disk{
			{ID: diskBase, Path: rec.BaseDisk, ReadOnly: true},
			{ID: diskUpper, Path: rec.WritableDisk},
		}, mounts.Disks...),
		Shares:     mounts.Shares,
		Networks:   nics,
		RunDir:     runDir,
		ConsoleLog: rec.ConsoleLog,
		Nested:     rec.Spec.NestedVirtualization,
		Rosetta:    rec.Spec.Rosetta,
	}
}

// The NAT network every container gets under QEMU: user networking
// fixes these addresses; they are private to each VM.
const (
	natAddress = "10.0.2.15/24"
	natGateway = "10.0.2.2"
	natDNS     = "10.0.2.3"
)

// dhcpTimeout bounds the guest's DHCP exchange. macOS's vmnet answers in
// milliseconds once running; the first VM may wait for launchd to start
// its DHCP server (bootpd).
const dhcpTimeout = 10 * time.Second

// guestNetwork is the agent's network configuration for a container
// whose VM has nics. On Berth's networks (socket NICs) every address is
// the core's, set statically: no DHCP wait on the boot path. On a
// backend's own NAT, as the backend declares: QEMU's user networking has
// fixed addresses, so the agent sets them (no round trip); the
// Virtualization framework's NAT is macOS's vmnet, which hands addresses
// out only by DHCP, from a subnet the Mac picks (192.168.64.0/24 by
// default, DNS at the gateway). No NIC (--network none): loopback only.
func guestNetwork(rec state.ContainerRecord, nics []hypervisor.Network, addressing hypervisor.Addressing) proto.NetworkConfig {
	switch {
	case len(nics) == 0:
		return proto.NetworkConfig{}
	case nics[0].Mode != hypervisor.NetworkNAT:
		var nc proto.NetworkConfig
		for i, cn := range rec.Networks {
			iface := proto.Interface{MAC: cn.MAC, Address: fmt.Sprintf("%s/%d", cn.IP, cn.Prefix)}
			if i < len(nics) {
				iface.MTU = nics[i].MTU
			}
			nc.Interfaces = append(nc.Interfaces, iface)
		}
		if len(rec.Networks) > 0 {
			nc.Gateway = rec.Networks[0].Gateway
		}
		return nc
	case addressing == hypervisor.AddressDHCP:
		return proto.NetworkConfig{
			Interfaces: []proto.Interface{{MAC: rec.MAC, Address: proto.AddressDHCP}},
			Timeout:    dhcpTimeout,
		}
	}
	return proto.NetworkConfig{
		Interfaces: []proto.Interface{{MAC: rec.MAC, Address: natAddress}},
		Gateway:    natGateway,
	}
}

// guestAddrs is what the container's /etc/hosts and resolv.conf say
// about its network.
type guestAddrs struct {
	IP     string   // the container's address, for its own hostname
	DNS    []string // nameservers; none keeps the image's resolv.conf
	Search []string
	Hosts  [][2]string // more /etc/hosts lines: address, name
}

// addrsFor takes the container's addresses from what the guest
// configured: those the core chose on Berth's networks, with the
// resolver and hosts the networks tell (told); the fixed NAT ones for
// the backend's static NAT (whatever the reply, which older agents leave
// empty); the lease of the container's NIC for DHCP. Without DNS servers
// in the lease, the router serves DNS (vmnet's gateway forwards to the
// Mac's resolver).
func addrsFor(rec state.ContainerRecord, nc proto.NetworkConfig, st proto.NetworkStatus, told network.Guest) (guestAddrs, error) {
	switch {
	case len(nc.Interfaces) == 0:
		return guestAddrs{Hosts: told.Hosts}, nil
	case nc.Interfaces[0].Address == natAddress:
		ip, _, _ := net.ParseCIDR(natAddress)
		return guestAddrs{IP: ip.String(), DNS: []string{natDNS}, Hosts: told.Hosts}, nil
	case !nc.UsesDHCP():
		ip, _, err := net.ParseCIDR(nc.Interfaces[0].Address)
		if err != nil {
			return guestAddrs{}, fmt.Errorf("container address %q: %w", nc.Interfaces[0].Address, api.ErrCorrupt)
		}
		return guestAddrs{IP: ip.String(), DNS: told.DNS, Search: told.Search, Hosts: told.Hosts}, nil
	}
	for _, i := range st.Interfaces {
		if !strings.EqualFold(i.MAC, rec.MAC) || i.Lease == nil {
			continue
		}
		ip, _, err := net.ParseCIDR(i.Address)
		if err != nil {
			return guestAddrs{}, fmt.Errorf("the guest reported address %q for its NIC (MAC %s): %w", i.Address, rec.MAC, api.ErrCorrupt)
		}
		a := guestAddrs{IP: ip.String(), DNS: st.DNS, Search: st.Search, Hosts: told.Hosts}
		if len(a.DNS) == 0 && i.Lease.Router != "" {
			a.DNS = []string{i.Lease.Router}
		}
		return a, nil
	}
	return guestAddrs{}, fmt.Errorf("the guest reported no DHCP lease for its NIC (MAC %s): %w", rec.MAC, api.ErrUnavailable)
}

// guestContainer is the agent's container configuration: disks by serial,
// hostname, and name resolution.
func guestContainer(rec state.ContainerRecord, a guestAddrs, mounts []proto.Mount) proto.ContainerConfig {
	host := hostname(rec)
	cc := proto.ContainerConfig{
		ID:           rec.ID,
		Base:         proto.Device{Serial: diskBase},
		Upper:        proto.Device{Serial: diskUpper},
		Hostname:     host,
		Mounts:       mounts,
		ReadOnlyRoot: rec.Spec.ReadOnlyRoot,
	}
	if a.IP != "" {
		cc.Hosts = append(cc.Hosts, proto.HostEntry{IP: a.IP, Names: []string{host}})
	}
	for _, h := range a.Hosts {
		cc.Hosts = append(cc.Hosts, proto.HostEntry{IP: h[0], Names: []string{h[1]}})
	}
	if len(a.DNS) > 0 {
		cc.DNS = &proto.DNS{Servers: a.DNS, Search: a.Search}
	}
	return cc
}

// hostname is the spec's, else the short id (docker's default).
func hostname(rec state.ContainerRecord) string {
	if rec.Spec.Hostname != "" {
		return rec.Spec.Hostname
	}
	return vmID(rec.ID)
}

// processSpec merges the image's config with the user's overrides.
func processSpec(rec state.ContainerRecord) (proto.ProcessSpec, error) {
	img := ImageConfig{
		Entrypoint: rec.ImageConfig.Entrypoint, Cmd: rec.ImageConfig.Cmd, Env: rec.ImageConfig.Env,
		WorkingDir: rec.ImageConfig.WorkingDir, User: rec.ImageConfig.User,
	}
	o := Overrides{
		Entrypoint: rec.Spec.Entrypoint, Cmd: rec.Spec.Cmd, Env: rec.Spec.Env,
		WorkingDir: rec.Spec.WorkingDir, User: rec.Spec.User, Terminal: rec.Spec.TTY,
	}
	spec, err := Merge(img, o)
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
