package hypervisor

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/berthvm/berth/core/api"
)

// Arch is a guest CPU architecture, spelled as GOARCH.
type Arch string

const (
	AMD64 Arch = "amd64"
	ARM64 Arch = "arm64"
)

// DiskFormat is a disk image format.
type DiskFormat string

const (
	Raw   DiskFormat = "raw"
	QCOW2 DiskFormat = "qcow2" // QEMU only
)

// Disk is a block device for the guest. ID becomes the virtio-blk serial,
// which the agent uses to find the disk (/sys/block/*/serial), so the
// order of disks does not matter to the guest.
type Disk struct {
	ID       string
	Path     string
	ReadOnly bool
	Format   DiskFormat // default Raw
}

// NetworkMode says how a NIC reaches the outside.
type NetworkMode string

const (
	// NetworkNAT is the hypervisor's own NAT: QEMU user networking
	// (guest 10.0.2.15/24, gateway 10.0.2.2, DNS 10.0.2.3), vz's NAT.
	NetworkNAT NetworkMode = "nat"
	// NetworkSocket connects the NIC to a network process through a unix
	// datagram socket, one Ethernet frame a datagram: the VM's end is
	// NICSocket(RunDir, i), bound by the backend (QEMU's -netdev dgram,
	// vz's file-handle attachment); the network's end is Network.Socket,
	// bound by the network process before the VM starts.
	NetworkSocket NetworkMode = "socket"
)

// NICSocket is where the VM's end of NIC i's datagram socket is, in the
// VM's run directory: the network process sends the VM's frames there.
func NICSocket(runDir string, i int) string {
	return filepath.Join(runDir, fmt.Sprintf("net%d.sock", i))
}

// Network is one NIC.
type Network struct {
	Mode   NetworkMode
	MAC    string // "52:54:00:12:34:56"; the agent finds the NIC by it
	Socket string // for NetworkSocket
	// MTU is the NIC's (and the guest's interface's) MTU for
	// NetworkSocket; 0 is Ethernet's 1500.
	MTU int
}

// Share is a host folder shared live with the guest (virtio-fs), which
// the guest mounts by its tag.
type Share struct {
	Tag      string // 1-36 bytes of [A-Za-z0-9_.-] (virtio-fs tags hold 36)
	Path     string // an absolute path to an existing folder
	ReadOnly bool
}

// VMConfig is everything needed to boot one VM. It is plain data: no
// backend types, so it can be built, stored and tested anywhere.
type VMConfig struct {
	// ID names the VM (a container id); it appears in process names and
	// paths, so it is limited to [A-Za-z0-9_.-].
	ID        string
	Arch      Arch
	CPUs      int
	MemoryMiB int

	Kernel  string
	Initrd  string
	Cmdline []string // kernel arguments; the backend adds its console and fixes

	Disks    []Disk
	Networks []Network
	// Shares are host folders the guest mounts by tag (virtio-fs).
	Shares []Share

	// RunDir is this VM's own directory for sockets, logs and pid files.
	// The backend creates it and removes it when the VM is gone, so it
	// must not be shared.
	RunDir string
	// ConsoleLog receives the guest's serial console; default
	// RunDir/console.log. Kept after the VM ends only if outside RunDir.
	// The QEMU backend bounds it (ConsoleMax, with ConsoleLog.1); vz's
	// framework still writes it directly, without a bound.
	ConsoleLog string

	Nested  bool // expose hardware virtualization to the guest
	Rosetta bool // share Rosetta for x86_64 binaries (vz on Apple silicon)
}

var (
	idRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	tagRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,36}$`)
)

// MaxShareTag is the longest virtio-fs tag: the device's config space
// holds 36 bytes.
const MaxShareTag = 36

// Check validates what every backend needs; backends add their own
// checks in Driver.Validate.
func (c VMConfig) Check() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("VM %q: %s: %w", c.ID, fmt.Sprintf(format, a...), api.ErrInvalidArgument)
	}
	if !idRE.MatchString(c.ID) {
		return bad("id must be 1-64 characters of letters, digits, _ . -")
	}
	if c.Arch != AMD64 && c.Arch != ARM64 {
		return bad("arch %q is not amd64 or arm64", c.Arch)
	}
	if c.CPUs < 1 || c.CPUs > 64 {
		return bad("%d CPUs (1-64)", c.CPUs)
	}
	if c.MemoryMiB < 64 {
		return bad("%d MiB of memory (at least 64)", c.MemoryMiB)
	}
	if c.Kernel == "" {
		return bad("no kernel")
	}
	if c.RunDir == "" {
		return bad("no run directory")
	}
	ids := map[string]bool{}
	for _, d := range c.Disks {
		if d.Path == "" {
			return bad("disk %q has no path", d.ID)
		}
		if !idRE.MatchString(d.ID) || len(d.ID) > 20 {
			// virtio-blk serials hold 20 bytes.
			return bad("disk id %q must be 1-20 characters of letters, digits, _ . -", d.ID)
		}
		if ids[d.ID] {
			return bad("two disks with id %q", d.ID)
		}
		ids[d.ID] = true
		if d.Format != "" && d.Format != Raw && d.Format != QCOW2 {
			return bad("disk %q has unknown format %q", d.ID, d.Format)
		}
		if strings.ContainsAny(d.Path, ",\n") {
			return bad("disk path %q contains a comma or newline", d.Path)
		}
	}
	for i, n := range c.Networks {
		if n.MAC != "" {
			if _, err := net.ParseMAC(n.MAC); err != nil {
				return bad("network %d: MAC %q: %v", i, n.MAC, err)
			}
		}
		switch n.Mode {
		case NetworkNAT:
		case NetworkSocket:
			if n.Socket == "" {
				return bad("network %d: socket mode needs a socket path", i)
			}
		default:
			return bad("network %d: unknown mode %q", i, n.Mode)
		}
	}
	return c.checkShares(bad)
}

// checkShares validates Shares: tags the guest can name (and every
// backend can carry), each once; absolute paths to folders that exist
// now. A path holding a newline is refused for all backends (QEMU's
// virtiofsd takes the path in an option string, which escapes commas but
// cannot carry a newline).
func (c VMConfig) checkShares(bad func(format string, a ...any) error) error {
	tags := map[string]bool{}
	for i, s := range c.Shares {
		if !tagRE.MatchString(s.Tag) {
			return bad("share %d: tag %q must be 1-%d bytes of letters, digits, _ . -", i, s.Tag, MaxShareTag)
		}
		if tags[s.Tag] {
			return bad("two shares with tag %q", s.Tag)
		}
		tags[s.Tag] = true
		if !filepath.IsAbs(s.Path) {
			return bad("share %q: path %q is not absolute", s.Tag, s.Path)
		}
		if strings.Contains(s.Path, "\n") {
			return bad("share %q: path %q contains a newline", s.Tag, s.Path)
		}
		fi, err := os.Stat(s.Path)
		if err != nil {
			return bad("share %q: %v", s.Tag, err)
		}
		if !fi.IsDir() {
			return bad("share %q: %s is not a folder", s.Tag, s.Path)
		}
	}
	return nil
}

// State is what a Machine is doing.
type State string

const (
	Running State = "running"
	Stopped State = "stopped" // the VM is gone
)

// Handle is what must be persisted to find a running VM again after the
// core restarts: plain data, stored as JSON by the runtime.
type Handle struct {
	Driver string `json:"driver"`
	ID     string `json:"id"`
	// PID and StartTime identify the hypervisor process; StartTime (from
	// /proc/<pid>/stat on Linux) guards against a recycled pid.
	PID           int    `json:"pid"`
	StartTime     uint64 `json:"start_time"`
	RunDir        string `json:"run_dir"`
	AgentSocket   string `json:"agent_socket,omitempty"`
	ControlSocket string `json:"control_socket,omitempty"`
	ConsoleLog    string `json:"console_log,omitempty"`
	// ConsoleSocket is where the hypervisor serves the guest's console
	// for the core to copy into ConsoleLog (bounded, CopyConsole); empty
	// when the hypervisor writes ConsoleLog itself.
	ConsoleSocket string `json:"console_socket,omitempty"`
}

// Driver is a hypervisor backend. It holds no per-VM state.
type Driver interface {
	// Info declares what the backend is; see Info.
	Info() Info
	// Validate checks cfg for this backend without starting anything.
	Validate(cfg VMConfig) error
	// Start boots a VM. It returns once the hypervisor runs; the guest
	// is still booting (dial the agent to know when it is up). On error
	// nothing is left behind.
	Start(ctx context.Context, cfg VMConfig) (Machine, error)
	// Adopt finds a VM started by an earlier core from its Handle. It
	// fails with api.ErrNotFound when that VM is gone, after cleaning up
	// what it left.
	Adopt(ctx context.Context, h Handle) (Machine, error)
}

// Machine is one VM.
type Machine interface {
	ID() string
	State() State
	// Handle is the persistent description for Adopt.
	Handle() Handle
	// Wait blocks until the VM is gone. The error is nil for a clean
	// power-off and describes a crash (with the console's tail) otherwise.
	Wait(ctx context.Context) error
	// Stop asks the guest to power off (ACPI power button) and waits up
	// to timeout, then kills the VM. For a clean stop, first ask the
	// agent to shut down (agent.Client.Shutdown); see Shutdown.
	Stop(ctx context.Context, timeout time.Duration) error
	// Kill ends the VM at once.
	Kill() error
	// DialAgent connects to the guest agent's channel. Only one
	// connection at a time is served; a second waits for the first.
	DialAgent(ctx context.Context) (net.Conn, error)
}

// ExitError is the error Wait returns when a VM did not power off cleanly.
type ExitError struct {
	ID          string
	Reason      string // "QEMU exited with status 1", "guest kernel panic"
	ConsoleTail string
}

func (e *ExitError) Error() string {
	s := fmt.Sprintf("VM %s: %s", e.ID, e.Reason)
	if e.ConsoleTail != "" {
		s += "; console tail:\n" + e.ConsoleTail
	}
	return s
}

// Unwrap makes a crash an api.ErrUnavailable.
func (e *ExitError) Unwrap() error { return api.ErrUnavailable }

// Shutdowner is what Shutdown needs from an agent client.
type Shutdowner interface {
	Shutdown(ctx context.Context) error
}

// Shutdown stops m the clean way: the agent stops the processes, syncs,
// unmounts and powers off; if that does not end the VM within timeout,
// Stop takes over (ACPI power button, then kill). agent may be nil.
func Shutdown(ctx context.Context, m Machine, agent Shutdowner, timeout time.Duration) error {
	if agent != nil {
		actx, cancel := context.WithTimeout(ctx, timeout)
		err := agent.Shutdown(actx)
		if err == nil {
			err = m.Wait(actx)
			if actx.Err() == nil {
				cancel()
				return err
			}
		}
		cancel()
	}
	return m.Stop(ctx, timeout)
}

// StopWithin is how every backend's Machine.Stop goes: unless the VM is
// already gone (done closed), ask the guest to power off with request,
// wait up to timeout, and kill the VM if the request failed or the time
// ran out.
func StopWithin(ctx context.Context, id string, done <-chan struct{}, timeout time.Duration,
	request func(context.Context) error, kill func() error) error {
	select {
	case <-done:
		return nil
	default:
	}
	if err := request(ctx); err != nil {
		slog.Warn("graceful stop failed, killing the VM", "id", id, "err", err)
		return kill()
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
	case <-ctx.Done():
	}
	slog.Warn("VM did not power off in time, killing it", "id", id, "timeout", timeout)
	return kill()
}
