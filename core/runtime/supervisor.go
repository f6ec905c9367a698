package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/berthvm/berth/core/agent"
	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/network"
	"github.com/berthvm/berth/core/state"
)

// mainProcess is the agent's id for a container's main process.
const mainProcess = "main"

// supervisor runs one container's VM from boot to power-off: it owns the
// Machine, the agent session, the main process and the log writer.
type supervisor struct {
	m       *Manager
	id      string
	name    string
	tty     bool
	machine hypervisor.Machine
	client  *agent.Client
	proc    *agent.Process
	logw    *LogWriter
	hub     *hub
	// mounts are what the agent mounts in the container (planMounts).
	mounts []proto.Mount

	stdinMu sync.Mutex
	// stdinBusy: a client's input is being copied in; stdinClosed: the
	// process's stdin is closed for good.
	stdinBusy, stdinClosed bool
	ip                     string // the guest's address, once configured

	mu         sync.Mutex
	killReason string // set when the VM is killed on purpose
	diskError  string // the first host-side failure on the VM's disks
	detached   bool   // the manager is closing: leave the VM running
	done       chan struct{}
}

// Start boots the container's VM and starts its main process. It returns
// once the process runs (or failed to); a supervisor then watches it.
func (m *Manager) Start(ctx context.Context, ref string, progress api.ProgressFunc) (api.Container, error) {
	return m.start(ctx, ref, progress, startByUser, nil)
}

// start is Start for a user, or for a restart (kind) whose pending entry
// is restart: it goes ahead only if that restart was not cancelled.
func (m *Manager) start(ctx context.Context, ref string, progress api.ProgressFunc, kind startKind,
	restart chan struct{}) (_ api.Container, err error) {
	rec, unlock, err := m.lockRef(ref)
	if err != nil {
		return api.Container{}, err
	}
	defer unlock()
	if kind != startByUser {
		if !m.takeRestart(rec.ID, restart) || rec.State != api.StateRestarting {
			return rec.Container, errRestartCanceled
		}
		if rec.Spec.RestartPolicy.IsNone() {
			rec, _, err = m.endRestarting(rec.ID, false)
			return rec.Container, err
		}
		m.log.Info("restarting container", "id", api.ShortID(rec.ID), "name", rec.Name,
			"policy", rec.Spec.RestartPolicy.String(), "restarts", rec.RestartCount)
	} else if rec.State == api.StateRestarting {
		return rec.Container, nil // docker: it counts as running while it waits
	}
	defer func() {
		// --rm: a container that could not start is gone too, as one
		// that ran and exited would be.
		if err != nil && rec.Spec.AutoRemove {
			if rmErr := m.removeLocked(rec.ID, false); rmErr != nil && !errors.Is(rmErr, api.ErrNotFound) {
				m.log.Warn("auto-remove after a failed start", "id", api.ShortID(rec.ID), "err", rmErr)
			}
		}
	}()
	if rec.State.Active() {
		return rec.Container, nil // docker: starting a running container is not an error
	}
	if err := m.awaitEnd(ctx, rec); err != nil {
		return api.Container{}, err
	}
	if err := CheckTransition(rec.State, api.StateStarting); err != nil {
		return api.Container{}, fmt.Errorf("container %s: %w", rec.Name, err)
	}
	if err := CheckSpec(rec.Spec, m.cfg.Host); err != nil {
		return api.Container{}, err
	}
	// berth update may have resized it since its last run.
	if rec.CPUs, rec.MemoryMiB, err = Resources(rec.Spec, m.cfg.Host); err != nil {
		return api.Container{}, err
	}
	runDir := filepath.Join(runRoot(m.cfg.Home), vmID(rec.ID))
	nics, err := m.netUp(ctx, &rec, runDir)
	if err != nil {
		return api.Container{}, fmt.Errorf("container %s: %w", rec.Name, err)
	}
	defer func() {
		if err != nil {
			m.netDown(rec)
		}
	}()
	cfg, mounts, err := m.vmFor(ctx, rec, runDir, nics, progress)
	if err != nil {
		return api.Container{}, fmt.Errorf("container %s: %w", rec.Name, err)
	}
	// A fresh console log per run: it is this run's post-mortem.
	_ = hypervisor.ClearConsole(rec.ConsoleLog)
	ports := rec.Ports
	// A start the client calls off leaves the container as it was.
	prevState, prevCode := rec.State, rec.ExitCode
	release, err := m.holdVolumes(rec)
	if err != nil {
		return api.Container{}, fmt.Errorf("container %s: %w", rec.Name, err)
	}
	// Starting claims the container's volumes: the check that no other
	// container runs with them and the new state are one transaction.
	rec, err = m.updateTx(rec.ID, func(tx *state.Tx, r *state.ContainerRecord) error {
		if err := CheckTransition(r.State, api.StateStarting); err != nil {
			return fmt.Errorf("container %s: %w", r.Name, err)
		}
		if err := volumesFree(tx, *r); err != nil {
			return fmt.Errorf("container %s: %w", r.Name, err)
		}
		r.State = api.StateStarting
		r.Started, r.Finished, r.ExitCode, r.Error, r.ConsoleTail = time.Now().UTC(), time.Time{}, 0, "", ""
		r.ProcessStarted = time.Time{}
		r.Ports, r.CPUs, r.MemoryMiB = ports, rec.CPUs, rec.MemoryMiB
		if kind != startByPolicy {
			r.RestartCount, r.RestartDelay, r.ManuallyStopped = 0, 0, false
		}
		return nil
	})
	release()
	if err != nil {
		return api.Container{}, err
	}
	progress.Report(api.Progress{ID: rec.Name, Action: "boot"})
	machine, err := m.cfg.Driver.Start(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			m.failStart(rec.ID, prevState, prevCode, errStartCanceled, "")
			return api.Container{}, fmt.Errorf("container %s: start canceled: %w", rec.Name, errors.Join(ctx.Err(), api.ErrCanceled))
		}
		m.failStart(rec.ID, api.StateDead, 255, fmt.Errorf("start VM: %w", err), "")
		return api.Container{}, fmt.Errorf("container %s: start VM: %w", rec.Name, err)
	}
	s := &supervisor{m: m, id: rec.ID, name: rec.Name, tty: rec.Spec.TTY, machine: machine, hub: m.hub(rec.ID),
		done: make(chan struct{}), mounts: mounts.Guest}
	if _, err := m.update(rec.ID, func(r *state.ContainerRecord) error {
		h, err := json.Marshal(machine.Handle())
		r.VM, r.PID = h, machine.Handle().PID
		return err
	}); err != nil {
		machine.Kill()
		m.failStart(rec.ID, api.StateDead, 255, err, "")
		return api.Container{}, err
	}
	if err := s.boot(ctx, rec, nics); err != nil {
		code, st := 255, api.StateDead
		switch {
		case errors.Is(err, api.ErrCommandNotFound):
			code, st = 127, api.StateExited
		case errors.Is(err, api.ErrCommandNotRunnable):
			code, st = 126, api.StateExited
		}
		tail := consoleTail(err)
		if s.client != nil {
			hypervisor.Shutdown(context.Background(), machine, s.client, m.cfg.ShutdownTimeout)
			s.client.Close()
		} else {
			machine.Kill()
			machine.Wait(context.Background())
		}
		if ctx.Err() != nil {
			// The client called the start off (Ctrl-C during the boot):
			// the VM is off, the container is as it was, not dead.
			m.failStart(rec.ID, prevState, prevCode, errStartCanceled, "")
			return api.Container{}, fmt.Errorf("container %s: start canceled: %w", rec.Name, errors.Join(ctx.Err(), api.ErrCanceled))
		}
		m.failStart(rec.ID, st, code, err, tail)
		return api.Container{}, fmt.Errorf("container %s: %w", rec.Name, err)
	}
	rec, err = m.transition(rec.ID, api.StateRunning, func(r *state.ContainerRecord) {
		r.IPAddress, r.ProcessStarted = s.ip, time.Now().UTC()
	})
	if err != nil {
		s.kill("state write failed")
		return api.Container{}, err
	}
	if m.cfg.Networks != nil {
		m.cfg.Networks.Announce(ctx, rec)
	}
	m.mu.Lock()
	m.sups[rec.ID] = s
	m.mu.Unlock()
	m.wg.Add(1)
	go s.run(rec)
	m.publish("start", rec, nil)
	progress.Report(api.Progress{ID: rec.Name, Action: "boot", Done: true})
	m.log.Info("container started", "id", api.ShortID(rec.ID), "name", rec.Name, "vm_pid", rec.PID)
	return rec.Container, nil
}

// vmFor builds and checks the VM of one boot of rec, with nics, and lays
// out its mounts: what a start and a maintenance boot (berth cp,
// copy.go) share.
func (m *Manager) vmFor(ctx context.Context, rec state.ContainerRecord, runDir string, nics []hypervisor.Network,
	progress api.ProgressFunc) (hypervisor.VMConfig, mountPlan, error) {
	if _, err := os.Stat(rec.BaseDisk); err != nil {
		return hypervisor.VMConfig{}, mountPlan{}, fmt.Errorf("the base disk of image %s is gone (%v); pull the image again: %w",
			rec.Image, err, api.ErrNotFound)
	}
	boot, err := m.cfg.Kernels.Boot(ctx, rec.Arch, rec.Spec.Kernel, progress)
	if err != nil {
		return hypervisor.VMConfig{}, mountPlan{}, err
	}
	mounts, err := m.planMounts(ctx, rec)
	if err != nil {
		return hypervisor.VMConfig{}, mountPlan{}, err
	}
	cfg := vmConfig(rec, boot, runDir, nics, mounts)
	if err := m.cfg.Driver.Validate(cfg); err != nil {
		return hypervisor.VMConfig{}, mountPlan{}, err
	}
	return cfg, mounts, nil
}

// netUp readies a container's networks before its VM boots and returns
// the VM's NICs: the networks' sockets bound and its ports published (a
// port in use fails the start before a VM boots), recorded in rec.Ports.
// Without Berth's networks, the VM gets its backend's NAT.
func (m *Manager) netUp(ctx context.Context, rec *state.ContainerRecord, runDir string) ([]hypervisor.Network, error) {
	if rec.Spec.NoNetwork() {
		return nil, nil
	}
	nets := m.cfg.Networks
	if nets == nil {
		if len(rec.Spec.Ports) > 0 || rec.Spec.PublishAll {
			return nil, fmt.Errorf("publishing ports needs Berth's networks, which this runtime was built without: %w", api.ErrUnsupported)
		}
		return []hypervisor.Network{{Mode: hypervisor.NetworkNAT, MAC: rec.MAC}}, nil
	}
	if len(rec.Networks) == 0 {
		// Made before Berth had networks: it joins the default one now.
		err := m.cfg.DB.Update(func(tx *state.Tx) error {
			r, err := tx.Container(rec.ID)
			if err != nil {
				return err
			}
			if err := nets.Assign(tx, &r); err != nil {
				return err
			}
			*rec = r
			return tx.UpdateContainer(r)
		})
		if err != nil {
			return nil, err
		}
	}
	bindings := rec.Spec.Ports
	if rec.Spec.PublishAll {
		exposed, err := network.ExposedPorts(rec.ImageConfig.ExposedPorts)
		if err != nil {
			return nil, err
		}
		bindings = append(append([]api.PortBinding(nil), bindings...), exposed...)
	}
	nics, err := nets.Up(ctx, *rec, vmID(rec.ID), runDir)
	if err != nil {
		return nil, err
	}
	ports, err := nets.Publish(ctx, *rec, bindings)
	if err != nil {
		nets.Down(context.Background(), *rec, vmID(rec.ID))
		return nil, err
	}
	rec.Ports = ports
	return nics, nil
}

// netDown lets go of what netUp readied: rec's ports, NICs and names.
func (m *Manager) netDown(rec state.ContainerRecord) {
	if m.cfg.Networks == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m.cfg.Networks.Down(ctx, rec, vmID(rec.ID))
}

// errStartCanceled is the recorded end of a start its client called off.
var errStartCanceled = errors.New("the start was canceled")

// failStart records a start that did not get to a running process.
func (m *Manager) failStart(id string, st api.ContainerState, code int, cause error, tail string) {
	h := m.hub(id)
	var rec state.ContainerRecord
	h.endRun(func() {
		rec, _ = m.update(id, func(r *state.ContainerRecord) error {
			r.State, r.ExitCode, r.Error, r.ConsoleTail = st, code, cause.Error(), tail
			r.Finished, r.VM, r.PID, r.Ports = time.Now().UTC(), nil, 0, nil
			return nil
		})
	})
	m.publish("die", rec, map[string]string{"exitCode": strconv.Itoa(code), "error": cause.Error()})
}

// consoleTail pulls the console tail out of a VM crash error.
func consoleTail(err error) string {
	var ee *hypervisor.ExitError
	if errors.As(err, &ee) {
		return ee.ConsoleTail
	}
	return ""
}

// boot waits for the agent (or the VM's death), configures the guest and
// starts the main process.
func (s *supervisor) boot(ctx context.Context, rec state.ContainerRecord, nics []hypervisor.Network) error {
	var told network.Guest
	if s.m.cfg.Networks != nil {
		var err error
		if told, err = s.m.cfg.Networks.Guest(rec); err != nil {
			return err
		}
	}
	if err := s.connect(ctx); err != nil {
		return err
	}
	c := s.client
	if err := c.SetTime(ctx, time.Now()); err != nil {
		return fmt.Errorf("set guest time: %w", err)
	}
	nc := guestNetwork(rec, nics, s.m.cfg.Driver.Info().Addressing)
	st, err := c.ApplyNetwork(ctx, nc)
	if err != nil {
		return fmt.Errorf("configure guest network: %w", err)
	}
	addrs, err := addrsFor(rec, nc, st, told)
	if err != nil {
		return fmt.Errorf("configure guest network: %w", err)
	}
	if nc.UsesDHCP() {
		s.m.log.Info("guest network by DHCP", "id", api.ShortID(rec.ID), "address", addrs.IP, "dns", addrs.DNS)
	}
	s.ip = addrs.IP
	if err := c.CreateContainer(ctx, guestContainer(rec, addrs, s.mounts)); err != nil {
		return fmt.Errorf("prepare root filesystem: %w", err)
	}
	spec, err := processSpec(rec)
	if err != nil {
		return err
	}
	if rec.Spec.TTY {
		spec.Size = s.hub.termSize()
	}
	logw, err := OpenLog(rec.LogPath, rec.Spec.Log)
	if err != nil {
		return err
	}
	stdio := agent.Stdio{Stdin: rec.Spec.OpenStdin, Stdout: true, Stderr: true}
	p, err := c.Start(ctx, rec.ID, mainProcess, spec, stdio)
	if err != nil {
		logw.Close()
		return err
	}
	s.proc, s.logw = p, logw
	return nil
}

// connect opens the agent session, giving up when the VM dies first or
// the boot timeout passes; both report the console's tail.
func (s *supervisor) connect(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.m.cfg.BootTimeout)
	defer cancel()
	c, err := connectAgent(ctx, s.machine)
	var died *vmDiedError
	switch {
	case errors.As(err, &died):
		return fmt.Errorf("VM died while booting: %w", died.err)
	case err != nil:
		return fmt.Errorf("the guest agent did not answer within %v: %w%s", s.m.cfg.BootTimeout, err, s.consoleHint())
	}
	s.client = c
	return nil
}

// vmDiedError is connectAgent's answer when the VM ended first.
type vmDiedError struct{ err error }

func (e *vmDiedError) Error() string { return "VM died: " + e.err.Error() }
func (e *vmDiedError) Unwrap() error { return e.err }

// connectAgent opens an agent session with machine, retrying until ctx
// ends, and gives up at once if the VM ends first (*vmDiedError).
func connectAgent(ctx context.Context, machine hypervisor.Machine) (*agent.Client, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	vmDied := make(chan error, 1)
	go func() { vmDied <- machine.Wait(ctx) }()
	type result struct {
		c   *agent.Client
		err error
	}
	got := make(chan result, 1)
	go func() {
		c, err := agent.Connect(ctx, func(ctx context.Context) (io.ReadWriteCloser, error) { return machine.DialAgent(ctx) })
		got <- result{c, err}
	}()
	select {
	case r := <-got:
		return r.c, r.err
	case err := <-vmDied:
		if ctx.Err() != nil {
			// Wait ended with the context, not with the VM.
			r := <-got
			return r.c, r.err
		}
		if err == nil {
			err = errors.New("the VM powered off")
		}
		cancel()
		if r := <-got; r.c != nil {
			r.c.Close()
		}
		return nil, &vmDiedError{err}
	}
}

func (s *supervisor) consoleHint() string {
	rec, err := s.m.get(s.id)
	if err != nil {
		return ""
	}
	return "; see the VM console log: " + rec.ConsoleLog
}

// feedStdin copies a client's input into the main process's stdin. The
// client's end of input (EOF) closes it, as docker run -i does. A client
// that leaves without one (detached, or gone) leaves a terminal's stdin
// open for the next attach, and closes a plain one, as docker does.
func (s *supervisor) feedStdin(r io.Reader) {
	s.stdinMu.Lock()
	defer s.stdinMu.Unlock()
	if s.stdinBusy || s.stdinClosed || s.proc == nil || s.proc.Stdin == nil {
		return
	}
	s.stdinBusy = true
	go func() {
		_, err := io.Copy(s.proc.Stdin, r)
		s.stdinMu.Lock()
		defer s.stdinMu.Unlock()
		s.stdinBusy = false
		if err == nil || !s.tty {
			s.stdinClosed = true
			s.proc.Stdin.Close()
		}
	}()
}

// run pumps output, waits for the process (or a crash), then powers the VM
// off and records the end.
func (s *supervisor) run(rec state.ContainerRecord) {
	defer s.m.wg.Done()
	var pumps sync.WaitGroup
	pump := func(stream string, r io.Reader) {
		if r == nil {
			return
		}
		pumps.Add(1)
		go func() {
			defer pumps.Done()
			io.Copy(io.MultiWriter(s.logw.Stream(stream), s.hub.writer(stream)), r)
		}()
	}
	pump("stdout", s.proc.Stdout)
	pump("stderr", s.proc.Stderr)
	if r, ok := s.machine.(hypervisor.DiskErrorReporter); ok {
		go s.watchDisks(r.DiskErrors())
	}
	if rec.Spec.OpenStdin {
		if r := s.hub.takeStdin(); r != nil {
			s.feedStdin(r)
		}
	}

	type exit struct {
		st  proto.ExitStatus
		err error
	}
	exited := make(chan exit, 1)
	go func() {
		st, err := s.proc.Wait(s.m.ctx)
		exited <- exit{st, err}
	}()
	vmDone := make(chan error, 1)
	go func() { vmDone <- s.machine.Wait(context.Background()) }()

	var (
		final   api.ContainerState = api.StateExited
		code    int
		cause   string
		tail    string
		vmEnded bool
	)
	vmEndedWith := func(err error) {
		vmEnded = true
		final, code = api.StateDead, 255
		cause = "the VM stopped before the process ended"
		if err != nil {
			cause, tail = err.Error(), consoleTail(err)
		}
		if reason := s.reason(); reason != "" {
			final, cause, tail = api.StateExited, reason, ""
			code = 137
		}
	}
	select {
	case e := <-exited:
		switch {
		case e.err == nil:
			code = exitCode(e.st.Code, e.st.Signal)
		case s.isDetached():
			s.finishDetached()
			return
		default:
			// The session broke: usually because the VM died, which
			// the machine reports (with the console) a moment later.
			select {
			case err := <-vmDone:
				vmEndedWith(err)
			case <-time.After(5 * time.Second):
				final, code, cause = api.StateDead, 255, "lost contact with the guest agent: "+e.err.Error()
				s.kill(cause)
			}
		}
	case err := <-vmDone:
		vmEndedWith(err)
	}
	// Let the output drain: the streams end when the process's pipes
	// close, or never if the VM went away.
	drained := make(chan struct{})
	go func() { pumps.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(5 * time.Second):
	}
	if err := s.logw.Close(); err != nil {
		s.m.log.Warn("close container log", "id", api.ShortID(s.id), "err", err)
	}
	if !vmEnded {
		ctx, cancel := context.WithTimeout(context.Background(), 2*s.m.cfg.ShutdownTimeout)
		if err := hypervisor.Shutdown(ctx, s.machine, s.client, s.m.cfg.ShutdownTimeout); err != nil {
			s.m.log.Warn("VM shutdown", "id", api.ShortID(s.id), "err", err)
		}
		cancel()
	}
	s.client.Close()
	if de := s.diskErr(); de != "" && (cause == "" || final == api.StateDead) {
		// What the guest saw as I/O errors (a process failing, or
		// ending well with its writes lost) was the host's disk.
		cause = de
	}
	s.finish(final, code, cause, tail)
}

// watchDisks records the host's failures on the VM's disks (a full host
// disk): the container's error says so from then on, and its end keeps
// it. The guest saw the same failures as I/O errors; the VM runs on.
func (s *supervisor) watchDisks(errs <-chan hypervisor.DiskError) {
	for {
		select {
		case e := <-errs:
			s.mu.Lock()
			first := s.diskError == ""
			if first {
				s.diskError = e.Message()
			}
			s.mu.Unlock()
			if !first {
				continue
			}
			s.m.log.Warn("container disk error", "id", api.ShortID(s.id), "name", s.name, "disk", e.Disk,
				"nospace", e.NoSpace, "reason", e.Reason)
			// On a full disk this write may fail too: the end records it.
			if _, err := s.m.update(s.id, func(r *state.ContainerRecord) error { r.Error = e.Message(); return nil }); err != nil {
				s.m.log.Warn("record container disk error", "id", api.ShortID(s.id), "err", err)
			}
		case <-s.done:
			return
		}
	}
}

func (s *supervisor) diskErr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.diskError
}

// finish records the end of the run and lets waiters go.
func (s *supervisor) finish(st api.ContainerState, code int, cause, tail string) {
	m := s.m
	var rec state.ContainerRecord
	var ports []api.PortMapping
	var restart RestartDecision
	var pending chan struct{}
	s.hub.endRun(func() {
		var err error
		rec, err = m.update(s.id, func(r *state.ContainerRecord) error {
			ports = r.Ports
			r.State, r.ExitCode, r.Error, r.ConsoleTail = st, code, cause, tail
			r.Finished, r.VM, r.PID, r.IPAddress, r.Ports = time.Now().UTC(), nil, 0, "", nil
			if m.shuttingDown.Load() {
				// The daemon's stop is no user's: the next daemon decides.
				restart = RestartDecision{Why: "the daemon is stopping"}
				return nil
			}
			restart = DecideRestart(restartFacts(*r, false), m.backoff())
			if restart.Restart {
				r.State = api.StateRestarting
				r.RestartCount++
				r.RestartDelay = restart.Delay
				if pending == nil {
					pending = m.pendRestart(s.id)
				}
			}
			return nil
		})
		if err != nil {
			m.log.Error("record container exit", "id", api.ShortID(s.id), "err", err)
		}
		if pending != nil && (err != nil || rec.State != api.StateRestarting) {
			m.cancelRestart(s.id)
			pending = nil
		}
	})
	if rec.ID != "" {
		// Its ports and names go once the record says it stopped.
		down := rec
		down.Ports = ports
		m.netDown(down)
	}
	m.mu.Lock()
	if m.sups[s.id] == s {
		delete(m.sups, s.id)
	}
	m.mu.Unlock()
	attrs := map[string]string{"exitCode": strconv.Itoa(code)}
	if cause != "" {
		attrs["error"] = cause
	}
	// die before done closes: whoever waits on done (stop, restart)
	// publishes after it, so the events read die, stop, as docker's.
	m.publish("die", rec, attrs)
	close(s.done)
	m.log.Info("container exited", "id", api.ShortID(s.id), "name", s.name, "state", st, "code", code)
	if pending != nil {
		m.log.Info("container will restart", "id", api.ShortID(s.id), "name", s.name, "in", restart.Delay,
			"restarts", rec.RestartCount, "why", restart.Why)
		m.waitRestart(s.id, pending, restart.Delay, startByPolicy)
	}
	if rec.Spec.AutoRemove {
		go func() {
			unlock := m.lock(s.id)
			defer unlock()
			if err := m.removeLocked(s.id, false); err != nil && !errors.Is(err, api.ErrNotFound) {
				m.log.Warn("auto-remove", "id", api.ShortID(s.id), "err", err)
			}
		}()
	}
}

// finishDetached ends a supervisor whose manager is closing: the VM keeps
// running, the record keeps its handle for the next manager.
func (s *supervisor) finishDetached() {
	s.logw.Close()
	s.m.mu.Lock()
	delete(s.m.sups, s.id)
	s.m.mu.Unlock()
	close(s.done)
}

// markDetached says the manager is closing: the VM must outlive it.
func (s *supervisor) markDetached() {
	s.mu.Lock()
	s.detached = true
	s.mu.Unlock()
}

// detach closes the agent session of a supervisor marked detached.
func (s *supervisor) detach() {
	s.markDetached()
	if s.client != nil {
		s.client.Close()
	}
}

func (s *supervisor) isDetached() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.detached
}

// kill ends the VM at once, recording why.
func (s *supervisor) kill(reason string) {
	s.mu.Lock()
	if s.killReason == "" {
		s.killReason = reason
	}
	s.mu.Unlock()
	s.machine.Kill()
}

func (s *supervisor) reason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.killReason
}

func (s *supervisor) signal(ctx context.Context, sig int) error {
	return s.m.agentCall(ctx, func(ctx context.Context) error { return s.proc.Signal(ctx, sig) })
}

func (s *supervisor) resize(ctx context.Context, rows, cols uint16) error {
	if !s.tty {
		return fmt.Errorf("container %s has no terminal (run it with -t): %w", s.name, api.ErrConflict)
	}
	return s.m.agentCall(ctx, func(ctx context.Context) error {
		return s.proc.Resize(ctx, proto.WinSize{Rows: rows, Cols: cols})
	})
}

// Stop asks the main process to end (signal, default the image's stop
// signal or TERM), then kills it after timeout, then the VM.
func (m *Manager) Stop(ctx context.Context, ref string, timeout time.Duration, signal string) (api.Container, error) {
	rec, err := m.get(ref)
	if err != nil {
		return api.Container{}, err
	}
	unlock := m.lock(rec.ID)
	defer unlock()
	s := m.supervisor(rec.ID)
	if s == nil {
		rec, err = m.get(rec.ID)
		if err == nil && rec.State == api.StateRestarting {
			// Waiting to restart: the stop cancels the restart.
			var was bool
			if rec, was, err = m.endRestarting(rec.ID, !m.shuttingDown.Load()); err == nil && was {
				m.publish("stop", rec, nil)
			}
		}
		return rec.Container, err // not running: nothing to do, as docker
	}
	if signal == "" {
		signal = rec.ImageConfig.StopSignal
	}
	sig, err := signalNumber(signal)
	if err != nil {
		return api.Container{}, err
	}
	if sig == 0 {
		sig = linuxSignals["TERM"]
	}
	if rec, err = m.get(rec.ID); err != nil {
		return api.Container{}, err
	}
	if rec, err = m.thawForStop(ctx, rec, s); err != nil {
		return api.Container{}, err
	}
	manual := !m.shuttingDown.Load()
	if rec, err = m.transition(rec.ID, api.StateStopping, func(r *state.ContainerRecord) {
		// A user's stop is never undone by its restart policy.
		r.ManuallyStopped = r.ManuallyStopped || manual
	}); err != nil {
		if cur, gerr := m.get(rec.ID); gerr == nil && cur.State == api.StateRestarting {
			// Its run ended just now and its policy took over: the
			// stop cancels that restart instead.
			if cur, _, err = m.endRestarting(rec.ID, manual); err == nil {
				m.publish("stop", cur, nil)
			}
			return cur.Container, err
		}
		return api.Container{}, err
	}
	m.publish("kill", rec, map[string]string{"signal": strconv.Itoa(sig)})
	serr := s.signal(ctx, sig)
	if serr != nil {
		m.log.Info("stop signal not delivered", "id", api.ShortID(rec.ID), "err", serr)
	}
	if !waitDone(ctx, s.done, timeout) {
		m.publish("kill", rec, map[string]string{"signal": "9"})
		// An agent that took no signal takes no KILL either: the VM goes.
		if serr != nil || s.signal(ctx, linuxSignals["KILL"]) != nil || !waitDone(ctx, s.done, 10*time.Second) {
			s.kill("killed after the stop timeout")
			waitDone(ctx, s.done, 30*time.Second)
		}
	}
	rec, err = m.get(rec.ID)
	if err == nil {
		m.publish("stop", rec, nil)
	} else if errors.Is(err, api.ErrNotFound) {
		return m.lastRun(rec.ID, rec.Container), nil
	}
	return rec.Container, err
}

func waitDone(ctx context.Context, done <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

// Kill sends a signal (default KILL) to the main process.
func (m *Manager) Kill(ctx context.Context, ref, signal string) error {
	rec, err := m.get(ref)
	if err != nil {
		return err
	}
	sig, err := signalNumber(signal)
	if err != nil {
		return err
	}
	if sig == 0 {
		sig = linuxSignals["KILL"]
	}
	if rec.State == api.StateRestarting {
		// Waiting to restart: the kill cancels the restart, as docker's
		// does, and there is no process to signal.
		unlock := m.lock(rec.ID)
		var was bool
		rec, was, err = m.endRestarting(rec.ID, true)
		unlock()
		if err != nil || was {
			return err
		}
	}
	s := m.supervisor(rec.ID)
	if s == nil {
		return fmt.Errorf("container %s is not running: %w", rec.Name, api.ErrConflict)
	}
	if rec.State == api.StatePaused && !signalAllowedPaused(sig) {
		return fmt.Errorf("cannot kill container %s: container is paused: unpause the container before stopping or killing, or send KILL: %w",
			rec.Name, api.ErrConflict)
	}
	// A user's kill is never undone by its restart policy.
	if _, err := m.update(rec.ID, func(r *state.ContainerRecord) error { r.ManuallyStopped = true; return nil }); err != nil {
		return err
	}
	if err := s.signal(ctx, sig); err != nil {
		if sig != linuxSignals["KILL"] || !errors.Is(err, api.ErrUnavailable) {
			return fmt.Errorf("signal container %s: %w", rec.Name, err)
		}
		// KILL must end the container even when its guest cannot take
		// a signal (a frozen VM, a broken session): end the VM.
		m.log.Warn("KILL not delivered, killing the VM", "id", api.ShortID(rec.ID), "err", err)
		s.kill("killed")
	}
	m.publish("kill", rec, map[string]string{"signal": strconv.Itoa(sig)})
	if sig == linuxSignals["KILL"] {
		// As docker's kill: KILL returns once the container has stopped
		// (here: its VM is off and its end recorded), so that a start
		// right after boots it again instead of finding it running.
		waitDone(ctx, s.done, 10*time.Second)
	}
	return nil
}

// Stats samples a running container: the guest's own view of CPU and
// memory, and the VM's memory on the host.
func (m *Manager) Stats(ctx context.Context, ref string) (api.ContainerStats, error) {
	rec, err := m.get(ref)
	if err != nil {
		return api.ContainerStats{}, err
	}
	s := m.supervisor(rec.ID)
	if s == nil {
		return api.ContainerStats{}, fmt.Errorf("container %s is not running: %w", rec.Name, api.ErrConflict)
	}
	var st proto.Stats
	err = m.agentCall(ctx, func(ctx context.Context) (err error) { st, err = s.client.Stats(ctx); return err })
	if err != nil {
		return api.ContainerStats{}, fmt.Errorf("stats of %s: %w", rec.Name, err)
	}
	return api.ContainerStats{
		ID: rec.ID, Name: rec.Name, Time: time.Now().UTC(), CPUs: rec.CPUs,
		CPUNanos: st.CPUUsageNanos, MemoryTotal: st.MemoryTotal, MemoryUsed: st.MemoryTotal - st.MemoryAvailable,
		Processes: st.Processes, HostRSS: processRSS(rec.PID),
	}, nil
}
