package qemu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/hypervisor/hostproc"
)

// Driver starts VMs with QEMU. The zero value is not usable; use New.
type Driver struct {
	host Host
	// args builds the machine model; default Cmdline.
	args ArgsFunc
	// virtiofsd, if set, is where to look for virtiofsd instead of $PATH
	// and VirtiofsdSearch.
	virtiofsd []string
	// shareCache is virtiofsd's cache mode; default CacheAuto.
	shareCache ShareCache
}

// ArgsFunc builds QEMU's arguments (without the binary) for cfg on h. It
// must be pure, and put the agent channel, QMP and the console at f's
// paths.
type ArgsFunc func(cfg hypervisor.VMConfig, h Host, f Files) ([]string, error)

// WithArgs boots another machine model than Cmdline's, such as the device
// model of Apple's Virtualization framework (core/hypervisor/vz/vzqemu),
// with the same process handling, handle and re-adoption.
func WithArgs(f ArgsFunc) Option { return func(d *Driver) { d.args = f } }

// WithVirtiofsd looks for virtiofsd at paths only (tests: none at all).
func WithVirtiofsd(paths ...string) Option {
	return func(d *Driver) { d.virtiofsd = append([]string{}, paths...) }
}

// WithShareCache sets virtiofsd's cache mode for every share (default
// CacheAuto: host changes show within a second).
func WithShareCache(c ShareCache) Option { return func(d *Driver) { d.shareCache = c } }

// Option configures a Driver.
type Option func(*Driver)

// WithHost replaces the probed host (tests, or core/capabilities' view).
func WithHost(h Host) Option { return func(d *Driver) { d.host = h } }

// New returns a driver for this host.
func New(opts ...Option) *Driver {
	d := &Driver{host: ProbeHost(), shareCache: CacheAuto,
		args: func(cfg hypervisor.VMConfig, h Host, _ Files) ([]string, error) { return Cmdline(cfg, h) }}
	for _, o := range opts {
		o(d)
	}
	return d
}

var _ hypervisor.Driver = (*Driver)(nil)

// Info declares what the backend is (see Info), with virtio-fs shares
// when virtiofsd is here.
func (d *Driver) Info() hypervisor.Info {
	i := Info()
	if _, err := d.virtiofsdPath(); err == nil {
		i.Shares = []hypervisor.ShareKind{hypervisor.ShareVirtioFS}
	}
	return i
}

// Host is the machine description the driver builds command lines for.
func (d *Driver) Host() Host { return d.host }

// Accel reports the accelerator a guest of arch gets here.
func (d *Driver) Accel(arch hypervisor.Arch) Accel { return ChooseAccel(d.host, arch) }

func (d *Driver) Validate(cfg hypervisor.VMConfig) error {
	if err := Validate(cfg, d.host); err != nil {
		return err
	}
	if _, err := d.binary(cfg.Arch); err != nil {
		return err
	}
	for _, f := range []string{cfg.Kernel, cfg.Initrd} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("VM %q: %s: %w", cfg.ID, f, api.ErrNotFound)
		}
	}
	for _, disk := range cfg.Disks {
		if _, err := os.Stat(disk.Path); err != nil {
			return fmt.Errorf("VM %q: disk %s (%s): %w", cfg.ID, disk.ID, disk.Path, api.ErrNotFound)
		}
	}
	if len(cfg.Shares) > 0 {
		if _, err := d.virtiofsdPath(); err != nil {
			return fmt.Errorf("VM %q: %w", cfg.ID, err)
		}
	}
	return nil
}

func (d *Driver) binary(a hypervisor.Arch) (string, error) {
	b, err := exec.LookPath(Binary(a))
	if err != nil {
		pkg := "qemu-system-x86"
		if a == hypervisor.ARM64 {
			pkg = "qemu-system-arm"
		}
		return "", fmt.Errorf("%s not found: install it with apt-get install %s: %w", Binary(a), pkg, api.ErrUnavailable)
	}
	return b, nil
}

// Start boots cfg and returns once QEMU serves the agent socket.
func (d *Driver) Start(ctx context.Context, cfg hypervisor.VMConfig) (_ hypervisor.Machine, err error) {
	if err := d.Validate(cfg); err != nil {
		return nil, err
	}
	bin, _ := d.binary(cfg.Arch)
	p := FilesFor(cfg)
	args, err := d.args(cfg, d.host, p)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.RunDir, 0o700); err != nil {
		return nil, fmt.Errorf("VM %q: run directory: %w", cfg.ID, err)
	}
	// A QEMU still answering on the run directory's control socket owns
	// it: refuse rather than steal its sockets (and delete its files).
	if c, err := net.DialTimeout("unix", p.QMPSocket, 200*time.Millisecond); err == nil {
		c.Close()
		return nil, fmt.Errorf("VM %q: run directory %s is in use by a running VM: %w", cfg.ID, cfg.RunDir, api.ErrAlreadyExists)
	}
	// Sockets left by a VM of the same id that died with its core.
	for _, f := range []string{p.AgentSocket, p.QMPSocket, p.ConsoleSocket} {
		_ = os.Remove(f)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(cfg.RunDir)
		}
	}()
	// virtiofsd first: QEMU connects to its socket as it starts.
	shares, err := d.startShares(ctx, cfg, p)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			shares.kill()
		}
	}()
	accel := d.Accel(cfg.Arch)
	h := hypervisor.Handle{Driver: Name, ID: cfg.ID, RunDir: cfg.RunDir,
		AgentSocket: p.AgentSocket, ControlSocket: p.QMPSocket, ConsoleLog: p.Console, ConsoleSocket: p.ConsoleSocket}
	proc, err := hostproc.Spawn(ctx, hostproc.Spec{Path: bin, Args: args, Log: p.qemuLog,
		Started: func(pid int, st uint64) error {
			h.PID, h.StartTime = pid, st
			return hypervisor.SaveHandle(h)
		}})
	if err != nil {
		return nil, fmt.Errorf("VM %q: %w", cfg.ID, err)
	}
	m := newMachine(h, proc, p.qemuLog)
	m.shares = shares
	go m.watch()
	slog.Info("VM started", "id", cfg.ID, "pid", h.PID, "accel", accel.Name, "reason", accel.Reason, "shares", len(cfg.Shares))
	// QEMU waits for the console's reader before it starts the guest.
	err = m.copyConsole(ctx, true)
	if err == nil {
		err = m.waitSockets(ctx)
	}
	if err != nil {
		_ = m.Kill()
		if why := shares.ended(); why != "" {
			err = fmt.Errorf("%w%s", err, why)
		}
		return nil, err
	}
	// The event monitor's socket comes after the console's, which QEMU
	// holds until its reader connects: watch once the sockets are there.
	go m.watchDisks()
	return m, nil
}

// Adopt finds the QEMU of h again after the core restarted.
func (d *Driver) Adopt(ctx context.Context, h hypervisor.Handle) (hypervisor.Machine, error) {
	if h.Driver != Name {
		return nil, fmt.Errorf("VM %q belongs to driver %q, not %q: %w", h.ID, h.Driver, Name, api.ErrInvalidArgument)
	}
	gone := func() (hypervisor.Machine, error) {
		// Gone (or the pid was reused): clean up what it left.
		_ = os.RemoveAll(h.RunDir)
		return nil, fmt.Errorf("VM %q (pid %d) is no longer running: %w", h.ID, h.PID, api.ErrNotFound)
	}
	if !isQEMU(h.PID) {
		return gone()
	}
	proc, err := hostproc.Adopt(h.PID, h.StartTime)
	if err != nil {
		return gone()
	}
	// The VM's virtiofsd processes need nothing from an adopting core:
	// they outlive the core that started them (own process groups, as
	// QEMU) and end by themselves when QEMU, their only client, ends.
	m := newMachine(h, proc, "")
	go m.watch()
	if h.ConsoleSocket == "" {
		close(m.consoleDone) // a QEMU of an older core writes its console file itself
	} else if err := m.copyConsole(ctx, false); err != nil {
		slog.Warn("VM console not copied after adopting the VM", "id", h.ID, "err", err)
	}
	go m.watchDisks()
	return m, nil
}

func isQEMU(pid int) bool {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return err == nil && strings.Contains(exe, "qemu-system")
}

// Machine is a VM run by QEMU.
type Machine struct {
	h       hypervisor.Handle
	proc    *hostproc.Process
	qemuLog string // QEMU's output, for the report of a QEMU this core started
	// shares are the virtiofsd processes this core started for the VM
	// (nil when adopted).
	shares *shareProcs

	// exited is closed when QEMU has exited, consoleDone when the
	// console's copier has written its last byte (or there is none).
	exited, consoleDone chan struct{}

	mu      sync.Mutex
	killed  bool // we ended it on purpose: not a crash
	exitErr error
	done    chan struct{}

	diskErrs chan hypervisor.DiskError
}

var (
	_ hypervisor.Machine           = (*Machine)(nil)
	_ hypervisor.DiskErrorReporter = (*Machine)(nil)
)

func newMachine(h hypervisor.Handle, proc *hostproc.Process, qemuLog string) *Machine {
	return &Machine{h: h, proc: proc, qemuLog: qemuLog, done: make(chan struct{}),
		exited: make(chan struct{}), consoleDone: make(chan struct{}),
		diskErrs: make(chan hypervisor.DiskError, 1)}
}

// copyConsole connects to QEMU's console socket and copies the console
// into the console log, bounded, until QEMU ends. With retry it waits
// for QEMU to listen (a QEMU just started), unless QEMU exits first:
// then it returns nil and the caller learns of the exit from Wait.
func (m *Machine) copyConsole(ctx context.Context, retry bool) error {
	for {
		c, err := net.Dial("unix", m.h.ConsoleSocket)
		if err == nil {
			go func() {
				defer close(m.consoleDone)
				defer c.Close()
				if err := hypervisor.CopyConsole(c, m.h.ConsoleLog, hypervisor.ConsoleMax); err != nil {
					slog.Warn("VM console: output dropped", "id", m.h.ID, "err", err)
					// Read on: a console nobody reads would stall the guest.
					_, _ = io.Copy(io.Discard, c)
				}
			}()
			return nil
		}
		if !retry {
			close(m.consoleDone)
			return fmt.Errorf("VM %q: connect to the console: %w", m.h.ID, err)
		}
		select {
		case <-m.exited:
			close(m.consoleDone)
			return nil
		case <-ctx.Done():
			close(m.consoleDone)
			return fmt.Errorf("VM %q: waiting for QEMU: %w: %w", m.h.ID, ctx.Err(), api.ErrCanceled)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// DiskErrors delivers the host's failures on the VM's disks, from QEMU's
// BLOCK_IO_ERROR events; a burst is coalesced (one pending value).
func (m *Machine) DiskErrors() <-chan hypervisor.DiskError { return m.diskErrs }

// watchDisks follows QEMU's event monitor (Files.Events) while the VM
// runs. A machine model without one (vzqemu) has no socket there: no
// disk errors are reported.
func (m *Machine) watchDisks() {
	sock := filepath.Join(m.h.RunDir, eventsSockName)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-m.done
		cancel()
	}()
	// QEMU creates its sockets together: the agent's and QMP's being
	// there (waitSockets), this one is too, or will never be.
	for range 50 {
		if _, err := os.Stat(sock); err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	err := watchEvents(ctx, sock, func(e hypervisor.DiskError) {
		select {
		case m.diskErrs <- e:
		default: // one is pending: the reader learns of the burst
		}
	})
	if err != nil && ctx.Err() == nil && !errors.Is(err, fs.ErrNotExist) {
		slog.Debug("VM event monitor", "id", m.h.ID, "err", err)
	}
}

func (m *Machine) ID() string                { return m.h.ID }
func (m *Machine) Handle() hypervisor.Handle { return m.h }

func (m *Machine) State() hypervisor.State {
	select {
	case <-m.done:
		return hypervisor.Stopped
	default:
		return hypervisor.Running
	}
}

// watch waits for QEMU to end and records how. Only the core that started
// it learns its exit status.
func (m *Machine) watch() {
	e := m.proc.Exit()
	close(m.exited)
	<-m.consoleDone // the console's last words are in the log
	reason := ""
	if e.Known && !e.Clean() {
		switch {
		case e.Signal != 0:
			reason = fmt.Sprintf("QEMU was killed by signal %d", e.Signal)
		case e.Err != nil:
			reason = "QEMU: " + e.Err.Error()
		default:
			reason = fmt.Sprintf("QEMU exited with status %d", e.Code)
		}
		if log := strings.TrimSpace(withoutTrace(hostproc.Tail(m.qemuLog, 0, 2048))); log != "" {
			reason += ": " + log
		}
	}
	m.shares.reap(m.h.ID)
	m.finish(reason)
}

// finish classifies the end from the console, removes the run directory
// and releases waiters.
func (m *Machine) finish(reason string) {
	console := hypervisor.ConsoleTail(m.h.ConsoleLog, 4096)
	// A console file that is gone was removed with the run directory by
	// another owner of this VM (an adopting core), after a clean exit.
	_, statErr := os.Stat(m.h.ConsoleLog)
	consoleGone := errors.Is(statErr, fs.ErrNotExist)
	m.mu.Lock()
	killed := m.killed
	m.mu.Unlock()
	end := hypervisor.GuestEndFrom(console)
	// The console is the guest's to write: a panic it shows is believed
	// only if QEMU did not see the guest power off (a panic resets it).
	fakePanic := end == hypervisor.EndPanic &&
		guestPoweredOff(hostproc.Tail(filepath.Join(m.h.RunDir, qemuLogName), 0, 64<<10))
	switch {
	case killed:
		reason = ""
	case fakePanic:
		reason = "the VM stopped unexpectedly"
	case end == hypervisor.EndPanic:
		reason = "guest kernel panic"
	case end == hypervisor.EndReboot:
		reason = "guest rebooted (Berth VMs do not reboot)"
	case reason != "", consoleGone, end == hypervisor.EndPowerOff:
	case console == "":
		// A guest whose console is a module (hvc0 on the Mac's device
		// model) dies silently if it dies before loading it.
		reason = "VM ended without powering off, before its console started"
	default:
		reason = "VM ended without powering off"
	}
	m.mu.Lock()
	if reason != "" {
		m.exitErr = &hypervisor.ExitError{ID: m.h.ID, Reason: reason, ConsoleTail: hypervisor.CrashTail(console)}
	}
	m.mu.Unlock()
	hypervisor.RemoveRunDir(m.h)
	close(m.done)
}

func (m *Machine) Wait(ctx context.Context) error {
	select {
	case <-m.done:
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.exitErr
	case <-ctx.Done():
		return fmt.Errorf("wait for VM %q: %w: %w", m.h.ID, ctx.Err(), api.ErrCanceled)
	}
}

// Stop presses the guest's ACPI power button (QMP system_powerdown), which
// the agent answers by shutting down, and kills the VM after timeout.
func (m *Machine) Stop(ctx context.Context, timeout time.Duration) error {
	return hypervisor.StopWithin(ctx, m.h.ID, m.done, timeout, func(ctx context.Context) error {
		return qmpCommand(ctx, m.h.ControlSocket, "system_powerdown")
	}, m.Kill)
}

func (m *Machine) Kill() error {
	m.mu.Lock()
	m.killed = true
	m.mu.Unlock()
	select {
	case <-m.done:
		return nil
	default:
	}
	// Ask QEMU to quit first (it flushes disks), then make sure.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	_ = qmpCommand(ctx, m.h.ControlSocket, "quit")
	cancel()
	select {
	case <-m.done:
		return nil
	case <-time.After(2 * time.Second):
	}
	if err := m.proc.Kill(); err != nil {
		return fmt.Errorf("VM %q: %w", m.h.ID, err)
	}
	select {
	case <-m.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("VM %q (pid %d) did not die: %w", m.h.ID, m.h.PID, api.ErrUnavailable)
	}
}

func (m *Machine) DialAgent(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", m.h.AgentSocket)
	if err != nil {
		return nil, fmt.Errorf("VM %q: connect to the agent: %w: %w", m.h.ID, err, api.ErrUnavailable)
	}
	return c, nil
}

// waitSockets waits until QEMU listens on its sockets, or dies trying.
func (m *Machine) waitSockets(ctx context.Context) error {
	for {
		_, e1 := os.Stat(m.h.AgentSocket)
		_, e2 := os.Stat(m.h.ControlSocket)
		if e1 == nil && e2 == nil {
			return nil
		}
		select {
		case <-m.done:
			if err := m.Wait(context.Background()); err != nil {
				return err
			}
			return fmt.Errorf("VM %q: QEMU exited at start: %w", m.h.ID, api.ErrUnavailable)
		case <-ctx.Done():
			return fmt.Errorf("VM %q: waiting for QEMU: %w: %w", m.h.ID, ctx.Err(), api.ErrCanceled)
		case <-time.After(5 * time.Millisecond):
		}
	}
}
