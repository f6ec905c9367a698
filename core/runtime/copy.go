package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/berthvm/berth/core/agent"
	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/state"
)

// berth cp: paths of a container read and written through its guest's
// agent. A running container's agent is used as it is; a created or
// stopped container gets a maintenance boot: its VM, with the disks and
// mounts of a start, but no process, no network, no restart policy, no
// start or die event and no change of state. The maintenance VM holds the
// container's lifecycle lock until it is shut down (the agent's clean
// shutdown, so the writable layer is synced): a start, stop or removal
// meanwhile waits for the copy to end. A daemon that dies meanwhile
// leaves a VM whose run directory no container claims, which the next
// daemon's reconcile stops and sweeps.

// maintenanceConsole is the console log of maintenance boots, in the
// container's directory: the last run's console.log stays its post-mortem.
const maintenanceConsole = "maintenance-console.log"

// guestSession is an agent session on a container's guest; release lets
// go of it (a maintenance VM is shut down then). release may be called
// more than once.
type guestSession struct {
	client  *agent.Client
	rec     state.ContainerRecord
	release func()
}

// reach returns a session on the guest of ref: its running VM's, or a
// maintenance VM's, booted for the caller.
func (m *Manager) reach(ctx context.Context, ref string) (_ guestSession, err error) {
	rec, err := m.get(ref)
	if err != nil {
		return guestSession{}, err
	}
	if s := m.supervisor(rec.ID); s != nil && (rec.State == api.StateRunning || rec.State == api.StatePaused) {
		return guestSession{client: s.client, rec: rec, release: func() {}}, nil
	}
	unlock := m.lock(rec.ID)
	defer func() {
		if err != nil {
			unlock()
		}
	}()
	// Under the lock no start or stop is half-way: the container runs,
	// or it does not and will not until the lock is let go.
	if rec, err = m.get(rec.ID); err != nil {
		return guestSession{}, err
	}
	if s := m.supervisor(rec.ID); s != nil && (rec.State == api.StateRunning || rec.State == api.StatePaused) {
		unlock()
		return guestSession{client: s.client, rec: rec, release: func() {}}, nil
	}
	if rec.State.Active() {
		return guestSession{}, fmt.Errorf("container %s is %s: try again once it has started or stopped: %w", rec.Name, rec.State, api.ErrConflict)
	}
	if err := m.awaitEnd(ctx, rec); err != nil {
		return guestSession{}, err
	}
	c, shutdown, err := m.maintenanceBoot(ctx, rec)
	if err != nil {
		return guestSession{}, fmt.Errorf("container %s: %w", rec.Name, err)
	}
	m.wg.Add(1)
	var once sync.Once
	released := make(chan struct{})
	release := func() {
		once.Do(func() {
			close(released)
			shutdown()
			unlock()
			m.wg.Done()
		})
	}
	// A manager that closes does not wait for the copy's client.
	go func() {
		select {
		case <-m.ctx.Done():
			release()
		case <-released:
		}
	}()
	return guestSession{client: c, rec: rec, release: release}, nil
}

// maintenanceBoot boots rec's VM without its network and process, and
// prepares its root (disks and mounts as a start does). shutdown powers
// it off the clean way and removes what it left; on error nothing is
// left.
func (m *Manager) maintenanceBoot(ctx context.Context, rec state.ContainerRecord) (_ *agent.Client, shutdown func(), err error) {
	runDir := filepath.Join(runRoot(m.cfg.Home), vmID(rec.ID))
	cfg, mounts, err := m.vmFor(ctx, rec, runDir, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	release, err := m.holdVolumes(rec)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			release()
		}
	}()
	cfg.ConsoleLog = filepath.Join(rec.Dir, maintenanceConsole)
	_ = hypervisor.ClearConsole(cfg.ConsoleLog)
	machine, err := m.cfg.Driver.Start(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("start VM: %w", err)
	}
	var c *agent.Client
	// Not the named result: a failing return sets that to nil before
	// the deferred clean-up below runs.
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*m.cfg.ShutdownTimeout)
		defer cancel()
		if c == nil {
			// No agent to shut it down cleanly: nothing was written.
			machine.Kill()
			machine.Wait(ctx)
		} else {
			if err := hypervisor.Shutdown(ctx, machine, c, m.cfg.ShutdownTimeout); err != nil {
				m.log.Warn("maintenance VM shutdown", "id", api.ShortID(rec.ID), "err", err)
			}
			c.Close()
		}
		// The backend removes the run directory when its VM ends; make
		// sure, once the VM is known to be gone.
		if machine.State() == hypervisor.Stopped {
			os.RemoveAll(runDir)
		}
		release() // the volumes, once the VM that mounted them is gone
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	bctx, cancel := context.WithTimeout(ctx, m.cfg.BootTimeout)
	defer cancel()
	c, err = connectAgent(bctx, machine)
	if err != nil {
		var died *vmDiedError
		if errors.As(err, &died) {
			return nil, nil, fmt.Errorf("VM died while booting: %w; see the VM console log: %s", died.err, cfg.ConsoleLog)
		}
		return nil, nil, fmt.Errorf("the guest agent did not answer within %v: %w; see the VM console log: %s", m.cfg.BootTimeout, err, cfg.ConsoleLog)
	}
	if err := c.SetTime(ctx, time.Now()); err != nil {
		return nil, nil, fmt.Errorf("set guest time: %w", err)
	}
	// The container's root and mounts, as a start makes them, but no
	// identity: hostname, hosts and resolver are a run's business.
	cc := guestContainer(rec, guestAddrs{}, mounts.Guest)
	cc.Hostname, cc.Hosts, cc.DNS = "", nil, nil
	if err := c.CreateContainer(ctx, cc); err != nil {
		return nil, nil, fmt.Errorf("prepare root filesystem: %w", err)
	}
	m.log.Info("maintenance boot", "id", api.ShortID(rec.ID), "name", rec.Name, "vm_pid", machine.Handle().PID)
	return c, stop, nil
}

// notFound gives a missing path docker's words.
func notFound(err error, rec state.ContainerRecord, path string) error {
	if errors.Is(err, api.ErrNotFound) {
		return api.Exactly(api.ErrNotFound, "Could not find the file %s in container %s", path, rec.Name)
	}
	return fmt.Errorf("container %s: %s: %w", rec.Name, path, err)
}

// StatPath describes a path in a container (docker's container path
// stat): links on the way are followed inside the container, a link at
// the end is described as a link unless path ends in "/" or "/.".
func (m *Manager) StatPath(ctx context.Context, ref, path string) (api.PathStat, error) {
	g, err := m.reach(ctx, ref)
	if err != nil {
		return api.PathStat{}, err
	}
	defer g.release()
	st, err := g.client.StatPath(ctx, g.rec.ID, path)
	if err != nil {
		return st, notFound(err, g.rec, path)
	}
	return st, nil
}

// CopyFrom returns the stat of a path in a container and its tar (top
// entry named after path's last element, "." for path ending in "/."),
// streamed from the guest. Closing the reader ends the transfer and, for
// a container that is not running, shuts its maintenance VM down.
func (m *Manager) CopyFrom(ctx context.Context, ref, path string) (api.PathStat, io.ReadCloser, error) {
	g, err := m.reach(ctx, ref)
	if err != nil {
		return api.PathStat{}, nil, err
	}
	st, err := g.client.StatPath(ctx, g.rec.ID, path)
	if err != nil {
		g.release()
		return st, nil, notFound(err, g.rec, path)
	}
	r, err := g.client.ArchiveOut(ctx, g.rec.ID, path)
	if err != nil {
		g.release()
		return st, nil, fmt.Errorf("container %s: %w", g.rec.Name, err)
	}
	m.publish("archive-path", g.rec, map[string]string{"path": path})
	return st, &releasingReader{ReadCloser: r, release: g.release}, nil
}

type releasingReader struct {
	io.ReadCloser
	release func()
}

func (r *releasingReader) Close() error {
	err := r.ReadCloser.Close()
	r.release()
	return err
}

// CopyTo extracts the tar stream r into dir, an existing directory of
// the container, keeping modes, numeric owners, mtimes and links.
func (m *Manager) CopyTo(ctx context.Context, ref, dir string, r io.Reader, opts api.CopyToOptions) error {
	g, err := m.reach(ctx, ref)
	if err != nil {
		return err
	}
	defer g.release()
	if err := g.client.ArchiveIn(ctx, g.rec.ID, dir, r, opts.NoOverwriteDirNonDir); err != nil {
		return notFound(err, g.rec, dir)
	}
	m.publish("extract-to-dir", g.rec, map[string]string{"path": dir})
	return nil
}
