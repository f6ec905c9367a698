package qemu

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/hypervisor"
)

// AgentPort is the name of the virtio-serial port the agent looks for.
const AgentPort = "agent"

// Files in a VM's run directory.
const (
	agentSockName = "agent.sock"
	qmpSockName   = "qmp.sock"
	consoleName   = "console.log"
	qemuLogName   = "qemu.log"
)

// maxSockPath is the longest unix socket path Linux accepts.
const maxSockPath = 107

// paths are the files one VM uses.
type paths struct {
	agentSock, qmpSock, console, qemuLog string
}

func pathsFor(cfg hypervisor.VMConfig) paths {
	p := paths{
		agentSock: filepath.Join(cfg.RunDir, agentSockName),
		qmpSock:   filepath.Join(cfg.RunDir, qmpSockName),
		console:   cfg.ConsoleLog,
		qemuLog:   filepath.Join(cfg.RunDir, qemuLogName),
	}
	if p.console == "" {
		p.console = filepath.Join(cfg.RunDir, consoleName)
	}
	return p
}

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
	accel := ChooseAccel(h, cfg.Arch)
	if cfg.Rosetta {
		return fmt.Errorf("VM %q: Rosetta is only available with Apple's Virtualization framework: %w", cfg.ID, api.ErrUnsupported)
	}
	if cfg.Nested && (accel.Name != "kvm" || cfg.Arch != hypervisor.AMD64) {
		return fmt.Errorf("VM %q: nested virtualization needs KVM on an x86_64 host (%s): %w", cfg.ID, accel.Reason, api.ErrUnsupported)
	}
	p := pathsFor(cfg)
	for _, s := range []string{p.agentSock, p.qmpSock} {
		if len(s) > maxSockPath {
			return fmt.Errorf("VM %q: socket path %s is longer than %d bytes: use a shorter run directory: %w", cfg.ID, s, maxSockPath, api.ErrInvalidArgument)
		}
	}
	for _, s := range []string{cfg.Kernel, cfg.Initrd, p.console} {
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
	p := pathsFor(cfg)
	accel := ChooseAccel(h, cfg.Arch)
	args := []string{
		"-name", "berth-" + cfg.ID,
		"-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
		"-monitor", "none",
	}
	switch cfg.Arch {
	case hypervisor.AMD64:
		// microvm: no PCI, no firmware tables to walk; virtio-mmio
		// devices are found through ACPI.
		args = append(args, "-machine", "microvm")
	case hypervisor.ARM64:
		args = append(args, "-machine", "virt")
	}
	if accel.Name == "kvm" {
		args = append(args, "-accel", "kvm", "-cpu", "host")
	} else {
		cpu := "max"
		if cfg.Arch == hypervisor.ARM64 {
			// "max" emulates pointer authentication and is ~4x slower.
			cpu = "cortex-a72"
		}
		args = append(args, "-accel", "tcg,thread=multi,tb-size=256", "-cpu", cpu)
	}
	args = append(args,
		"-smp", strconv.Itoa(cfg.CPUs),
		"-m", strconv.Itoa(cfg.MemoryMiB),
		"-kernel", cfg.Kernel,
	)
	if cfg.Initrd != "" {
		args = append(args, "-initrd", cfg.Initrd)
	}
	args = append(args, "-append", strings.Join(KernelArgs(cfg, h), " "))
	args = append(args,
		"-chardev", "file,id=console,path="+p.console,
		"-serial", "chardev:console",
		"-chardev", "socket,id=agent,path="+p.agentSock+",server=on,wait=off",
		"-device", "virtio-serial-device",
		"-device", "virtserialport,chardev=agent,name="+AgentPort,
		"-qmp", "unix:"+p.qmpSock+",server=on,wait=off",
		// The guest hands back memory it freed (boot leaves most of its
		// RAM touched), so an idle VM's RSS shrinks to what it uses.
		"-device", "virtio-balloon-device,free-page-reporting=on",
	)
	for _, d := range cfg.Disks {
		format := d.Format
		if format == "" {
			format = hypervisor.Raw
		}
		drive := fmt.Sprintf("if=none,id=disk-%s,file=%s,format=%s", d.ID, d.Path, format)
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
			args = append(args, "-netdev", "stream,id="+id+",server=off,addr.type=unix,addr.path="+n.Socket)
		}
		dev := "virtio-net-device,netdev=" + id
		if n.MAC != "" {
			dev += ",mac=" + n.MAC
		}
		args = append(args, "-device", dev)
	}
	return args, nil
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
		args = append(args, "pci=off")
	}
	if cfg.Arch == hypervisor.AMD64 && ChooseAccel(h, cfg.Arch).Name == "tcg" && h.TSCkHz > 0 {
		args = append(args, "tsc_early_khz="+strconv.Itoa(h.TSCkHz))
	}
	return append(args, cfg.Cmdline...)
}
