package guest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/guest/netconf"
	"github.com/berthvm/berth/core/guestabi"
)

// This file is what PID 1 does to the guest machine: early mounts, module
// loading, finding the host channel, mounting containers, the clock, the
// hostname, powering off. Only app/agent calls it, inside a VM.

// RealSystem returns the System that acts on the real guest. trace, if
// set, hears the steps of mounting a container (boot timing).
func RealSystem(trace func(string)) System {
	if trace == nil {
		trace = func(string) {}
	}
	return System{
		SetTime: func(t time.Time) error {
			tv := unix.NsecToTimeval(t.UnixNano())
			return unix.Settimeofday(&tv)
		},
		SetHostname:      func(h string) error { return unix.Sethostname([]byte(h)) },
		ConfigureNetwork: netconf.Configure,
		Network:          netconf.Apply,
		MountContainer: func(cfg proto.ContainerConfig, dir string) (string, []string, error) {
			return mountContainer(cfg, dir, trace)
		},
		MountVolumes: func(cfg proto.ContainerConfig, root, dir string) ([]string, error) {
			return mountVolumes(cfg, root, dir, trace)
		},
		PowerOff: func() error {
			netconf.ReleaseLeases()
			unix.Sync()
			// While the console still works: the host reads a clean
			// end from this line.
			fmt.Fprintln(os.Stderr, guestabi.PowerOffMarker)
			return unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
		},
	}
}

type mountSpec struct {
	source, target, fstype string
	flags                  uintptr
	data                   string
}

// EarlyMounts mounts what PID 1 needs (the kernel mounts nothing in an
// initramfs when DEVTMPFS_MOUNT is off).
func EarlyMounts() error {
	const nodev = unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV
	for _, m := range []mountSpec{
		{"devtmpfs", "/dev", "devtmpfs", unix.MS_NOSUID, "mode=0755"},
		{"proc", "/proc", "proc", nodev, ""},
		{"sysfs", "/sys", "sysfs", nodev, ""},
		{"devpts", "/dev/pts", "devpts", unix.MS_NOSUID | unix.MS_NOEXEC, "gid=5,mode=0620,ptmxmode=0666"},
		{"shm", "/dev/shm", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=1777"},
		{"run", "/run", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=0755"},
		{"tmp", "/tmp", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=1777"},
	} {
		if err := os.MkdirAll(m.target, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(m.source, m.target, m.fstype, m.flags, m.data); err != nil && !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("mount %s on %s: %w", m.fstype, m.target, err)
		}
	}
	return nil
}

// Console is where PID 1 writes. The kernel opens /dev/console for PID 1
// when it has a console; when the console is a module (hvc0, the virtio
// console of Apple's Virtualization framework, in Debian's arm64 kernel)
// it has none yet, and the agent's stdio is /dev/null (the Go runtime
// opens it for the closed fds 0-2). Until Attach succeeds, Console keeps
// what the agent writes, up to earlyLimit bytes, and then writes it out.
type Console struct {
	mu       sync.Mutex
	attached bool
	early    []byte
}

// earlyLimit bounds what is kept before the console exists.
const earlyLimit = 64 << 10

func (c *Console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.attached {
		return os.Stderr.Write(p)
	}
	if room := earlyLimit - len(c.early); room > 0 {
		c.early = append(c.early, p[:min(len(p), room)]...)
	}
	return len(p), nil
}

// Attach points fds 0-2 at /dev/console once it opens, trying for up to
// wait (a console driver that was just loaded registers its console as
// its device appears), and writes out what was kept. It reports whether
// the console is attached.
func (c *Console) Attach(wait time.Duration) bool {
	c.mu.Lock()
	attached := c.attached
	c.mu.Unlock()
	if attached {
		return true
	}
	deadline := time.Now().Add(wait)
	for {
		// O_NOCTTY: PID 1 must not take the console as its terminal.
		f, err := os.OpenFile("/dev/console", os.O_RDWR|unix.O_NOCTTY, 0)
		if err == nil {
			c.mu.Lock()
			defer c.mu.Unlock()
			for _, fd := range []int{0, 1, 2} {
				_ = unix.Dup3(int(f.Fd()), fd, 0)
			}
			f.Close()
			c.attached = true
			_, _ = os.Stderr.Write(c.early)
			c.early = nil
			return true
		}
		if !time.Now().Before(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// LoadModules loads the modules named in list (one per line, in order)
// from dir. A module already loaded or built in is fine. trace, if set,
// hears each module's name once it is loaded.
func LoadModules(list, dir string, trace func(string)) error {
	b, err := os.ReadFile(list)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, name := range strings.Fields(string(b)) {
		p := filepath.Join(dir, name+".ko")
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("module %s: %w", name, err)
		}
		err = unix.FinitModule(int(f.Fd()), "", 0)
		f.Close()
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("load module %s: %w", name, err)
		}
		if trace != nil {
			trace("module " + name)
		}
	}
	return nil
}

func findPort(sys, name string) string {
	dir := filepath.Join(sys, "class", "virtio-ports")
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "name"))
		if err == nil && strings.TrimSpace(string(b)) == name {
			return "/dev/" + e.Name()
		}
	}
	return ""
}

// virtioIDVsock is the virtio device id of a socket device (virtio spec
// 5.10); sysfs shows it as "0x0013".
const virtioIDVsock = 0x13

// hasVsockDevice reports whether the guest has a virtio socket device.
func hasVsockDevice(sys string) bool {
	dir := filepath.Join(sys, "bus", "virtio", "devices")
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "device"))
		if err != nil {
			continue
		}
		var id int
		if _, err := fmt.Sscanf(strings.TrimSpace(string(b)), "0x%x", &id); err == nil && id == virtioIDVsock {
			return true
		}
	}
	return false
}

// Channel is how the agent reaches the host.
type Channel struct {
	Vsock bool   // a vsock port (Apple's Virtualization framework)
	Port  string // else the virtio-serial port's device
}

// FindChannel finds the host channel: the virtio-serial port called name
// (QEMU), or vsock when the guest has a virtio socket device (vz), so
// neither waits for the other's timeout. If neither shows up before ctx
// ends, it falls back to vsock.
func FindChannel(ctx context.Context, name string) Channel {
	for {
		if ch, ok := findChannel("/sys", name); ok {
			return ch
		}
		select {
		case <-ctx.Done():
			return Channel{Vsock: true}
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// findChannel is one look at sysfs (rooted at sys). The port wins: a
// guest with both (none today) keeps QEMU's channel.
func findChannel(sys, name string) (Channel, bool) {
	if p := findPort(sys, name); p != "" {
		return Channel{Port: p}, true
	}
	if hasVsockDevice(sys) {
		return Channel{Vsock: true}, true
	}
	return Channel{}, false
}

// ServePort serves sessions on a virtio-serial port. The port stays open
// for the life of the guest: closing it would discard bytes a new host
// may already have sent. A read returns EOF while no host is connected,
// which ends the session but not the stream.
func (s *Server) ServePort(ctx context.Context, path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	return s.Serve(portConn{f})
}

// portConn turns the port's EOF into errHostGone and ignores Close (a
// session ending must not close the port).
type portConn struct{ f *os.File }

func (p portConn) Read(b []byte) (int, error) {
	n, err := p.f.Read(b)
	if errors.Is(err, io.EOF) {
		return n, errHostGone
	}
	return n, err
}

func (p portConn) Write(b []byte) (int, error) { return p.f.Write(b) }
func (p portConn) Close() error                { return nil }

// ServeVsock accepts host connections on a vsock port (Apple's
// Virtualization framework), one session per connection.
func (s *Server) ServeVsock(ctx context.Context, port uint32) error {
	fd, err := unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("vsock socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrVM{CID: unix.VMADDR_CID_ANY, Port: port}); err != nil {
		unix.Close(fd)
		return fmt.Errorf("vsock bind port %d: %w", port, err)
	}
	if err := unix.Listen(fd, 4); err != nil {
		unix.Close(fd)
		return fmt.Errorf("vsock listen: %w", err)
	}
	l := os.NewFile(uintptr(fd), "vsock")
	go func() { <-ctx.Done(); l.Close() }()
	for {
		nfd, _, err := unix.Accept4(int(l.Fd()), unix.SOCK_CLOEXEC)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, unix.EINTR) || errors.Is(err, unix.ECONNABORTED) {
				continue
			}
			return fmt.Errorf("vsock accept: %w", err)
		}
		go func() { _ = s.Serve(os.NewFile(uintptr(nfd), "vsock-conn")) }()
	}
}

// WatchPowerButton calls fn when a power button is pressed: QEMU's ACPI
// button (system_powerdown on x86), or a GPIO power key (QEMU's virt
// machine, and the PL061 key through which Apple's Virtualization
// framework delivers RequestStop). It returns false at once if the guest
// has none yet.
func WatchPowerButton(fn func()) bool {
	ents, _ := os.ReadDir("/sys/class/input")
	var once sync.Once
	found := false
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "event") {
			continue
		}
		if !isPowerButton(filepath.Join("/sys/class/input", e.Name())) {
			continue
		}
		f, err := os.Open("/dev/input/" + e.Name())
		if err != nil {
			continue
		}
		found = true
		go func() {
			defer f.Close()
			// struct input_event on 64-bit: timeval (16), type u16, code u16, value s32.
			var ev [24]byte
			for {
				if _, err := io.ReadFull(f, ev[:]); err != nil {
					return
				}
				typ := uint16(ev[16]) | uint16(ev[17])<<8
				code := uint16(ev[18]) | uint16(ev[19])<<8
				if typ == 1 && code == keyPower { // EV_KEY
					once.Do(fn)
					return
				}
			}
		}()
	}
	return found
}

// keyPower is KEY_POWER (linux/input-event-codes.h).
const keyPower = 116

// isPowerButton reports whether the input device at dir (a
// /sys/class/input/eventN) is a power button: ACPI's by name, any other
// (gpio-keys) by announcing KEY_POWER.
func isPowerButton(dir string) bool {
	name, _ := os.ReadFile(filepath.Join(dir, "device", "name"))
	if strings.Contains(string(name), "Power Button") {
		return true
	}
	caps, err := os.ReadFile(filepath.Join(dir, "device", "capabilities", "key"))
	return err == nil && hasKey(string(caps), keyPower)
}

// hasKey reads an input device's key capability bitmap as sysfs prints
// it: hex words of the machine's long size, most significant first,
// leading zero words omitted.
func hasKey(bitmap string, code int) bool {
	words := strings.Fields(bitmap)
	const bits = 64 // unsigned long on the 64-bit guests Berth runs
	i := len(words) - 1 - code/bits
	if i < 0 || i >= len(words) {
		return false
	}
	var w uint64
	if _, err := fmt.Sscanf(words[i], "%x", &w); err != nil {
		return false
	}
	return w&(1<<(code%bits)) != 0
}

// blockDevice finds the device for d: by the serial the host gave the
// disk (/sys/block/*/serial) or by path.
func blockDevice(d proto.Device) (string, error) {
	if d.Path != "" {
		return d.Path, nil
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		ents, _ := os.ReadDir("/sys/block")
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join("/sys/block", e.Name(), "serial"))
			if err == nil && strings.TrimSpace(string(b)) == d.Serial {
				return "/dev/" + e.Name(), nil
			}
		}
		// Disks can still be probing right after boot.
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no disk with serial %q in the guest: %w", d.Serial, api.ErrNotFound)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// mountContainer builds the container's root under dir: the base disk
// read-only, the upper disk (or a tmpfs) for the overlay's upper and work
// directories, the overlay itself, then the API filesystems inside it.
func mountContainer(cfg proto.ContainerConfig, dir string, trace func(string)) (root string, mounts []string, err error) {
	var done []string // mounted so far, innermost last
	defer func() {
		if err != nil {
			for i := len(done) - 1; i >= 0; i-- {
				_ = unix.Unmount(done[i], unix.MNT_DETACH)
			}
		}
	}()
	mount := func(src, target, fstype string, flags uintptr, data string) error {
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(src, target, fstype, flags, data); err != nil {
			return fmt.Errorf("mount %s (%s) on %s: %w", src, fstype, target, err)
		}
		trace("mounted " + target)
		done = append(done, target)
		return nil
	}
	base, upper, root := filepath.Join(dir, "base"), filepath.Join(dir, "upper"), filepath.Join(dir, "rootfs")
	baseDev, err := blockDevice(cfg.Base)
	if err != nil {
		return "", nil, fmt.Errorf("base %s: %w", cfg.Base, err)
	}
	if err := mount(baseDev, base, "ext4", unix.MS_RDONLY, ""); err != nil {
		return "", nil, fmt.Errorf("image disk: %w", err)
	}
	if cfg.Upper == (proto.Device{}) {
		if err := mount("upper", upper, "tmpfs", 0, "mode=0755"); err != nil {
			return "", nil, err
		}
	} else {
		upperDev, err := blockDevice(cfg.Upper)
		if err != nil {
			return "", nil, fmt.Errorf("writable layer %s: %w", cfg.Upper, err)
		}
		// noinit_itable: no background thread zeroing inode tables of a
		// freshly made layer, which would compete with the container for
		// the CPU right at start.
		if err := mount(upperDev, upper, "ext4", 0, "noinit_itable"); err != nil {
			return "", nil, fmt.Errorf("writable layer (it must be ext4, formatted by the host): %w", err)
		}
	}
	for _, d := range []string{"upper", "work"} {
		if err := os.MkdirAll(filepath.Join(upper, d), 0o755); err != nil {
			return "", nil, err
		}
	}
	// Features that need extra checks or xattrs at mount are off: the
	// layer is only ever mounted by this agent, over this one base.
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s/upper,workdir=%s/work,index=off,xino=off,metacopy=off,redirect_dir=off", base, upper, upper)
	if err := mount("overlay", root, "overlay", 0, opts); err != nil {
		return "", nil, fmt.Errorf("overlay: %w", err)
	}
	const nodev = unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV
	apiFS := []mountSpec{
		{"proc", "/proc", "proc", nodev, ""},
		{"sysfs", "/sys", "sysfs", nodev | unix.MS_RDONLY, ""},
		// The guest's /dev (devtmpfs with /dev/pts and /dev/shm): the VM,
		// not the mount, is the isolation boundary.
		{"/dev", "/dev", "", unix.MS_BIND | unix.MS_REC, ""},
	}
	if !cfg.ReadOnlyRoot {
		// A read-only root has no writable /tmp or /run unless the user
		// mounts one (--tmpfs /tmp), as in docker.
		apiFS = append(apiFS,
			mountSpec{"tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=1777"},
			mountSpec{"tmpfs", "/run", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=0755"})
	}
	for _, m := range apiFS {
		target, err := InRoot(root, m.target)
		if err != nil {
			return "", nil, err
		}
		if err := mount(m.source, target, m.fstype, m.flags, m.data); err != nil {
			return "", nil, err
		}
	}
	mounts = make([]string, len(done))
	for i := range done {
		mounts[i] = done[len(done)-1-i]
	}
	return root, mounts, nil
}
