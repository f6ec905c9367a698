package proto

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/berthvm/berth/core/api"
)

// ProtocolVersion is bumped on any incompatible change of frames or
// messages. Host and guest must agree on it exactly: the initramfs is
// rebuilt whenever the agent binary changes, so they always ship together.
const ProtocolVersion = 1

// Features the guest may announce in Info.Features.
const (
	FeatureTTY        = "tty"
	FeatureOverlay    = "overlay"
	FeatureNetwork    = "network"
	FeatureReattach   = "reattach"
	FeatureStats      = "stats"
	FeatureACPIButton = "acpi-power-button"
	// FeatureX86 means x86_64 binaries run through a registered
	// interpreter (Rosetta on Apple silicon).
	FeatureX86 = "x86_64-binaries"
	// FeatureDHCP means the guest takes Interface.Address AddressDHCP
	// and reports its leases in the configure_network reply. Agents
	// before it refuse "dhcp" as an address and reply with no status.
	FeatureDHCP = "dhcp"
	// FeatureArchive means the guest serves berth cp: stat_path,
	// archive_out, archive_in and cancel.
	FeatureArchive = "archive"
	// FeatureTop means the guest lists a container's processes (top).
	FeatureTop = "top"
	// FeatureFreeze means the guest freezes and thaws a container's
	// processes (freeze), with the cgroup v2 freezer where it can.
	FeatureFreeze = "freeze"
)

// Operation names on the wire: Message.Op of a request. Each names the
// body it carries and the reply's body.
const (
	OpHello            = "hello"             // Hello -> Info
	OpSetTime          = "set_time"          // SetTime -> nothing
	OpConfigureNetwork = "configure_network" // NetworkConfig -> NetworkStatus
	OpCreateContainer  = "create_container"  // ContainerConfig -> nothing
	OpStart            = "start"             // StartRequest -> StartReply
	OpExec             = "exec"              // StartRequest -> StartReply
	OpAttach           = "attach"            // AttachRequest -> AttachReply
	OpSignal           = "signal"            // SignalRequest -> nothing
	OpWait             = "wait"              // ProcessRef -> ExitStatus
	OpResize           = "resize"            // ResizeRequest -> nothing
	OpList             = "list"              // {} -> []ProcessStatus
	OpStats            = "stats"             // {} -> Stats
	OpShutdown         = "shutdown"          // {} -> nothing
	OpStatPath         = "stat_path"         // PathRequest -> api.PathStat
	OpArchiveOut       = "archive_out"       // ArchiveRequest -> nothing, once the tar is sent
	OpArchiveIn        = "archive_in"        // ArchiveRequest -> nothing, once the tar is extracted
	OpCancel           = "cancel"            // StreamRef -> nothing
	OpTop              = "top"               // ContainerRef -> api.ContainerTop
	OpFreeze           = "freeze"            // FreezeRequest -> FreezeReply
)

// Message is one control frame: a request when Op is set, else the reply
// to request ID (with Body, or with Error when the call failed).
type Message struct {
	ID    uint64           `json:"id"`
	Op    string           `json:"op,omitempty"`
	Body  json.RawMessage  `json:"body,omitempty"`
	Error *api.RemoteError `json:"error,omitempty"`
}

// Hello opens a session.
type Hello struct {
	ProtocolVersion int `json:"protocol_version"`
}

// Info describes the guest: what the host learns from the handshake.
type Info struct {
	ProtocolVersion int      `json:"protocol_version"`
	AgentVersion    string   `json:"agent_version"`
	Kernel          string   `json:"kernel"` // uname -r of the guest
	Arch            string   `json:"arch"`   // GOARCH of the agent
	Features        []string `json:"features,omitempty"`
	// Uptime of the guest when the agent (PID 1) started and at the
	// handshake: with the host's clock they split a boot into phases.
	InitUptime time.Duration `json:"init_uptime"`
	Uptime     time.Duration `json:"uptime"`
}

// Has reports whether the guest announced feature f.
func (i Info) Has(f string) bool {
	for _, g := range i.Features {
		if g == f {
			return true
		}
	}
	return false
}

// SetTime sets the guest's wall clock.
type SetTime struct {
	UnixNano int64 `json:"unix_nano"`
}

// NetworkConfig configures the guest's NICs: static addresses, or
// addresses obtained by DHCP; the agent applies them with netlink and its
// own DHCP client (no tools are needed in the guest).
type NetworkConfig struct {
	Interfaces []Interface `json:"interfaces"`
	// Gateway is the IPv4 default route ("10.0.2.2"); empty for none, or
	// for the router of the first DHCP lease that has one.
	Gateway string `json:"gateway,omitempty"`
	// Timeout bounds getting each DHCP lease. Zero: the host's client
	// derives it from the call's deadline, else the guest uses
	// DefaultDHCPTimeout.
	Timeout time.Duration `json:"timeout,omitempty"`
}

// DefaultDHCPTimeout bounds getting a lease when the host gives no
// timeout.
const DefaultDHCPTimeout = 10 * time.Second

// AddressDHCP as an Interface's Address makes the guest get the address,
// its prefix, the default route, the MTU and DNS servers by DHCP, and
// keep renewing the lease while it runs (needs FeatureDHCP).
const AddressDHCP = "dhcp"

// Interface is one guest NIC, found by MAC address (stable across
// hypervisors) or, when MAC is empty, by name.
type Interface struct {
	MAC     string `json:"mac,omitempty"`
	Name    string `json:"name,omitempty"`
	Address string `json:"address"` // CIDR, "10.0.2.15/24", or AddressDHCP
	MTU     int    `json:"mtu,omitempty"`
}

// UsesDHCP reports whether any interface of c gets its address by DHCP.
func (c NetworkConfig) UsesDHCP() bool {
	for _, i := range c.Interfaces {
		if i.Address == AddressDHCP {
			return true
		}
	}
	return false
}

// NetworkStatus is what the guest configured: the configure_network
// reply. Agents without FeatureDHCP reply with none (the zero value).
type NetworkStatus struct {
	Interfaces []InterfaceStatus `json:"interfaces,omitempty"`
	// Gateway is the default route set, if any.
	Gateway string `json:"gateway,omitempty"`
	// DNS and Search gather the DNS servers and domain names of the
	// DHCP leases, in interface order, without duplicates.
	DNS    []string `json:"dns,omitempty"`
	Search []string `json:"search,omitempty"`
}

// InterfaceStatus is one configured NIC.
type InterfaceStatus struct {
	MAC     string `json:"mac"`
	Name    string `json:"name"`    // in the guest ("eth0")
	Address string `json:"address"` // CIDR
	MTU     int    `json:"mtu,omitempty"`
	Lease   *Lease `json:"lease,omitempty"` // set when the address came by DHCP
}

// Lease is a DHCP lease as the guest got it.
type Lease struct {
	Server string   `json:"server"`
	Router string   `json:"router,omitempty"`
	DNS    []string `json:"dns,omitempty"`
	Domain string   `json:"domain,omitempty"`
	// Duration is the lease time; zero for an infinite lease. The guest
	// renews it from half-time on for as long as it runs.
	Duration time.Duration `json:"duration,omitempty"`
}

// Device names a guest block device by the serial the host gave its disk
// (hypervisor.Disk.ID), or by path.
type Device struct {
	Serial string `json:"serial,omitempty"`
	Path   string `json:"path,omitempty"`
}

func (d Device) String() string {
	if d.Serial != "" {
		return "disk " + d.Serial
	}
	return d.Path
}

// ContainerConfig prepares one container's root filesystem and identity.
type ContainerConfig struct {
	ID string `json:"id"`
	// Base is the image's read-only ext4 disk; Upper is the container's
	// writable ext4 disk (formatted by the host) that holds the overlay's
	// upper and work directories. A zero Upper means a tmpfs upper layer:
	// changes vanish with the VM.
	Base  Device `json:"base"`
	Upper Device `json:"upper"`
	// Rootfs, instead of disks, names a directory in the guest used as the
	// root as it is (no overlay, no special mounts): for guests that get
	// their root some other way, and for tests of the agent on a host.
	Rootfs string `json:"rootfs,omitempty"`

	Hostname string      `json:"hostname,omitempty"`
	Hosts    []HostEntry `json:"hosts,omitempty"` // extra /etc/hosts lines
	DNS      *DNS        `json:"dns,omitempty"`   // nil keeps the image's resolv.conf

	// Mounts are mounted over the root, in order (a parent before what is
	// inside it), after the identity files are written.
	Mounts []Mount `json:"mounts,omitempty"`
	// ReadOnlyRoot remounts the root read-only once the mounts are in
	// place: only mounts (and the agent's own /tmp, /run) take writes.
	ReadOnlyRoot bool `json:"readOnlyRoot,omitempty"`
}

// MountKind is what backs a container mount in the guest.
type MountKind string

const (
	// MountDisk is an ext4 disk found by its serial (a named volume).
	MountDisk MountKind = "disk"
	// MountShare is a virtio-fs share found by its tag (a bind mount);
	// Subpath picks a file or folder inside it.
	MountShare MountKind = "virtiofs"
	// MountTmpfs is a tmpfs; Options holds its size= and mode=.
	MountTmpfs MountKind = "tmpfs"
)

// Mount is one mount in the container.
type Mount struct {
	Kind   MountKind `json:"kind"`
	Device Device    `json:"device,omitzero"` // MountDisk
	Tag    string    `json:"tag,omitempty"`   // MountShare
	// Subpath is a path inside the share (a bind of a single file, or of
	// a folder whose parent is what the host shared); "" is the share.
	Subpath  string `json:"subpath,omitempty"`
	Target   string `json:"target"` // absolute, in the container
	ReadOnly bool   `json:"readOnly,omitempty"`
	Options  string `json:"options,omitempty"` // MountTmpfs: "size=…,mode=…"
	// Seed copies what the image has at Target into the disk when the
	// disk is empty, before it is mounted (a new volume, as docker does).
	Seed bool `json:"seed,omitempty"`
}

// HostEntry is one /etc/hosts line.
type HostEntry struct {
	IP    string   `json:"ip"`
	Names []string `json:"names"`
}

// DNS is the content of /etc/resolv.conf.
type DNS struct {
	Servers []string `json:"servers"`
	Search  []string `json:"search,omitempty"`
	Options []string `json:"options,omitempty"`
}

// DefaultPath is the PATH a process gets when neither the image nor the
// user sets one (the same default Docker uses): the host merges it into
// ProcessSpec.Env, and the guest adds it to an Env that lacks PATH.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// ProcessSpec is a fully merged process: the image's config with the
// user's flags applied (the host's decision, core/runtime's Merge).
type ProcessSpec struct {
	Args []string `json:"args"`
	Env  []string `json:"env,omitempty"`
	Cwd  string   `json:"cwd,omitempty"`
	// User is "name", "uid", "name:group" or "uid:gid", resolved in the
	// guest against the container's /etc/passwd and /etc/group.
	User             string   `json:"user,omitempty"`
	AdditionalGroups []string `json:"additional_groups,omitempty"`
	Terminal         bool     `json:"terminal,omitempty"`
	Size             *WinSize `json:"size,omitempty"`
}

// WinSize is a terminal size.
type WinSize struct {
	Rows uint16 `json:"rows"`
	Cols uint16 `json:"cols"`
}

// Streams names the data streams a host opens for one process. Zero means
// none: stdin then reads /dev/null, output is still buffered in the guest.
type Streams struct {
	Stdin  uint32 `json:"stdin,omitempty"`
	Stdout uint32 `json:"stdout,omitempty"`
	Stderr uint32 `json:"stderr,omitempty"`
}

// StartRequest starts the container's main process ("start") or another
// process in a running container ("exec").
type StartRequest struct {
	Container string      `json:"container"`
	ID        string      `json:"id"`
	Process   ProcessSpec `json:"process"`
	Streams   Streams     `json:"streams"`
}

// StartReply reports a started process.
type StartReply struct {
	PID int `json:"pid"`
}

// ProcessRef names a process.
type ProcessRef struct {
	Container string `json:"container"`
	ID        string `json:"id"`
}

// AttachRequest connects new streams to a process that kept running while
// no host was connected.
type AttachRequest struct {
	ProcessRef
	Streams Streams `json:"streams"`
}

// AttachReply tells where the replayed output starts. Output the guest
// had to drop while no host was attached (beyond its buffer) shows as a
// start offset greater than what the host had consumed.
type AttachReply struct {
	StdoutOffset uint64 `json:"stdout_offset"`
	StderrOffset uint64 `json:"stderr_offset"`
	Exited       bool   `json:"exited"`
}

// SignalRequest sends a signal (Linux number) to a process.
type SignalRequest struct {
	ProcessRef
	Signal int `json:"signal"`
}

// ResizeRequest changes a process's terminal size.
type ResizeRequest struct {
	ProcessRef
	WinSize
}

// ExitStatus is how a process ended.
type ExitStatus struct {
	Code int `json:"code"`
	// Signal is the signal that killed the process, 0 if it exited.
	Signal int `json:"signal,omitempty"`
}

func (e ExitStatus) String() string {
	if e.Signal != 0 {
		return fmt.Sprintf("killed by signal %d", e.Signal)
	}
	return fmt.Sprintf("exit code %d", e.Code)
}

// ProcessStatus is one process as the guest knows it.
type ProcessStatus struct {
	ProcessRef
	PID     int         `json:"pid"`
	Running bool        `json:"running"`
	Exit    *ExitStatus `json:"exit,omitempty"`
}

// Stats is a snapshot of the guest's resource use.
type Stats struct {
	// CPU time spent by the guest since boot, all CPUs, in nanoseconds.
	CPUUsageNanos   uint64 `json:"cpu_usage_nanos"`
	MemoryTotal     uint64 `json:"memory_total"`
	MemoryAvailable uint64 `json:"memory_available"`
	Processes       int    `json:"processes"`
}

// PathRequest names a path in a container's root, as a process of the
// container sees it.
type PathRequest struct {
	Container string `json:"container"`
	Path      string `json:"path"`
}

// ArchiveRequest moves a tar stream between the host and a container:
// archive_out writes the tar of Path (its top entry named after Path's
// last element, "." for a path ending in "/.") on Stream and closes it;
// archive_in extracts Stream's tar into the directory Path. Either
// replies once the stream is done, with the error that ended it if any,
// so a stream's end is known to be whole. The guest reads the stream of
// archive_in from the moment it reads the request: the host may send
// right behind it.
type ArchiveRequest struct {
	Container string `json:"container"`
	Path      string `json:"path"`
	Stream    uint32 `json:"stream"`
	// NoOverwriteDirNonDir (archive_in) refuses to replace a directory
	// with a non-directory or the reverse.
	NoOverwriteDirNonDir bool `json:"noOverwriteDirNonDir,omitempty"`
}

// StreamRef names a stream of the session: cancel ends the transfer on
// it (an archive_out whose reader left, an archive_in whose source
// failed), and the transfer's call then fails. The guest acts on it
// before it reads the next frame.
type StreamRef struct {
	Stream uint32 `json:"stream"`
}

// ContainerRef names a container of the guest.
type ContainerRef struct {
	Container string `json:"container"`
}

// FreezeRequest freezes (Frozen) or thaws every process of a container:
// its main process, what it was exec'd and their children.
type FreezeRequest struct {
	Container string `json:"container"`
	Frozen    bool   `json:"frozen"`
}

// FreezeReply says how the guest froze the processes: FreezeCgroup (the
// cgroup v2 freezer: the processes cannot tell) or FreezeSignal
// (SIGSTOP and SIGCONT, which their parents can see).
type FreezeReply struct {
	Method string `json:"method"`
}

// Freeze methods (FreezeReply.Method).
const (
	FreezeCgroup = "cgroup"
	FreezeSignal = "signal"
)
