package runtime

import (
	"context"
	"fmt"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/state"
)

// Pause freezes every process of a running container in its guest (docker
// pause): its VM keeps running, its processes get no CPU.
func (m *Manager) Pause(ctx context.Context, ref string) (api.Container, error) {
	return m.setPaused(ctx, ref, true)
}

// Unpause thaws the processes of a paused container.
func (m *Manager) Unpause(ctx context.Context, ref string) (api.Container, error) {
	return m.setPaused(ctx, ref, false)
}

func (m *Manager) setPaused(ctx context.Context, ref string, paused bool) (api.Container, error) {
	rec, unlock, err := m.lockRef(ref)
	if err != nil {
		return api.Container{}, err
	}
	defer unlock()
	if err := pauseAllowed(rec.Name, rec.State, paused); err != nil {
		return api.Container{}, err
	}
	s := m.supervisor(rec.ID)
	if s == nil {
		return api.Container{}, fmt.Errorf("container %s is not running: %w", rec.Name, api.ErrConflict)
	}
	var method string
	err = m.agentCall(ctx, func(ctx context.Context) (err error) { method, err = s.client.Freeze(ctx, rec.ID, paused); return err })
	if err != nil {
		return api.Container{}, fmt.Errorf("pause %s: %w", rec.Name, err)
	}
	to, action := api.StateRunning, "unpause"
	if paused {
		to, action = api.StatePaused, "pause"
	}
	rec, err = m.transition(rec.ID, to, nil)
	if err != nil {
		// The record could not follow: undo the guest's side.
		uerr := m.agentCall(context.WithoutCancel(ctx), func(ctx context.Context) error {
			_, err := s.client.Freeze(ctx, rec.ID, !paused)
			return err
		})
		if uerr != nil {
			m.log.Warn("undo freeze", "id", api.ShortID(rec.ID), "err", uerr)
		}
		return api.Container{}, err
	}
	m.publish(action, rec, nil)
	m.log.Info("container "+action+"d", "id", api.ShortID(rec.ID), "name", rec.Name, "method", method)
	return rec.Container, nil
}

// pauseAllowed refuses pause and unpause as docker does.
func pauseAllowed(name string, st api.ContainerState, pause bool) error {
	switch {
	case pause && st == api.StatePaused:
		return fmt.Errorf("container %s is already paused: %w", name, api.ErrConflict)
	case !pause && st != api.StatePaused:
		return fmt.Errorf("container %s is not paused: %w", name, api.ErrConflict)
	case pause && st != api.StateRunning:
		return fmt.Errorf("container %s is not running: %w", name, api.ErrConflict)
	}
	return nil
}

// pausedError is docker's refusal of what a paused container cannot do.
func pausedError(name, what string) error {
	return fmt.Errorf("container %s is paused, unpause the container before %s: %w", name, what, api.ErrConflict)
}

// thawForStop thaws a paused container that is about to stop, so that its
// process can receive the stop signal; the caller holds its lock.
func (m *Manager) thawForStop(ctx context.Context, rec state.ContainerRecord, s *supervisor) (state.ContainerRecord, error) {
	if rec.State != api.StatePaused {
		return rec, nil
	}
	err := m.agentCall(ctx, func(ctx context.Context) error { _, err := s.client.Freeze(ctx, rec.ID, false); return err })
	if err != nil {
		return rec, fmt.Errorf("unpause %s to stop it: %w", rec.Name, err)
	}
	rec, err = m.transition(rec.ID, api.StateRunning, nil)
	if err == nil {
		m.publish("unpause", rec, nil)
	}
	return rec, err
}

// Top lists the processes of a running container, as its guest sees them.
func (m *Manager) Top(ctx context.Context, ref string) (api.ContainerTop, error) {
	rec, err := m.get(ref)
	if err != nil {
		return api.ContainerTop{}, err
	}
	s := m.supervisor(rec.ID)
	if s == nil || (rec.State != api.StateRunning && rec.State != api.StatePaused) {
		return api.ContainerTop{}, fmt.Errorf("container %s is not running: %w", rec.Name, api.ErrConflict)
	}
	var top api.ContainerTop
	err = m.agentCall(ctx, func(ctx context.Context) (err error) { top, err = s.client.Top(ctx, rec.ID); return err })
	if err != nil {
		return api.ContainerTop{}, fmt.Errorf("top of %s: %w", rec.Name, err)
	}
	return top, nil
}

// Restart stops a container (as Stop, with timeout) and starts it again,
// and says so with docker's restart event.
func (m *Manager) Restart(ctx context.Context, ref string, timeout time.Duration, progress api.ProgressFunc) (api.Container, error) {
	rec, err := m.get(ref)
	if err != nil {
		return api.Container{}, err
	}
	if _, err := m.Stop(ctx, rec.ID, timeout, ""); err != nil {
		return api.Container{}, err
	}
	// A run's end (its networks let go) finishes just after its record
	// says so; Start waits for it.
	c, err := m.Start(ctx, rec.ID, progress)
	if err != nil {
		return api.Container{}, err
	}
	cur, err := m.get(rec.ID)
	if err == nil {
		m.publish("restart", cur, nil)
	}
	return c, nil
}

// Rename gives a container a new name, running or not. Names stay unique;
// on its networks the new name answers at once and the old one no more.
func (m *Manager) Rename(ctx context.Context, ref, name string) (api.Container, error) {
	if err := CheckName(name); err != nil {
		return api.Container{}, err
	}
	rec, err := m.get(ref)
	if err != nil {
		return api.Container{}, err
	}
	unlock := m.lock(rec.ID)
	defer unlock()
	old := rec.Name
	if old == name {
		return api.Container{}, fmt.Errorf("renaming a container with the same name as its current name: %w", api.ErrInvalidArgument)
	}
	err = m.cfg.DB.Update(func(tx *state.Tx) error { return tx.RenameContainer(rec.ID, name) })
	if err != nil {
		return api.Container{}, err
	}
	if rec, err = m.get(rec.ID); err != nil {
		return api.Container{}, err
	}
	if m.cfg.Networks != nil && rec.State.Active() {
		m.cfg.Networks.Announce(ctx, rec)
	}
	m.publish("rename", rec, map[string]string{"oldName": old})
	m.log.Info("container renamed", "id", api.ShortID(rec.ID), "from", old, "to", name)
	return rec.Container, nil
}

// signalAllowedPaused reports whether sig may go to a paused container:
// only KILL, which ends frozen processes too.
func signalAllowedPaused(sig int) bool { return sig == linuxSignals["KILL"] }
