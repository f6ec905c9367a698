package runtime

import (
	"errors"
	"fmt"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/state"
)

// Backoff is how long a restart policy waits before each restart: Min
// first, doubling up to Max, back to Min once a run lasted ResetAfter.
type Backoff struct {
	Min, Max, ResetAfter time.Duration
}

// DefaultBackoff is docker's: 100 ms doubling, capped at a minute, reset
// after a run of 10 s.
var DefaultBackoff = Backoff{Min: 100 * time.Millisecond, Max: time.Minute, ResetAfter: 10 * time.Second}

// RestartFacts are what a restart decision depends on.
type RestartFacts struct {
	Policy   api.RestartPolicy
	ExitCode int
	// Restarts is how many times the policy restarted it so far.
	Restarts int
	// ManuallyStopped: a user stopped or killed it.
	ManuallyStopped bool
	// Ran is how long its process ran in the run that ended.
	Ran time.Duration
	// LastDelay is the previous back-off, 0 before the first.
	LastDelay time.Duration
	// DaemonStart: decided as the daemon starts (for a container found
	// not running), not as a run ends.
	DaemonStart bool
	// EverStarted: it ran at least once; the daemon's start leaves alone
	// containers that were only created.
	EverStarted bool
}

// RestartDecision is whether to restart, after what delay, and why (for
// the daemon's log).
type RestartDecision struct {
	Restart bool
	Delay   time.Duration
	Why     string
}

// DecideRestart applies a restart policy as docker's restart manager
// does. As a run ends: "always" and "unless-stopped" restart unless a
// user stopped it, "on-failure" restarts a non-zero exit while restarts
// are left, each after the back-off. As the daemon starts: the same,
// except that "always" restarts even what a user stopped, at once.
// Unlike docker, "on-failure" never undoes a user's stop, even as the
// daemon starts.
func DecideRestart(f RestartFacts, b Backoff) RestartDecision {
	p := f.Policy
	switch {
	case p.IsNone():
		return RestartDecision{Why: "no restart policy"}
	case f.DaemonStart && !f.EverStarted:
		return RestartDecision{Why: "never started"}
	}
	switch p.Name {
	case api.RestartAlways:
		if f.ManuallyStopped && !f.DaemonStart {
			return RestartDecision{Why: "stopped by a user"}
		}
	case api.RestartUnlessStopped:
		if f.ManuallyStopped {
			return RestartDecision{Why: "stopped by a user"}
		}
	case api.RestartOnFailure:
		switch {
		case f.ManuallyStopped:
			return RestartDecision{Why: "stopped by a user"}
		case f.ExitCode == 0:
			return RestartDecision{Why: "exited with status 0"}
		case p.MaximumRetryCount > 0 && f.Restarts >= p.MaximumRetryCount:
			return RestartDecision{Why: fmt.Sprintf("restarted %d times, the policy's maximum", f.Restarts)}
		}
	default:
		return RestartDecision{Why: "unknown restart policy " + p.Name}
	}
	if f.DaemonStart {
		return RestartDecision{Restart: true, Why: "the daemon started"}
	}
	return RestartDecision{Restart: true, Delay: nextDelay(f.LastDelay, f.Ran, b), Why: "policy " + p.String()}
}

// nextDelay doubles the last back-off, starting over after a long run.
func nextDelay(last, ran time.Duration, b Backoff) time.Duration {
	if ran >= b.ResetAfter || last <= 0 {
		return b.Min
	}
	return min(2*last, b.Max)
}

// restartFacts reads the facts of a decision from a record.
func restartFacts(r state.ContainerRecord, daemonStart bool) RestartFacts {
	var ran time.Duration
	if !r.ProcessStarted.IsZero() && r.Finished.After(r.ProcessStarted) {
		ran = r.Finished.Sub(r.ProcessStarted)
	}
	return RestartFacts{Policy: r.Spec.RestartPolicy, ExitCode: r.ExitCode, Restarts: r.RestartCount,
		ManuallyStopped: r.ManuallyStopped, Ran: ran, LastDelay: r.RestartDelay, DaemonStart: daemonStart,
		EverStarted: !r.Started.IsZero()}
}

// startKind is who starts a container: a user, its restart policy after
// a run ended, or the daemon as it starts. A user's start and the
// daemon's reset the restart count and the "stopped by a user" mark, as
// docker's do.
type startKind int

const (
	startByUser startKind = iota
	startByPolicy
	startByDaemon
)

// errRestartCanceled is a pending restart that a stop, kill, rm or update
// cancelled before it began.
var errRestartCanceled = fmt.Errorf("restart canceled: %w", api.ErrCanceled)

// pendRestart registers a pending restart of id and returns what cancels
// it. It is registered before the record says "restarting" (inside the
// transaction that says so), so that whoever sees that state can cancel
// it; waitRestart then waits out its back-off.
func (m *Manager) pendRestart(id string) chan struct{} {
	cancel := make(chan struct{})
	m.mu.Lock()
	if old := m.restarts[id]; old != nil {
		close(old)
	}
	m.restarts[id] = cancel
	m.mu.Unlock()
	return cancel
}

// waitRestart starts a container in state restarting after delay, unless
// its pending restart (cancel) is cancelled first.
func (m *Manager) waitRestart(id string, cancel chan struct{}, delay time.Duration, kind startKind) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-cancel:
			return
		case <-m.ctx.Done():
			return
		}
		m.restartNow(id, cancel, kind)
	}()
}

// takeRestart claims the pending restart cancel stands for; false if it
// was cancelled or replaced meanwhile.
func (m *Manager) takeRestart(id string, cancel chan struct{}) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.restarts[id] != cancel {
		return false
	}
	delete(m.restarts, id)
	return true
}

// cancelRestart cancels a pending restart of id, if any. The caller
// moves the record out of state restarting.
func (m *Manager) cancelRestart(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.restarts[id]; c != nil {
		close(c)
		delete(m.restarts, id)
	}
}

// cancelAllRestarts drops every pending restart, as the daemon stops:
// their records stay "restarting", and the next daemon starts them.
func (m *Manager) cancelAllRestarts() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, c := range m.restarts {
		close(c)
		delete(m.restarts, id)
	}
}

// restartNow is the end of a back-off: the container starts through the
// same path as a user's start (networks, mounts, volumes).
func (m *Manager) restartNow(id string, cancel chan struct{}, kind startKind) {
	_, err := m.start(m.ctx, id, nil, kind, cancel)
	switch {
	case err == nil, errors.Is(err, errRestartCanceled), errors.Is(err, api.ErrNotFound):
		return
	}
	m.log.Warn("restart container", "id", api.ShortID(id), "err", err)
	// A start that failed before its VM booted leaves the record
	// restarting; as docker does, the policy gives up on it.
	if _, uerr := m.update(id, func(r *state.ContainerRecord) error {
		if r.State == api.StateRestarting {
			r.State, r.Error = api.StateExited, "restart failed: "+err.Error()
		}
		return nil
	}); uerr != nil && !errors.Is(uerr, api.ErrNotFound) {
		m.log.Warn("record a failed restart", "id", api.ShortID(id), "err", uerr)
	}
}

// endRestarting moves a restarting container to exited, a user's wish
// (stop, kill, rm -f) or a policy that no longer restarts; manual marks
// it stopped by a user. It reports whether it was restarting.
func (m *Manager) endRestarting(id string, manual bool) (state.ContainerRecord, bool, error) {
	m.cancelRestart(id)
	was := false
	rec, err := m.update(id, func(r *state.ContainerRecord) error {
		if r.State != api.StateRestarting {
			return nil
		}
		was = true
		r.State = api.StateExited
		if manual {
			r.ManuallyStopped = true
		}
		return nil
	})
	if was {
		h := m.hub(id)
		h.endRun(func() {})
	}
	return rec, was, err
}

// Update changes a container's restart policy (at once: a pending restart
// is cancelled by "no") and its CPUs and memory (at its next start: a
// running VM keeps its size).
func (m *Manager) Update(ref string, u api.ContainerUpdate) (api.Container, error) {
	rec, err := m.get(ref)
	if err != nil {
		return api.Container{}, err
	}
	if u.RestartPolicy == nil && u.CPUs == nil && u.MemoryMiB == nil {
		return api.Container{}, fmt.Errorf("you must provide one or more flags when using this command: %w", api.ErrInvalidArgument)
	}
	rec, err = m.update(rec.ID, func(r *state.ContainerRecord) error {
		spec := r.Spec
		if u.RestartPolicy != nil {
			if err := u.RestartPolicy.Validate(); err != nil {
				return err
			}
			if spec.AutoRemove && !u.RestartPolicy.IsNone() {
				return fmt.Errorf("restart policy cannot be updated because AutoRemove is enabled for container %s: %w", r.Name, api.ErrConflict)
			}
			spec.RestartPolicy = *u.RestartPolicy
		}
		if u.CPUs != nil {
			spec.CPUs = *u.CPUs
		}
		if u.MemoryMiB != nil {
			spec.MemoryMiB = *u.MemoryMiB
		}
		cpus, mem, err := Resources(spec, m.cfg.Host)
		if err != nil {
			return fmt.Errorf("container %s: %w", r.Name, err)
		}
		r.Spec = spec
		if !r.State.Active() {
			// What it will run with; a running one shows what it has.
			r.CPUs, r.MemoryMiB = cpus, mem
		}
		return nil
	})
	if err != nil {
		return api.Container{}, err
	}
	if rec.State == api.StateRestarting && rec.Spec.RestartPolicy.IsNone() {
		if rec, _, err = m.endRestarting(rec.ID, false); err != nil {
			return api.Container{}, err
		}
	}
	m.publish("update", rec, nil)
	return rec.Container, nil
}

// backoff is the configured back-off, defaults filled in.
func (m *Manager) backoff() Backoff {
	b := m.cfg.RestartBackoff
	if b.Min <= 0 {
		b.Min = DefaultBackoff.Min
	}
	if b.Max <= 0 {
		b.Max = DefaultBackoff.Max
	}
	if b.ResetAfter <= 0 {
		b.ResetAfter = DefaultBackoff.ResetAfter
	}
	return b
}
