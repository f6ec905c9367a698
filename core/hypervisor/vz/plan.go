package vz

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/capabilities"
	"github.com/berthvm/berth/core/guestabi"
	"github.com/berthvm/berth/core/hypervisor"
)

// Limits are the ranges the Virtualization framework accepts on this Mac
// (VZVirtualMachineConfiguration's minimum/maximumAllowed...): passed in
// as numbers so the checks are portable.
type Limits struct {
	MinCPUs, MaxCPUs     uint
	MinMemory, MaxMemory uint64 // bytes
}

// Host is what the plan depends on about the Mac.
type Host struct {
	// Arch is the Mac's GOARCH: the framework runs only guests of its own
	// architecture.
	Arch   hypervisor.Arch
	Limits Limits
	// Caps are the host facts of core/capabilities: whether nested
	// virtualization and Rosetta are available, and why not.
	Caps api.Capabilities
}

// Caching is VZDiskImageCachingMode.
type Caching string

// Sync is VZDiskImageSynchronizationMode.
type Sync string

const (
	// CachingCached goes through the host's page cache. The framework's
	// default ("automatic", uncached on local disks) has been seen to
	// corrupt ext4 in Linux guests: an uncached read races APFS's delayed
	// write-back into a sparse file's holes (lima #1957, UTM #5919), and
	// Berth's disks are sparse. Cached reads see the host's own writes.
	CachingCached Caching = "cached"

	// SyncFull: a guest flush (fsync, journal commit, the agent's sync
	// before power-off) becomes F_FULLFSYNC, which reaches the disk's
	// platters/flash, not just its cache: a writable layer survives a
	// host crash or power loss with everything the guest synced. Slower
	// fsyncs are the price of no data loss.
	SyncFull Sync = "full"
	// SyncNone is for read-only disks, which the guest never writes.
	SyncNone Sync = "none"
)

// DeviceKind names a device of the plan.
type DeviceKind string

const (
	DevConsole DeviceKind = "virtio-console" // hvc0, to a file
	DevBlock   DeviceKind = "virtio-blk"
	DevVsock   DeviceKind = "virtio-vsock"
	DevEntropy DeviceKind = "virtio-rng"
	DevBalloon DeviceKind = "virtio-balloon"
	DevNet     DeviceKind = "virtio-net"
	DevRosetta DeviceKind = "virtio-fs-rosetta"
	// DevShare is a host folder shared over virtio-fs
	// (VZVirtioFileSystemDeviceConfiguration with a single-directory
	// share): Path, ReadOnly and the Tag the guest mounts it by.
	DevShare DeviceKind = "virtio-fs"
)

// NetAttachment is how a NIC reaches the outside.
type NetAttachment string

const (
	// AttachNAT is the framework's own NAT (VZNATNetworkDeviceAttachment).
	AttachNAT NetAttachment = "nat"
	// AttachDatagram is a unix datagram socket to a userspace network
	// (VZFileHandleNetworkDeviceAttachment; gvisor-tap-vsock's vfkit
	// protocol): the host connects it to Device.Socket.
	AttachDatagram NetAttachment = "datagram"
)

// Device is one device of the VM, with every mode decided. Fields not
// used by a kind are empty.
type Device struct {
	Kind DeviceKind `json:"kind"`

	// Console: the file the guest's hvc0 is appended to.
	Path   string `json:"path,omitempty"`
	Append bool   `json:"append,omitempty"`

	// Block: ID is the virtio-blk serial (block device identifier) the
	// agent finds the disk by; Path is the raw image.
	ID       string  `json:"id,omitempty"`
	ReadOnly bool    `json:"read_only,omitempty"`
	Caching  Caching `json:"caching,omitempty"`
	Sync     Sync    `json:"sync,omitempty"`

	// Net: the attachment, the MAC (always set) and, for a datagram
	// attachment, the socket of the userspace network and our end's path.
	Attachment NetAttachment `json:"attachment,omitempty"`
	MAC        string        `json:"mac,omitempty"`
	Socket     string        `json:"socket,omitempty"`
	Local      string        `json:"local,omitempty"`
	MTU        int           `json:"mtu,omitempty"` // of a datagram attachment; 0 is 1500

	// Rosetta and Share: the virtio-fs tag the guest mounts (Path and
	// ReadOnly are the shared folder's).
	Tag string `json:"tag,omitempty"`
}

// Plan is a VMConfig translated for the Virtualization framework: the
// darwin code only walks it. It is stored as plan.json in the run
// directory, where the VM's host process reads it.
type Plan struct {
	ID          string `json:"id"`
	RunDir      string `json:"run_dir"`
	Kernel      string `json:"kernel"`
	Initrd      string `json:"initrd,omitempty"`
	Cmdline     string `json:"cmdline"`
	CPUs        uint   `json:"cpus"`
	MemoryBytes uint64 `json:"memory_bytes"`
	// Nested turns on nested virtualization through a generic platform
	// configuration; without it the framework's default platform is used.
	Nested  bool     `json:"nested,omitempty"`
	Devices []Device `json:"devices"`
	// Console is the console log (also Devices[0].Path): the host reads
	// its tail to explain a crash.
	Console string `json:"console"`
	// AgentPort is where the host process reaches the agent over vsock.
	AgentPort uint32 `json:"agent_port"`
}

// Files in a VM's run directory.
const (
	controlSockName = "control.sock"
	planName        = "plan.json"
	hostLogName     = "host.log"
	consoleName     = "console.log"
)

// maxSockPath is the room in sockaddr_un.sun_path on macOS (104) less the
// terminating NUL; Linux allows 107, the smaller wins.
const maxSockPath = 103

// consolePath is where the guest console goes for cfg.
func consolePath(cfg hypervisor.VMConfig) string {
	if cfg.ConsoleLog != "" {
		return cfg.ConsoleLog
	}
	return filepath.Join(cfg.RunDir, consoleName)
}

// Validate checks cfg for the Virtualization framework on h, with
// messages that say what is allowed and what to do. Nothing is touched.
func Validate(cfg hypervisor.VMConfig, h Host) error {
	if err := cfg.Check(); err != nil {
		return err
	}
	bad := func(sentinel error, format string, a ...any) error {
		return fmt.Errorf("VM %q: %s: %w", cfg.ID, fmt.Sprintf(format, a...), sentinel)
	}
	if cfg.Arch != h.Arch {
		return bad(api.ErrUnsupported, "a %s guest cannot run on this %s Mac: Apple's Virtualization framework runs guests of the Mac's own architecture only (use an arm64 image, with --rosetta for x86_64 binaries)", cfg.Arch, h.Arch)
	}
	l := h.Limits
	if l.MaxCPUs == 0 || l.MaxMemory == 0 {
		return bad(api.ErrUnavailable, "the Virtualization framework's CPU and memory limits are unknown (it is available on macOS only)")
	}
	if n := uint(cfg.CPUs); n < l.MinCPUs || n > l.MaxCPUs {
		return bad(api.ErrInvalidArgument, "%d CPUs: this Mac allows %d to %d per VM", cfg.CPUs, l.MinCPUs, l.MaxCPUs)
	}
	if b := uint64(cfg.MemoryMiB) << 20; b < l.MinMemory || b > l.MaxMemory {
		return bad(api.ErrInvalidArgument, "%d MiB of memory: this Mac allows %d to %d MiB per VM", cfg.MemoryMiB, ceilMiB(l.MinMemory), l.MaxMemory>>20)
	}
	for _, d := range cfg.Disks {
		if d.Format != "" && d.Format != hypervisor.Raw {
			return bad(api.ErrUnsupported, "disk %q is %s: Apple's Virtualization framework takes raw disk images only", d.ID, d.Format)
		}
	}
	if cfg.Nested {
		if err := capabilities.CheckNested(h.Caps); err != nil {
			return fmt.Errorf("VM %q: %w", cfg.ID, err)
		}
	}
	if cfg.Rosetta {
		if cfg.Arch != hypervisor.ARM64 {
			return bad(api.ErrUnsupported, "Rosetta runs x86_64 binaries in arm64 guests only")
		}
		if err := capabilities.CheckRosetta(h.Caps); err != nil {
			return fmt.Errorf("VM %q: %w", cfg.ID, err)
		}
	}
	for _, s := range cfg.Shares {
		if cfg.Rosetta && s.Tag == guestabi.RosettaTag {
			return bad(api.ErrInvalidArgument, "share tag %q is Rosetta's: use another tag", s.Tag)
		}
	}
	// The longest socket name in the run directory (NICs' netN.sock are
	// shorter).
	sock := filepath.Join(cfg.RunDir, controlSockName)
	if len(sock) > maxSockPath {
		return bad(api.ErrInvalidArgument, "socket path %s is longer than %d bytes: use a shorter run directory", sock, maxSockPath)
	}
	return nil
}

func ceilMiB(b uint64) uint64 { return (b + 1<<20 - 1) >> 20 }

// BuildPlan validates cfg and translates it. It is pure.
//
// Device order: the console first (so the earliest boot messages have
// somewhere to go), the disks in cfg's order (the agent finds them by
// serial, so order is only cosmetic: vda, vdb...), the vsock device the
// agent listens on, entropy (the guest's CRNG seeds at once), the balloon
// (a stopped container's memory can be reclaimed), the NICs, the shared
// folders in cfg's order, then the Rosetta share.
func BuildPlan(cfg hypervisor.VMConfig, h Host) (Plan, error) {
	if err := Validate(cfg, h); err != nil {
		return Plan{}, err
	}
	p := Plan{
		ID: cfg.ID, RunDir: cfg.RunDir, Kernel: cfg.Kernel, Initrd: cfg.Initrd,
		CPUs: uint(cfg.CPUs), MemoryBytes: uint64(cfg.MemoryMiB) << 20,
		Nested: cfg.Nested, Console: consolePath(cfg), AgentPort: guestabi.VsockPort,
	}
	p.Cmdline = strings.Join(KernelArgs(cfg), " ")
	// Appending keeps a container's earlier boots in its log.
	p.Devices = append(p.Devices, Device{Kind: DevConsole, Path: p.Console, Append: true})
	for _, d := range cfg.Disks {
		dev := Device{Kind: DevBlock, ID: d.ID, Path: d.Path, ReadOnly: d.ReadOnly, Caching: CachingCached, Sync: SyncFull}
		if d.ReadOnly {
			dev.Sync = SyncNone
		}
		p.Devices = append(p.Devices, dev)
	}
	p.Devices = append(p.Devices, Device{Kind: DevVsock}, Device{Kind: DevEntropy}, Device{Kind: DevBalloon})
	for i, n := range cfg.Networks {
		dev := Device{Kind: DevNet, MAC: n.MAC}
		if dev.MAC == "" {
			dev.MAC = DeriveMAC(cfg.ID, i)
		}
		switch n.Mode {
		case hypervisor.NetworkNAT:
			dev.Attachment = AttachNAT
		case hypervisor.NetworkSocket:
			dev.Attachment, dev.Socket, dev.Local = AttachDatagram, n.Socket, hypervisor.NICSocket(cfg.RunDir, i)
			if n.MTU > 1500 {
				dev.MTU = n.MTU
			}
		}
		p.Devices = append(p.Devices, dev)
	}
	for _, s := range cfg.Shares {
		p.Devices = append(p.Devices, Device{Kind: DevShare, Tag: s.Tag, Path: s.Path, ReadOnly: s.ReadOnly})
	}
	if cfg.Rosetta {
		p.Devices = append(p.Devices, Device{Kind: DevRosetta, Tag: guestabi.RosettaTag})
	}
	return p, nil
}

// KernelArgs is the guest kernel command line on vz: the virtio console,
// the crash policy, Rosetta's tag for the agent, then cfg.Cmdline.
func KernelArgs(cfg hypervisor.VMConfig) []string {
	// panic=-1 reboots at once on a panic; the framework ends a Linux VM
	// that reboots, so a crashed guest never hangs.
	args := []string{"console=" + guestabi.VirtioConsole, "panic=-1", "quiet"}
	if cfg.Rosetta {
		args = append(args, guestabi.Arg(guestabi.ArgRosetta, guestabi.RosettaTag))
	}
	return append(args, cfg.Cmdline...)
}

// Count returns how many devices of kind p has.
func (p Plan) Count(kind DeviceKind) int {
	n := 0
	for _, d := range p.Devices {
		if d.Kind == kind {
			n++
		}
	}
	return n
}
