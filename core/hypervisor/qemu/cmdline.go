package qemu

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/capabilities"
	"github.com/berthvm/berth/core/guestabi"
	"github.com/berthvm/berth/core/hypervisor"
)

// Files in a VM's run directory.
const (
	agentSockName  = "agent.sock"
	qmpSockName    = "qmp.sock"
	eventsSockName = "events.sock"
	consoleName    = "console.log"
	consoleSock    = "console.sock"
	qemuLogName    = "qemu.log"
)

// maxSockPath is the longest unix socket path Linux accepts.
const maxSockPath = 107

// Files are where one VM's QEMU serves the agent channel (a socket
// chardev behind the virtio-serial port guestabi.SerialPort) and QMP, and writes the
// guest console. The driver waits for and dials these paths, so every
// machine model (Cmdline, or an ArgsFunc) must use them.
type Files struct {
	AgentSocket, QMPSocket, Console string
	// ConsoleSocket is where QEMU serves the console (ConsoleChardev):
	// the driver copies it into Console, bounded (hypervisor.CopyConsole),
	// where QEMU's file chardev would let a guest fill the disk.
	ConsoleSocket string
	// Events is a second QMP monitor that the driver holds open to hear
	// QEMU's events (disk errors: DiskErrors). Optional: a machine model
	// without it (EventsArgs) reports no disk errors.
	Events string
	// Shares are the vhost-user sockets of cfg.Shares, in order: the
	// driver's virtiofsd listens on each before QEMU starts, and the
	// machine model connects a vhost-user-fs device to it (ShareArgs).
	Shares  []string
	qemuLog string
}

// FilesFor returns the files of cfg's VM, all in its run directory but
// the console (cfg.ConsoleLog if set).
func FilesFor(cfg hypervisor.VMConfig) Files {
	f := Files{
		AgentSocket:   filepath.Join(cfg.RunDir, agentSockName),
		QMPSocket:     filepath.Join(cfg.RunDir, qmpSockName),
		Events:        filepath.Join(cfg.RunDir, eventsSockName),
		Console:       cfg.ConsoleLog,
		ConsoleSocket: filepath.Join(cfg.RunDir, consoleSock),
		qemuLog:       filepath.Join(cfg.RunDir, qemuLogName),
	}
	if f.Console == "" {
		f.Console = filepath.Join(cfg.RunDir, consoleName)
	}
	for i := range cfg.Shares {
		f.Shares = append(f.Shares, ShareSocket(cfg.RunDir, i))
	}
	return f
}

// ConsoleChardev is the chardev "console" on f's console socket. QEMU
// waits for the driver to connect before it starts the guest (wait=on),
// so the console log has the boot from its first line; when nobody is
// connected (a core that died, until another adopts the VM) QEMU drops
// console output rather than keep it.
func ConsoleChardev(f Files) []string {
	return []string{"-chardev", "socket,id=console,path=" + f.ConsoleSocket + ",server=on,wait=on"}
}

// ShareSocket is where share i's virtiofsd listens, in the VM's run
// directory; its log is beside it (fsN.log).
func ShareSocket(runDir string, i int) string {
	return filepath.Join(runDir, "fs"+strconv.Itoa(i)+".sock")
}

func shareLog(runDir string, i int) string {
	return filepath.Join(runDir, "fs"+strconv.Itoa(i)+".log")
}

// SharedMemoryArgs back the guest's RAM with shared memory (a memfd),
// which vhost-user devices need: virtiofsd maps the guest's memory to
// read and write the buffers of its requests. The machine must name the
// backend: -machine …,memory-backend=mem (SharedMemoryBackend).
func SharedMemoryArgs(memMiB int) []string {
	return []string{"-object", fmt.Sprintf("memory-backend-memfd,id=mem,size=%dM,share=on", memMiB)}
}

// SharedMemoryBackend is the -machine property SharedMemoryArgs pairs with.
const SharedMemoryBackend = "memory-backend=mem"

// ShareArgs are QEMU's devices for shares whose virtiofsd listen on
// sockets (Files.Shares): a vhost-user-fs device per share (ShareDevice).
func ShareArgs(shares []hypervisor.Share, sockets []string, pci bool) []string {
	var args []string
	for i, s := range shares {
		args = append(args, ShareDevice(i, s.Tag, sockets[i], pci)...)
	}
	return args
}

// ShareDevice is share i's vhost-user-fs device, connected to its
// virtiofsd's socket, on virtio-mmio (microvm and virt) or PCI (vz's
// model), tagged for the guest's mount -t virtiofs TAG.
func ShareDevice(i int, tag, socket string, pci bool) []string {
	dev := "vhost-user-fs-device"
	if pci {
		dev = "vhost-user-fs-pci"
	}
	id := "fs" + strconv.Itoa(i)
	return []string{"-chardev", "socket,id=" + id + ",path=" + socket, "-device", dev + ",chardev=" + id + ",tag=" + tag}
}

// EventsArgs serve a QMP monitor on sock for the driver's event watcher
// (Files.Events).
func EventsArgs(sock string) []string {
	return []string{"-chardev", "socket,id=events,path=" + sock + ",server=on,wait=off", "-mon", "chardev=events,mode=control"}
}

// DriveErrorPolicy is what every -drive does when the host cannot read or
// write the disk's file: hand the error to the guest (its kernel sees an
// I/O error, the container's write fails, ext4 goes read-only). QEMU's
// default (werror=enospc) pauses the whole VM when the host disk is full
// instead, silently: its agent stops answering and the container looks
// up but hangs.
const DriveErrorPolicy = "werror=report,rerror=report"

// Binary is the QEMU system emulator for a guest arch.
func Binary(a hypervisor.Arch) string {
	if a == hypervisor.ARM64 {
		return "qemu-system-aarch64"
	}
	return "qemu-system-x86_64"
}

// Validate checks cfg for QEMU on host h.
func Validate(cfg hypervisor.VMConfig, h Host) error {
	if err := cfg.Check(); err != nil {
		return err
	}
	if cfg.Rosetta {
		if err := capabilities.CheckRosetta(h.Caps); err != nil {
			return fmt.Errorf("VM %q: %w", cfg.ID, err)
		}
		return fmt.Errorf("VM %q: Rosetta is only available with Apple's Virtualization framework: %w", cfg.ID, api.ErrUnsupported)
	}
	if cfg.Nested {
		if err := capabilities.CheckNestedFor(h.Caps, string(cfg.Arch)); err != nil {
			return fmt.Errorf("VM %q: %w", cfg.ID, err)
		}
	}
	p := FilesFor(cfg)
	for _, s := range append([]string{p.AgentSocket, p.QMPSocket, p.ConsoleSocket, p.Events}, p.Shares...) {
		if len(s) > maxSockPath {
			return fmt.Errorf("VM %q: socket path %s is longer than %d bytes: use a shorter run directory: %w", cfg.ID, s, maxSockPath, api.ErrInvalidArgument)
		}
	}
	for _, s := range []string{cfg.Kernel, cfg.Initrd, p.Console} {
		if strings.ContainsAny(s, ",\n") {
			return fmt.Errorf("VM %q: path %q contains a comma or newline: %w", cfg.ID, s, api.ErrInvalidArgument)
		}
	}
	return nil
}

// Cmdline returns QEMU's arguments for cfg on host h (without the binary).
// It is pure: no file is touched.
func Cmdline(cfg hypervisor.VMConfig, h Host) ([]string, error) {
	if err := Validate(cfg, h); err != nil {
		return nil, err
	}
	p := FilesFor(cfg)
	args := []string{
		"-name", "berth-" + cfg.ID,
		"-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
		"-monitor", "none",
	}
	machine := "virt"
	if cfg.Arch == hypervisor.AMD64 {
		// microvm: no PCI, no firmware tables to walk; virtio-mmio
		// devices are found through ACPI.
		machine = "microvm"
	}
	if len(cfg.Shares) > 0 {
		machine += "," + SharedMemoryBackend
		args = append(args, SharedMemoryArgs(cfg.MemoryMiB)...)
		// virtio-mmio devices are legacy (virtio 0.9) unless told
		// otherwise, and virtiofsd (libvhost-user) serves only modern
		// (1.0) devices: it panics at the guest's first request.
		args = append(args, "-global", "virtio-mmio.force-legacy=false")
	}
	args = append(args, "-machine", machine)
	args = append(args, AccelArgs(h, cfg.Arch)...)
	args = append(args,
		"-smp", strconv.Itoa(cfg.CPUs),
		"-m", strconv.Itoa(cfg.MemoryMiB),
		"-kernel", cfg.Kernel,
	)
	if cfg.Initrd != "" {
		args = append(args, "-initrd", cfg.Initrd)
	}
	args = append(args, "-append", strings.Join(KernelArgs(cfg, h), " "))
	args = append(args, ConsoleChardev(p)...)
	args = append(args,
		"-serial", "chardev:console",
		"-chardev", "socket,id=agent,path="+p.AgentSocket+",server=on,wait=off",
		"-device", "virtio-serial-device",
		"-device", "virtserialport,chardev=agent,name="+guestabi.SerialPort,
		"-qmp", "unix:"+p.QMPSocket+",server=on,wait=off",
		// QEMU notes in its log when the guest asks to power off
		// (guestPoweredOff): what tells a kernel panic, which resets
		// (panic=-1), from "Kernel panic" text a process printed on the
		// console before powering the VM off.
		"-trace", shutdownTrace,
	)
	args = append(args, EventsArgs(p.Events)...)
	args = append(args,
		// The guest hands back memory it freed (boot leaves most of its
		// RAM touched), so an idle VM's RSS shrinks to what it uses.
		"-device", "virtio-balloon-device,free-page-reporting=on",
	)
	for _, d := range cfg.Disks {
		format := d.Format
		if format == "" {
			format = hypervisor.Raw
		}
		drive := fmt.Sprintf("if=none,id=disk-%s,file=%s,format=%s,%s", d.ID, d.Path, format, DriveErrorPolicy)
		if d.ReadOnly {
			drive += ",readonly=on"
		}
		args = append(args, "-drive", drive,
			"-device", fmt.Sprintf("virtio-blk-device,drive=disk-%s,serial=%s", d.ID, d.ID))
	}
	for i, n := range cfg.Networks {
		id := "net" + strconv.Itoa(i)
		switch n.Mode {
		case hypervisor.NetworkNAT:
			args = append(args, "-netdev", "user,id="+id)
		case hypervisor.NetworkSocket:
			args = append(args, "-netdev", fmt.Sprintf("dgram,id=%s,local.type=unix,local.path=%s,remote.type=unix,remote.path=%s",
				id, hypervisor.NICSocket(cfg.RunDir, i), n.Socket))
		}
		dev := "virtio-net-device,netdev=" + id
		if n.MAC != "" {
			dev += ",mac=" + n.MAC
		}
		args = append(args, "-device", dev)
	}
	return append(args, ShareArgs(cfg.Shares, p.Shares, false)...), nil
}

// AccelArgs selects the accelerator and CPU model for a guest of arch on
// h: KVM with the host's CPU, or TCG emulating a CPU that is fast to
// emulate.
func AccelArgs(h Host, arch hypervisor.Arch) []string {
	if ChooseAccel(h, arch).Name == capabilities.AccelKVM {
		return []string{"-accel", "kvm", "-cpu", "host"}
	}
	cpu := "max"
	if arch == hypervisor.ARM64 {
		// "max" emulates pointer authentication and is ~4x slower.
		cpu = "cortex-a72"
	}
	return []string{"-accel", "tcg,thread=multi,tb-size=256", "-cpu", cpu}
}

// shutdownTrace is the QEMU trace event logged for each shutdown request,
// with its cause: "qemu_system_shutdown_request reason=N".
const shutdownTrace = "qemu_system_shutdown_request"

// shutdownGuestPowerOff is QEMU's ShutdownCause for a guest that powered
// itself off (SHUTDOWN_CAUSE_GUEST_SHUTDOWN). A guest reset (a panic's
// reboot under -no-reboot) is not a shutdown request and is not logged.
const shutdownGuestPowerOff = 6

var shutdownTraceRE = regexp.MustCompile(shutdownTrace + ` reason=(\d+)`)

// guestPoweredOff reports whether QEMU's log says the guest asked to
// power off. The guest cannot write to that log.
func guestPoweredOff(qemuLog string) bool {
	for _, m := range shutdownTraceRE.FindAllStringSubmatch(qemuLog, -1) {
		if n, err := strconv.Atoi(m[1]); err == nil && n == shutdownGuestPowerOff {
			return true
		}
	}
	return false
}

// withoutTrace drops QEMU's trace lines from its log, for a report.
func withoutTrace(qemuLog string) string {
	var keep []string
	for _, l := range strings.Split(qemuLog, "\n") {
		if !strings.Contains(l, shutdownTrace) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// KernelArgs is the guest kernel command line: the console, the crash
// policy, the TCG fix, then cfg.Cmdline.
func KernelArgs(cfg hypervisor.VMConfig, h Host) []string {
	console := "ttyS0"
	if cfg.Arch == hypervisor.ARM64 {
		console = "ttyAMA0"
	}
	// panic=-1 reboots at once on a panic, and -no-reboot turns that into
	// QEMU exiting: a crashed guest never hangs.
	args := []string{"console=" + console, "panic=-1", "quiet"}
	if cfg.Arch == hypervisor.AMD64 {
		// microvm has no PCI bus; this spares the kernel probing for one.
		// It has no ACPI reset register or keyboard controller either,
		// which the kernel tries before a triple fault when it restarts
		// after a panic (under TCG the guest was seen to hang there): a
		// triple fault resets at once, and -no-reboot ends QEMU.
		args = append(args, "pci=off", "reboot=t")
	}
	if cfg.Arch == hypervisor.AMD64 && ChooseAccel(h, cfg.Arch).Name == capabilities.AccelTCG && h.TSCkHz() > 0 {
		args = append(args, "tsc_early_khz="+strconv.Itoa(h.TSCkHz()))
	}
	return append(args, cfg.Cmdline...)
}
