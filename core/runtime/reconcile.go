package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/berthvm/berth/core/agent"
	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/hypervisor/hostproc"
	"github.com/berthvm/berth/core/state"
)

// reconcileAgentTimeout bounds reconnecting to an adopted VM's agent.
const reconcileAgentTimeout = 30 * time.Second

// reconcile makes stored state match what exists, after a restart or a
// crash of the core:
//   - a running container whose VM still runs is re-adopted: its agent
//     session is reopened, its main process re-attached (output the guest
//     kept meanwhile goes to the log), and a supervisor watches it again;
//   - a running container whose VM is gone is marked exited, with why;
//   - a container caught starting has its VM killed and is marked exited;
//   - directories of containers and VMs that no record claims (a crash
//     during create or rm) are removed;
//   - containers that are not running and whose restart policy says so
//     (DecideRestart, as the daemon starts) start again, in the background:
//     after a host's reboot, a daemon's crash or its stop.
func (m *Manager) reconcile(ctx context.Context) error {
	var recs []state.ContainerRecord
	if err := m.cfg.DB.View(func(tx *state.Tx) (err error) { recs, err = tx.Containers(); return err }); err != nil {
		return fmt.Errorf("read containers: %w", err)
	}
	keepDirs := map[string]bool{}
	for _, rec := range recs {
		keepDirs[rec.ID] = true
	}
	sweep(containersDir(m.cfg.Home), keepDirs, m)
	for _, rec := range recs {
		if err := m.reconcileOne(ctx, rec); err != nil {
			m.log.Warn("reconcile container", "id", api.ShortID(rec.ID), "name", rec.Name, "err", err)
		}
	}
	// Run dirs last: only the re-adopted VMs still own one.
	keepRun := map[string]bool{}
	vms := map[string][2]string{}
	m.mu.Lock()
	for id := range m.sups {
		keepRun[vmID(id)] = true
		vms[id] = [2]string{vmID(id), filepath.Join(runRoot(m.cfg.Home), vmID(id))}
	}
	m.mu.Unlock()
	if m.cfg.Networks != nil {
		// The networks' processes may have outlived the daemon or not:
		// either way they are told again what runs on them.
		m.cfg.Networks.Sync(ctx, vms)
	}
	sweep(runRoot(m.cfg.Home), keepRun, m)
	// Last: a restart makes a run dir and tells the networks.
	m.restartAtDaemonStart()
	return nil
}

// restartAtDaemonStart schedules, at once, the restart of every container
// its policy starts as the daemon starts, and of those a previous daemon
// left waiting to restart.
func (m *Manager) restartAtDaemonStart() {
	var recs []state.ContainerRecord
	if err := m.cfg.DB.View(func(tx *state.Tx) (err error) { recs, err = tx.Containers(); return err }); err != nil {
		m.log.Warn("read containers to restart", "err", err)
		return
	}
	for _, r := range recs {
		if r.State != api.StateExited && r.State != api.StateDead && r.State != api.StateRestarting {
			continue
		}
		pending := m.pendRestart(r.ID)
		if r.State != api.StateRestarting {
			d := DecideRestart(restartFacts(r, true), m.backoff())
			if !d.Restart {
				m.cancelRestart(r.ID)
				continue
			}
			if _, err := m.transition(r.ID, api.StateRestarting, nil); err != nil {
				m.cancelRestart(r.ID)
				m.log.Warn("restart container", "id", api.ShortID(r.ID), "err", err)
				continue
			}
			m.log.Info("container will restart", "id", api.ShortID(r.ID), "name", r.Name, "why", d.Why,
				"policy", r.Spec.RestartPolicy.String())
		}
		m.waitRestart(r.ID, pending, 0, startByDaemon)
	}
}

// sweep removes the entries of dir whose names keep lacks. An entry that
// is a VM run directory may still have a VM behind it (the core died
// after the VM's process started but before its handle was stored): that
// VM is found from the handle file the backend left and stopped first.
func sweep(dir string, keep map[string]bool, m *Manager) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if keep[e.Name()] {
			continue
		}
		path := filepath.Join(dir, e.Name())
		m.killOrphanVM(path)
		m.log.Info("removing leftover", "path", path)
		os.RemoveAll(path)
	}
}

// killOrphanVM stops a VM that no record knows, found by its run dir:
// from the handle the backend stored there, and then any process still
// working in the directory (where the core died between a VM process's
// spawn and its handle's write, no handle tells of it).
func (m *Manager) killOrphanVM(runDir string) {
	if h, err := hypervisor.LoadHandle(runDir); err == nil {
		if machine, err := m.cfg.Driver.Adopt(context.Background(), h); err == nil {
			m.log.Warn("stopping a VM no container record knows", "vm", h.ID, "pid", h.PID)
			machine.Kill()
			machine.Wait(context.Background())
		}
	}
	killed, err := hostproc.KillHolders(runDir)
	if err != nil && !errors.Is(err, api.ErrUnsupported) {
		m.log.Warn("find the processes of an interrupted VM", "dir", runDir, "err", err)
	}
	for _, p := range killed {
		m.log.Warn("stopped a process of a VM whose start was interrupted", "dir", runDir, "pid", p.Pid, "cmd", p.Cmdline)
	}
}

func (m *Manager) reconcileOne(ctx context.Context, rec state.ContainerRecord) error {
	var handle hypervisor.Handle
	hasVM := len(rec.VM) > 0 && json.Unmarshal(rec.VM, &handle) == nil
	var machine hypervisor.Machine
	if hasVM {
		var err error
		machine, err = m.cfg.Driver.Adopt(ctx, handle)
		if err != nil {
			if !errors.Is(err, api.ErrNotFound) {
				m.log.Warn("adopt VM", "id", api.ShortID(rec.ID), "err", err)
			}
			machine = nil
		}
	}
	switch {
	case rec.State == api.StateRunning || rec.State == api.StateStopping || rec.State == api.StatePaused:
		if machine == nil {
			return m.markEnded(rec, "the VM stopped while the berth daemon was not running")
		}
		return m.readopt(ctx, rec, machine)
	case rec.State == api.StateStarting:
		if machine != nil {
			machine.Kill()
			machine.Wait(ctx)
		} else {
			// The daemon may have died before it stored the handle.
			m.killOrphanVM(filepath.Join(runRoot(m.cfg.Home), vmID(rec.ID)))
		}
		return m.markEnded(rec, "interrupted while starting: the berth daemon stopped")
	case machine != nil:
		// A stopped container with a live VM: a crash between killing the
		// VM and recording it. Finish the job.
		machine.Kill()
		machine.Wait(ctx)
		_, err := m.update(rec.ID, func(r *state.ContainerRecord) error { r.VM, r.PID = nil, 0; return nil })
		return err
	}
	return nil
}

// markEnded records a container whose run ended unseen.
func (m *Manager) markEnded(rec state.ContainerRecord, why string) error {
	h := m.hub(rec.ID)
	var err error
	ports := rec.Ports
	h.endRun(func() {
		rec, err = m.update(rec.ID, func(r *state.ContainerRecord) error {
			r.State, r.ExitCode, r.Error = api.StateExited, 255, why
			r.Finished, r.VM, r.PID, r.IPAddress, r.Ports = time.Now().UTC(), nil, 0, "", nil
			return nil
		})
	})
	if err != nil {
		return err
	}
	down := rec
	down.Ports = ports
	m.netDown(down)
	m.publish("die", rec, map[string]string{"exitCode": "255", "error": why})
	if rec.Spec.AutoRemove {
		return m.removeLocked(rec.ID, false)
	}
	return nil
}

// readopt reconnects to a running container's agent and main process and
// supervises it again.
func (m *Manager) readopt(ctx context.Context, rec state.ContainerRecord, machine hypervisor.Machine) error {
	cctx, cancel := context.WithTimeout(ctx, reconcileAgentTimeout)
	defer cancel()
	client, err := connectAgent(cctx, machine)
	if err != nil {
		machine.Kill()
		machine.Wait(ctx)
		var died *vmDiedError
		if errors.As(err, &died) {
			return m.markEnded(rec, "the VM stopped as the berth daemon restarted: "+died.err.Error())
		}
		return m.markEnded(rec, "lost contact with the guest agent after the berth daemon restarted: "+err.Error())
	}
	p, err := client.Attach(cctx, rec.ID, mainProcess, agent.Stdio{Stdout: true, Stderr: true}, rec.Spec.TTY)
	if err != nil {
		client.Close()
		hypervisor.Shutdown(ctx, machine, nil, m.cfg.ShutdownTimeout)
		return m.markEnded(rec, "the container's process was gone after the berth daemon restarted: "+err.Error())
	}
	logw, err := OpenLog(rec.LogPath, rec.Spec.Log)
	if err != nil {
		client.Close()
		return err
	}
	s := &supervisor{m: m, id: rec.ID, name: rec.Name, tty: rec.Spec.TTY, machine: machine, client: client,
		proc: p, logw: logw, hub: m.hub(rec.ID), done: make(chan struct{}), stdinClosed: true}
	m.mu.Lock()
	m.sups[rec.ID] = s
	m.mu.Unlock()
	m.wg.Add(1)
	go s.run(rec)
	m.log.Info("re-adopted running container", "id", api.ShortID(rec.ID), "name", rec.Name, "vm_pid", machine.Handle().PID)
	if rec.State == api.StateStopping {
		// A stop was under way when the daemon died: finish it firmly.
		go func() {
			s.signal(m.ctx, linuxSignals["KILL"])
		}()
	}
	return nil
}
