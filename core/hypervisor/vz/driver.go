package vz

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/atomicfile"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/hypervisor/hostproc"
	"github.com/berthvm/berth/core/kernel"
)

// Driver runs each VM in its own host process (the berth executable
// started as `berth vm-host RUN_DIR`), as QEMU VMs run in QEMU processes:
// a VM outlives a killed core and is re-adopted from its Handle, and one
// VM's crash cannot take the core down. The zero value is not usable; use
// New.
type Driver struct {
	host   Host
	helper []string // the host process's executable and leading arguments
}

// Option configures a Driver.
type Option func(*Driver)

// WithHost replaces the probed Mac (tests, or the daemon's own probe).
func WithHost(h Host) Option { return func(d *Driver) { d.host = h } }

// WithCapabilities gives the driver the daemon's host facts (nested
// virtualization, Rosetta) instead of probing them again.
func WithCapabilities(c api.Capabilities) Option { return func(d *Driver) { d.host.Caps = c } }

// WithHelper runs host processes as argv..., HostArg, RUN_DIR. The
// default is the running executable (see helperFor), which must call
// MaybeRunHost first thing in main and carry the virtualization
// entitlement.
func WithHelper(argv ...string) Option { return func(d *Driver) { d.helper = argv } }

// New returns a driver for this Mac.
func New(opts ...Option) *Driver {
	d := &Driver{host: probeHost()}
	if exe, err := os.Executable(); err == nil {
		d.helper = []string{helperFor(exe, fileExists)}
	}
	for _, o := range opts {
		o(d)
	}
	return d
}

var _ hypervisor.Driver = (*Driver)(nil)

// Info declares what the backend is (see Info).
func (d *Driver) Info() hypervisor.Info { return Info() }

// Host is the Mac the driver plans for.
func (d *Driver) Host() Host { return d.host }

// Validate checks cfg without starting anything: the plan's rules, then
// the files (present, and the kernel an uncompressed arm64 Image: the
// framework's own error for anything else says little).
func (d *Driver) Validate(cfg hypervisor.VMConfig) error {
	if err := Validate(cfg, d.host); err != nil {
		return err
	}
	if err := kernel.CheckImage(cfg.Kernel, string(cfg.Arch)); err != nil {
		return fmt.Errorf("VM %q: %w", cfg.ID, err)
	}
	if cfg.Initrd != "" {
		if _, err := os.Stat(cfg.Initrd); err != nil {
			return fmt.Errorf("VM %q: initramfs %s: %w", cfg.ID, cfg.Initrd, api.ErrNotFound)
		}
	}
	for _, disk := range cfg.Disks {
		if _, err := os.Stat(disk.Path); err != nil {
			return fmt.Errorf("VM %q: disk %s (%s): %w", cfg.ID, disk.ID, disk.Path, api.ErrNotFound)
		}
	}
	for i, n := range cfg.Networks {
		if n.Mode == hypervisor.NetworkSocket {
			if _, err := os.Stat(n.Socket); err != nil {
				return fmt.Errorf("VM %q: network %d: socket %s: is the network running?: %w", cfg.ID, i, n.Socket, api.ErrNotFound)
			}
		}
	}
	if len(d.helper) == 0 {
		return fmt.Errorf("VM %q: no executable to host the VM: %w", cfg.ID, api.ErrUnavailable)
	}
	return nil
}

// Start plans cfg, starts its host process and returns once the VM runs.
func (d *Driver) Start(ctx context.Context, cfg hypervisor.VMConfig) (_ hypervisor.Machine, err error) {
	if err := d.Validate(cfg); err != nil {
		return nil, err
	}
	plan, err := BuildPlan(cfg, d.host)
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(cfg.RunDir, controlSockName)
	if err := os.MkdirAll(cfg.RunDir, 0o700); err != nil {
		return nil, fmt.Errorf("VM %q: run directory: %w", cfg.ID, err)
	}
	// A host process still answering on the run directory owns it:
	// refuse rather than steal its socket (and delete its files).
	if c, err := net.DialTimeout("unix", sock, 200*time.Millisecond); err == nil {
		c.Close()
		return nil, fmt.Errorf("VM %q: run directory %s is in use by a running VM: %w", cfg.ID, cfg.RunDir, api.ErrAlreadyExists)
	}
	_ = os.Remove(sock)
	defer func() {
		if err != nil {
			_ = os.RemoveAll(cfg.RunDir)
		}
	}()
	b, err := json.MarshalIndent(plan, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(cfg.RunDir, planName), b, 0o600); err != nil {
		return nil, fmt.Errorf("VM %q: write the plan: %w", cfg.ID, err)
	}
	h := hypervisor.Handle{Driver: Name, ID: cfg.ID, RunDir: cfg.RunDir, ControlSocket: sock, ConsoleLog: plan.Console}
	proc, err := hostproc.Spawn(ctx, hostproc.Spec{Path: d.helper[0],
		Args: append(append([]string(nil), d.helper[1:]...), HostArg, cfg.RunDir),
		Log:  filepath.Join(cfg.RunDir, hostLogName),
		Started: func(pid int, st uint64) error {
			h.PID, h.StartTime = pid, st
			return hypervisor.SaveHandle(h)
		}})
	if err != nil {
		return nil, fmt.Errorf("VM %q: %w", cfg.ID, err)
	}
	m := newMachine(h, proc)
	conn, err := m.waitReady(ctx)
	if err != nil {
		_ = proc.Kill()
		<-proc.Done()
		return nil, err
	}
	go m.watch(conn)
	slog.Info("VM started", "id", cfg.ID, "pid", h.PID, "cpus", cfg.CPUs, "memory_mib", cfg.MemoryMiB)
	return m, nil
}

// Adopt finds the host process of h again after the core restarted.
func (d *Driver) Adopt(ctx context.Context, h hypervisor.Handle) (hypervisor.Machine, error) {
	if h.Driver != Name {
		return nil, fmt.Errorf("VM %q belongs to driver %q, not %q: %w", h.ID, h.Driver, Name, api.ErrInvalidArgument)
	}
	gone := func(why string) (hypervisor.Machine, error) {
		_ = os.RemoveAll(h.RunDir)
		return nil, fmt.Errorf("VM %q (pid %d) %s: %w", h.ID, h.PID, why, api.ErrNotFound)
	}
	if st, err := hostproc.StartTime(h.PID); err != nil || st != h.StartTime {
		return gone("is no longer running")
	}
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, rep, err := dialControl(actx, h.ControlSocket, request{Op: opWatch})
	if err == nil && (rep.ID != h.ID || rep.PID != h.PID) {
		conn.Close()
		err = fmt.Errorf("control socket answered for VM %q pid %d", rep.ID, rep.PID)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("adopt VM %q: %w: %w", h.ID, ctx.Err(), api.ErrCanceled)
		}
		// Our host process by pid and start time, but it does not
		// answer: it cannot be driven, so it is ended.
		slog.Warn("VM host process does not answer; killing it", "id", h.ID, "pid", h.PID, "err", err)
		if proc, err := hostproc.Adopt(h.PID, h.StartTime); err == nil {
			_ = proc.Kill()
		}
		return gone("did not answer on its control socket and was killed")
	}
	// Watched only once adopted for good: a process watcher lives as
	// long as the process does.
	proc, err := hostproc.Adopt(h.PID, h.StartTime)
	if err != nil {
		conn.Close()
		return gone("is no longer running")
	}
	m := newMachine(h, proc)
	go m.watch(conn)
	return m, nil
}

// Machine is a VM run by a host process.
type Machine struct {
	h       hypervisor.Handle
	proc    *hostproc.Process
	hostLog string

	mu      sync.Mutex
	killed  bool // ended on purpose: not a crash
	exitErr error
	done    chan struct{}
}

var _ hypervisor.Machine = (*Machine)(nil)

func newMachine(h hypervisor.Handle, proc *hostproc.Process) *Machine {
	return &Machine{h: h, proc: proc, hostLog: filepath.Join(h.RunDir, hostLogName), done: make(chan struct{})}
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

// waitReady waits until the host process serves its control socket (the
// VM runs) and returns the watch connection, or the reason it failed.
func (m *Machine) waitReady(ctx context.Context) (net.Conn, error) {
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		conn, rep, err := dialControl(cctx, m.h.ControlSocket, request{Op: opWatch})
		cancel()
		if err == nil {
			if rep.ID != m.h.ID {
				conn.Close()
				return nil, fmt.Errorf("VM %q: the control socket answered for VM %q: %w", m.h.ID, rep.ID, api.ErrCorrupt)
			}
			return conn, nil
		}
		select {
		case <-m.proc.Done():
			why := "exited"
			if e := m.proc.Exit(); !e.Clean() {
				why = e.String()
			}
			msg := strings.TrimSpace(hostproc.Tail(m.hostLog, 0, 2048))
			if msg == "" {
				msg = "no output"
			}
			return nil, fmt.Errorf("VM %q did not start: the VM host process %s: %s: %w", m.h.ID, why, msg, api.ErrUnavailable)
		case <-ctx.Done():
			return nil, fmt.Errorf("VM %q: waiting for the VM to start: %w: %w", m.h.ID, ctx.Err(), api.ErrCanceled)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// watch reads the end of the VM from the watch connection, waits for the
// host process to be gone, records the outcome and releases waiters.
func (m *Machine) watch(conn net.Conn) {
	var first, end reply
	gotEnd := false
	if err := readJSON(conn, &first); err == nil && first.Ended {
		end, gotEnd = first, true
	} else if err == nil {
		if err := readJSON(conn, &end); err == nil && end.Ended {
			gotEnd = true
		}
	}
	conn.Close()
	exit := m.waitProcessGone()
	m.mu.Lock()
	killed := m.killed
	m.mu.Unlock()
	var exitErr error
	switch {
	case killed:
	case gotEnd && end.Reason != "":
		exitErr = &hypervisor.ExitError{ID: m.h.ID, Reason: end.Reason, ConsoleTail: end.ConsoleTail}
	case gotEnd:
	case exit.Clean():
		// It ended between our connecting and its answering; the host
		// process says all went well.
	default:
		reason := "the VM host process died (" + exit.String() + ")"
		if log := strings.TrimSpace(hostproc.Tail(m.hostLog, 0, 2048)); log != "" {
			reason += ": " + hostproc.LastLines(log, 10)
		}
		exitErr = &hypervisor.ExitError{ID: m.h.ID, Reason: reason,
			ConsoleTail: hypervisor.CrashTail(hostproc.Tail(m.h.ConsoleLog, 0, 4096))}
	}
	m.mu.Lock()
	m.exitErr = exitErr
	m.mu.Unlock()
	// The host process removes it; this covers one that died.
	hypervisor.RemoveRunDir(m.h)
	close(m.done)
}

// waitProcessGone waits for the host process to exit (killing it if it
// lingers long after its VM ended) and says how it ended.
func (m *Machine) waitProcessGone() hostproc.Exit {
	select {
	case <-m.proc.Done():
	case <-time.After(10 * time.Second):
		_ = m.proc.Kill()
	}
	return m.proc.Exit()
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

// Stop asks the guest to power off (the framework presses its power key,
// which the agent answers by shutting down), waits up to timeout, then
// stops the VM.
func (m *Machine) Stop(ctx context.Context, timeout time.Duration) error {
	return hypervisor.StopWithin(ctx, m.h.ID, m.done, timeout, func(ctx context.Context) error {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		rep, err := call(cctx, m.h.ControlSocket, request{Op: opStop})
		if err == nil {
			err = errorFor(rep)
		}
		return err
	}, m.Kill)
}

// Kill stops the VM at once: through its host process (the framework's
// Stop), and if that does not end it, by killing the host process.
func (m *Machine) Kill() error {
	m.mu.Lock()
	m.killed = true
	m.mu.Unlock()
	select {
	case <-m.done:
		return nil
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Second)
	rep, err := call(ctx, m.h.ControlSocket, request{Op: opKill})
	cancel()
	if err == nil {
		err = errorFor(rep)
	}
	// Even a failed request may be a host process already on its way out
	// (its VM ended): give it a moment before killing it.
	wait := 15 * time.Second
	if err != nil {
		wait = 2 * time.Second
	}
	select {
	case <-m.done:
		return nil
	case <-time.After(wait):
	}
	slog.Warn("the VM did not end through its host process, killing the process", "id", m.h.ID, "pid", m.h.PID, "err", err)
	// The VM dies with it: a VZVirtualMachine belongs to the process that
	// made it.
	if err := m.proc.Kill(); err != nil {
		return fmt.Errorf("VM %q: %w", m.h.ID, err)
	}
	select {
	case <-m.done:
		return nil
	case <-time.After(15 * time.Second):
		return fmt.Errorf("VM %q (host process %d) did not end: %w", m.h.ID, m.h.PID, api.ErrUnavailable)
	}
}

// DialAgent connects to the guest agent over vsock through the host
// process, which retries while the agent is not listening yet, until
// ctx's deadline (or a minute).
func (m *Machine) DialAgent(ctx context.Context) (net.Conn, error) {
	select {
	case <-m.done:
		return nil, fmt.Errorf("VM %q has ended: %w", m.h.ID, api.ErrUnavailable)
	default:
	}
	timeout := defaultAgentTimeout
	if dl, ok := ctx.Deadline(); ok {
		// The host gives up a little before ctx does, so its answer
		// (with the console tail) arrives rather than a bare timeout.
		left := time.Until(dl)
		timeout = max(left-min(left/10, 500*time.Millisecond), time.Millisecond)
	}
	conn, rep, err := dialControl(ctx, m.h.ControlSocket, request{Op: opAgent, TimeoutMS: timeout.Milliseconds()})
	if err != nil {
		return nil, fmt.Errorf("VM %q: connect to the agent: %w: %w", m.h.ID, err, api.ErrUnavailable)
	}
	if err := errorFor(rep); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// helperFor picks the executable that hosts VMs for a core running as
// exe: exe itself, except for Berth.app's main executable
// (Contents/MacOS/Berth), which runs VM hosts through the bundle's
// Contents/Helpers/berth when it is there. Both are the one berth binary
// (Helpers/berth is a symlink to ../MacOS/Berth, packaging/bundle.sh), so
// either answers `berth vm-host` with the app's signature and
// entitlement; through the link the VM hosts show as "berth" in ps and
// Activity Monitor, apart from the app.
func helperFor(exe string, exists func(string) bool) string {
	dir := filepath.Dir(exe)
	if filepath.Base(dir) == "MacOS" && filepath.Base(filepath.Dir(dir)) == "Contents" {
		if b := filepath.Join(filepath.Dir(dir), "Helpers", "berth"); exists(b) {
			return b
		}
	}
	return exe
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}
