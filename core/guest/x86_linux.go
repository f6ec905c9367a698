package guest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/guestabi"
)

// X86Setup is what the kernel command line asks of the agent for x86_64
// binaries in an arm64 guest.
type X86Setup struct {
	// RosettaTag (berth.rosetta=TAG): Apple's Virtualization framework
	// shares Rosetta for Linux as virtio-fs TAG; the agent mounts it on
	// RosettaDir and registers RosettaDir/rosetta.
	RosettaTag string
	// Interpreter (berth.x86-interpreter=PATH): an interpreter already in
	// the guest's root (an initramfs that carries one; the CI test of
	// this path).
	Interpreter string
}

// RosettaDir is where the Rosetta share is mounted in the guest.
const RosettaDir = "/run/rosetta"

// x86BinfmtName is the binfmt_misc entry for x86_64 ELF binaries.
const x86BinfmtName = "x86_64"

// ParseX86Setup reads the kernel command line.
func ParseX86Setup(cmdline string) X86Setup {
	var x X86Setup
	x.RosettaTag, _ = guestabi.ArgValue(cmdline, guestabi.ArgRosetta)
	x.Interpreter, _ = guestabi.ArgValue(cmdline, guestabi.ArgX86Interpreter)
	return x
}

// Wanted reports whether x86_64 binaries were asked for.
func (x X86Setup) Wanted() bool { return x.RosettaTag != "" || x.Interpreter != "" }

// x86Magic and x86Mask select x86_64 ELF executables and shared objects
// (e_ident class 64-bit little-endian, e_type EXEC or DYN, e_machine
// EM_X86_64), as Apple documents for Rosetta.
const (
	x86Magic = `\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00`
	x86Mask  = `\xff\xff\xff\xff\xff\xfe\xfe\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff`
)

// binfmtRule is the line written to binfmt_misc's register file. Flags:
// F opens the interpreter now, so it runs inside containers whose root
// does not have it; C takes credentials (setuid) from the binary, as
// Apple recommends for Rosetta (and implies O: the interpreter gets the
// binary as an open file).
func binfmtRule(name, interp string) string {
	return ":" + name + ":M::" + x86Magic + ":" + x86Mask + ":" + interp + ":CF"
}

const binfmtDir = "/proc/sys/fs/binfmt_misc"

// SetupX86 makes x86_64 binaries run through the interpreter x names (the
// binfmt_misc and, for Rosetta, virtiofs modules must be loaded). It
// returns the interpreter registered.
func SetupX86(x X86Setup) (string, error) {
	interp := x.Interpreter
	if x.RosettaTag != "" {
		if err := os.MkdirAll(RosettaDir, 0o755); err != nil {
			return "", err
		}
		if err := unix.Mount(x.RosettaTag, RosettaDir, "virtiofs", unix.MS_RDONLY|unix.MS_NODEV|unix.MS_NOSUID, ""); err != nil && !errors.Is(err, unix.EBUSY) {
			return "", fmt.Errorf("mount the Rosetta share %q: %w", x.RosettaTag, err)
		}
		interp = filepath.Join(RosettaDir, "rosetta")
	}
	if interp == "" {
		return "", fmt.Errorf("no x86_64 interpreter asked for: %w", api.ErrInvalidArgument)
	}
	fi, err := os.Stat(interp)
	if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("x86_64 interpreter %s is not an executable file: %w", interp, api.ErrNotFound)
	}
	if err := unix.Mount("binfmt_misc", binfmtDir, "binfmt_misc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil && !errors.Is(err, unix.EBUSY) {
		return "", fmt.Errorf("mount binfmt_misc: %w", err)
	}
	if _, err := os.Stat(filepath.Join(binfmtDir, x86BinfmtName)); err == nil {
		return interp, nil // registered already
	}
	f, err := os.OpenFile(filepath.Join(binfmtDir, "register"), os.O_WRONLY, 0)
	if err != nil {
		return "", fmt.Errorf("binfmt_misc: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(binfmtRule(x86BinfmtName, interp)); err != nil {
		return "", fmt.Errorf("register %s for x86_64 binaries: %w", interp, err)
	}
	return interp, nil
}
