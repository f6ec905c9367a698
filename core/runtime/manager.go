package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/capabilities"
	"github.com/berthvm/berth/core/events"
	"github.com/berthvm/berth/core/hypervisor"
	"github.com/berthvm/berth/core/state"
)

// Config is what a Manager is built from. Everything it touches on the
// host comes through these fields, so tests can substitute any of them.
type Config struct {
	Home    string // data dir: containers/<id>/ and run/<short id>/ live here
	DB      *state.DB
	Bus     *events.Bus
	Driver  hypervisor.Driver
	Images  Images
	Kernels Kernels
	Disks   WritableDisks
	// Networks, if set, gives containers Berth's networks; nil leaves
	// each VM its backend's NAT.
	Networks Networks
	// Volumes, if set, gives containers named volumes; nil refuses them.
	Volumes Volumes
	Host    api.Capabilities
	Logger  *slog.Logger

	// RestartBackoff paces restart policies; zero fields take
	// DefaultBackoff's.
	RestartBackoff Backoff

	// BootTimeout bounds a VM's boot up to its agent answering. Default
	// 3 minutes: TCG emulation on a loaded machine is slow.
	BootTimeout time.Duration
	// ShutdownTimeout bounds a clean guest shutdown before the VM is
	// powered off by force. Default 10 s.
	ShutdownTimeout time.Duration
	// AgentTimeout bounds a guest agent call that answers at once
	// (signal, stats, top, pause, starting an exec): a VM that stopped
	// running its guest, or a wedged guest, must not hang the caller.
	// Default 10 s.
	AgentTimeout time.Duration
}

// Manager owns every container of a data dir: their records, their VMs
// (through one supervisor per running container) and their files.
type Manager struct {
	cfg Config
	log *slog.Logger

	mu    sync.Mutex
	locks map[string]*sync.Mutex // serialises lifecycle operations per container
	hubs  map[string]*hub        // attach points, per container
	sups  map[string]*supervisor // running containers
	wg    sync.WaitGroup         // supervisors' goroutines
	ctx   context.Context        // ends when the manager closes
	stop  context.CancelFunc

	lastRuns sync.Map // id -> api.Container of recently auto-removed containers

	// holds are volumes a boot is about to mount (volume -> container
	// name): a start until its state says starting, a maintenance boot
	// (berth cp) for as long as it runs, which no state shows.
	holds map[string]string

	// restarts are the pending restarts of restart policies: container
	// id -> closed to cancel it.
	restarts map[string]chan struct{}
	// shuttingDown is set as the daemon stops its containers: those
	// stops are not a user's, and no restart policy fires meanwhile.
	shuttingDown atomic.Bool
}

// New opens the runtime over cfg.DB and reconciles stored state with the
// VMs that really exist (see reconcile.go).
func New(ctx context.Context, cfg Config) (*Manager, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BootTimeout <= 0 {
		cfg.BootTimeout = 3 * time.Minute
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	if cfg.AgentTimeout <= 0 {
		cfg.AgentTimeout = 10 * time.Second
	}
	for _, d := range []string{containersDir(cfg.Home), runRoot(cfg.Home)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	mctx, stop := context.WithCancel(context.Background())
	m := &Manager{cfg: cfg, log: cfg.Logger, locks: map[string]*sync.Mutex{}, hubs: map[string]*hub{},
		sups: map[string]*supervisor{}, holds: map[string]string{}, restarts: map[string]chan struct{}{},
		ctx: mctx, stop: stop}
	if err := m.reconcile(ctx); err != nil {
		stop()
		return nil, err
	}
	return m, nil
}

// Close detaches from running VMs without stopping them: they keep
// running, and the next Manager on this data dir re-adopts them.
func (m *Manager) Close() {
	m.mu.Lock()
	sups := make([]*supervisor, 0, len(m.sups))
	for _, s := range m.sups {
		sups = append(sups, s)
	}
	m.mu.Unlock()
	// Every supervisor learns it is detached before the context ends:
	// one that saw its process wait fail first would take the VM for
	// dead and kill it.
	for _, s := range sups {
		s.markDetached()
	}
	m.stop()
	for _, s := range sups {
		s.detach()
	}
	m.wg.Wait()
}

func containersDir(home string) string { return filepath.Join(home, "containers") }
func runRoot(home string) string       { return filepath.Join(home, "run") }

// lock serialises lifecycle operations on one container.
func (m *Manager) lock(id string) func() {
	m.mu.Lock()
	l := m.locks[id]
	if l == nil {
		l = &sync.Mutex{}
		m.locks[id] = l
	}
	m.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// lockRef finds the container ref names and takes its lifecycle lock;
// the record is read again under the lock, so it is current.
func (m *Manager) lockRef(ref string) (state.ContainerRecord, func(), error) {
	rec, err := m.get(ref)
	if err != nil {
		return rec, nil, err
	}
	unlock := m.lock(rec.ID)
	if rec, err = m.get(rec.ID); err != nil {
		unlock()
		return rec, nil, err
	}
	return rec, unlock, nil
}

func (m *Manager) hub(id string) *hub {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.hubs[id]
	if h == nil {
		h = newHub()
		m.hubs[id] = h
	}
	return h
}

func (m *Manager) supervisor(id string) *supervisor {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sups[id]
}

// awaitEnd waits for the supervisor of a run that has ended, as its
// record says, to let go of the run: its networks (ports, NICs, names)
// outlive the record's change by a moment, and the next start or the
// removal must not overlap them.
func (m *Manager) awaitEnd(ctx context.Context, rec state.ContainerRecord) error {
	s := m.supervisor(rec.ID)
	if s == nil || rec.State.Active() {
		return nil
	}
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("container %s: waiting for its last run to end: %w: %w", rec.Name, ctx.Err(), api.ErrCanceled)
	}
}

func (m *Manager) publish(action string, rec state.ContainerRecord, attrs map[string]string) {
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs["image"] = rec.Image
	m.cfg.Bus.Publish(api.Event{Type: api.EventContainer, Action: action, ID: rec.ID, Name: rec.Name, Attributes: attrs})
}

// get resolves a reference (id, name, id prefix) to a record.
func (m *Manager) get(ref string) (state.ContainerRecord, error) {
	var rec state.ContainerRecord
	err := m.cfg.DB.View(func(tx *state.Tx) (err error) {
		rec, err = tx.ResolveContainer(ref)
		return err
	})
	return rec, err
}

// update changes a record in one transaction; change may refuse with an
// error, which aborts the transaction.
func (m *Manager) update(id string, change func(*state.ContainerRecord) error) (state.ContainerRecord, error) {
	return m.updateTx(id, func(_ *state.Tx, r *state.ContainerRecord) error { return change(r) })
}

// updateTx is update whose change also reads other records in the
// transaction.
func (m *Manager) updateTx(id string, change func(*state.Tx, *state.ContainerRecord) error) (state.ContainerRecord, error) {
	var rec state.ContainerRecord
	err := m.cfg.DB.Update(func(tx *state.Tx) error {
		var err error
		if rec, err = tx.Container(id); err != nil {
			return err
		}
		if err := change(tx, &rec); err != nil {
			return err
		}
		return tx.UpdateContainer(rec)
	})
	return rec, err
}

// transition moves a container to a new state, checking the state machine,
// and applies more changes in the same transaction.
func (m *Manager) transition(id string, to api.ContainerState, more func(*state.ContainerRecord)) (state.ContainerRecord, error) {
	return m.update(id, func(r *state.ContainerRecord) error {
		if err := CheckTransition(r.State, to); err != nil {
			return fmt.Errorf("container %s: %w", r.Name, err)
		}
		r.State = to
		if more != nil {
			more(r)
		}
		return nil
	})
}

// Create makes a container from spec: validated, its writable disk made,
// stored in state "created". Nothing is left behind on failure.
func (m *Manager) Create(ctx context.Context, spec api.ContainerSpec) (api.Container, error) {
	if err := CheckSpec(spec, m.cfg.Host); err != nil {
		return api.Container{}, err
	}
	img, err := m.cfg.Images.Resolve(ctx, spec.Image)
	if err != nil {
		if errors.Is(err, api.ErrNotFound) {
			return api.Container{}, fmt.Errorf("image %q not found locally; pull it with berth image pull %s: %w",
				spec.Image, spec.Image, api.ErrNotFound)
		}
		return api.Container{}, fmt.Errorf("image %q: %w", spec.Image, err)
	}
	arch, err := capabilities.GuestArch(img.Arch, m.cfg.Host, m.cfg.Driver.Info().ForeignArch, spec.Rosetta)
	if err != nil {
		return api.Container{}, err
	}
	cpus, mem, err := Resources(spec, m.cfg.Host)
	if err != nil {
		return api.Container{}, err
	}
	id := NewID()
	name := spec.Name
	if name == "" {
		name = NewName(func(n string) bool { _, err := m.get(n); return err == nil })
	}
	dir := filepath.Join(containersDir(m.cfg.Home), id)
	rec := state.ContainerRecord{
		Container: api.Container{
			ID: id, Name: name, Spec: spec, Image: spec.Image, ImageID: img.Digest, State: api.StateCreated,
			Created: time.Now().UTC(), CPUs: cpus, MemoryMiB: mem, Dir: dir,
			LogPath: filepath.Join(dir, "container.log"), ConsoleLog: filepath.Join(dir, "console.log"),
		},
		ImageConfig: img.Config, Arch: arch, BaseDisk: img.BaseDisk,
		WritableDisk: filepath.Join(dir, "rw.ext4"), MAC: MACFor(id),
	}
	rec.Spec.Name = name
	// What it would run must be startable: a command or environment past
	// Linux's exec limits is refused now, not at every start.
	var tooLarge *execSizeError
	if _, err := processSpec(rec); errors.As(err, &tooLarge) {
		return api.Container{}, err
	}
	if rec.Spec.Mounts, rec.AnonymousVolumes, err = resolveMounts(spec, img.Config.Volumes, os.Stat, anonymousName); err != nil {
		return api.Container{}, err
	}
	if hasBinds(rec.Spec.Mounts) && !hasShares(m.cfg.Driver.Info()) {
		return api.Container{}, fmt.Errorf("bind mounts: %s: %w", noSharesHint(m.cfg.Driver.Info()), api.ErrUnsupported)
	}
	undoVolumes, err := m.ensureVolumes(ctx, rec)
	if err != nil {
		return api.Container{}, fmt.Errorf("container %s: %w", name, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		undoVolumes()
		return api.Container{}, fmt.Errorf("create container directory: %w", err)
	}
	if err := m.cfg.Disks.Create(ctx, rec.WritableDisk); err != nil {
		os.RemoveAll(dir)
		undoVolumes()
		return api.Container{}, fmt.Errorf("container %s: writable disk: %w", name, err)
	}
	err = m.cfg.DB.Update(func(tx *state.Tx) error {
		if m.cfg.Networks != nil {
			if err := m.cfg.Networks.Assign(tx, &rec); err != nil {
				return fmt.Errorf("container %s: %w", name, err)
			}
		}
		if m.cfg.Volumes != nil {
			if err := m.cfg.Volumes.Claim(tx, rec.Spec.Mounts); err != nil {
				return fmt.Errorf("container %s: %w", name, err)
			}
		}
		return tx.CreateContainer(rec)
	})
	if err != nil {
		os.RemoveAll(dir)
		undoVolumes()
		return api.Container{}, err
	}
	m.publish("create", rec, nil)
	m.log.Info("container created", "id", api.ShortID(id), "name", name, "image", spec.Image)
	return rec.Container, nil
}

// Inspect returns one container.
func (m *Manager) Inspect(ref string) (api.Container, error) {
	rec, err := m.get(ref)
	return rec.Container, err
}

// List returns the containers, newest first; all includes stopped ones.
func (m *Manager) List(all bool) ([]api.Container, error) {
	var out []api.Container
	err := m.cfg.DB.View(func(tx *state.Tx) error {
		recs, err := tx.Containers()
		for _, r := range recs {
			// docker ps shows a container waiting to restart.
			if all || r.State.Active() || r.State == api.StateRestarting {
				out = append(out, r.Container)
			}
		}
		return err
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, err
}

// Backend declares the VM backend the containers run on.
func (m *Manager) Backend() hypervisor.Info { return m.cfg.Driver.Info() }

// Counts reports how many containers exist and how many run.
func (m *Manager) Counts() (total, running int) {
	list, _ := m.List(true)
	for _, c := range list {
		if c.State.Active() {
			running++
		}
	}
	return len(list), running
}

// Wait blocks until the container is not running and returns it. A
// container that is not running returns at once.
func (m *Manager) Wait(ctx context.Context, ref string) (api.Container, error) {
	rec, err := m.get(ref)
	if err != nil {
		return api.Container{}, err
	}
	h := m.hub(rec.ID)
	for {
		var cur state.ContainerRecord
		var rerr error
		ended := h.watch(func() { cur, rerr = m.get(rec.ID) })
		if rerr != nil {
			if errors.Is(rerr, api.ErrNotFound) {
				return rec.Container, nil // removed (--rm) after it ended
			}
			return api.Container{}, rerr
		}
		rec = cur
		if !cur.State.Active() {
			return cur.Container, nil
		}
		select {
		case <-ended:
		case <-ctx.Done():
			return api.Container{}, fmt.Errorf("wait for %s: %w", rec.Name, errors.Join(ctx.Err(), api.ErrCanceled))
		}
	}
}

// AttachOptions are a client's streams for a container's main process.
type AttachOptions struct {
	Stdin          io.Reader // nil: do not feed stdin
	Stdout, Stderr io.Writer // with a TTY everything arrives on Stdout
}

// Attach connects streams to the container's main process: the current
// run if one is going, else the next one. It returns a wait function that
// blocks until that run ends and reports the container then, and detach.
func (m *Manager) Attach(ref string, opts AttachOptions) (wait func(context.Context) (api.Container, error), detach func(), err error) {
	rec, err := m.get(ref)
	if err != nil {
		return nil, nil, err
	}
	h := m.hub(rec.ID)
	var cur state.ContainerRecord
	var rerr error
	var ended <-chan struct{}
	detach = func() {}
	ended = h.watch(func() {
		cur, rerr = m.get(rec.ID)
		if rerr == nil {
			detach = h.attachLocked(nil, opts.Stdout, opts.Stderr)
		}
	})
	if rerr != nil {
		return nil, nil, rerr
	}
	if opts.Stdin != nil {
		if s := m.supervisor(rec.ID); s != nil && cur.State.Active() {
			s.feedStdin(opts.Stdin)
		} else {
			h.setStdin(opts.Stdin)
		}
	}
	wait = func(ctx context.Context) (api.Container, error) {
		select {
		case <-ended:
		case <-ctx.Done():
			return api.Container{}, errors.Join(ctx.Err(), api.ErrCanceled)
		}
		c, err := m.get(rec.ID)
		if errors.Is(err, api.ErrNotFound) {
			return m.lastRun(rec.ID, cur.Container), nil
		}
		return c.Container, err
	}
	return wait, detach, nil
}

// Resize changes the terminal size of the main process.
func (m *Manager) Resize(ctx context.Context, ref string, rows, cols uint16) error {
	rec, err := m.get(ref)
	if err != nil {
		return err
	}
	if !rec.Spec.TTY {
		return fmt.Errorf("container %s has no terminal (run it with -t): %w", rec.Name, api.ErrConflict)
	}
	// Kept for the next process too: a client attached before start
	// sizes the terminal the process starts with.
	m.hub(rec.ID).setSize(proto.WinSize{Rows: rows, Cols: cols})
	s := m.supervisor(rec.ID)
	if s == nil {
		return nil
	}
	return s.resize(ctx, rows, cols)
}

// Logs calls fn with the container's stored output (see LogOptions).
func (m *Manager) Logs(ctx context.Context, ref string, opts LogOptions, fn func(LogEntry) error) error {
	rec, err := m.get(ref)
	if err != nil {
		return err
	}
	active := func() bool {
		cur, err := m.get(rec.ID)
		return err == nil && cur.State.Active()
	}
	return ReadLogs(ctx, rec.LogPath, opts, active, fn)
}

// Remove deletes a container and its files, and its anonymous volumes
// if opts.Volumes. A running one is refused unless opts.Force, which
// kills its VM first.
func (m *Manager) Remove(ctx context.Context, ref string, opts api.RemoveOptions) error {
	force := opts.Force
	rec, unlock, err := m.lockRef(ref)
	if err != nil {
		return err
	}
	defer unlock()
	if err := m.awaitEnd(ctx, rec); err != nil {
		return err
	}
	if rec.State == api.StateRestarting && !force {
		return fmt.Errorf("you cannot remove a restarting container %s: stop it first (berth stop %s) or remove it with -f: %w",
			rec.Name, rec.Name, api.ErrConflict)
	}
	if s := m.supervisor(rec.ID); s != nil || rec.State.Active() {
		if !force && rec.State == api.StatePaused {
			return fmt.Errorf("you cannot remove a paused container %s: unpause and then stop the container before attempting removal or force remove: %w",
				rec.Name, api.ErrConflict)
		}
		if !force {
			return fmt.Errorf("container %s is %s: stop it first (berth stop %s) or remove it with -f: %w",
				rec.Name, rec.State, rec.Name, api.ErrConflict)
		}
		if s != nil {
			// Its restart policy must not start what is being removed.
			if _, err := m.update(rec.ID, func(r *state.ContainerRecord) error { r.ManuallyStopped = true; return nil }); err != nil {
				return err
			}
			s.kill("removed with --force")
			select {
			case <-s.done:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return m.removeLocked(rec.ID, opts.Volumes)
}

// removeLocked deletes the record first, then the files: a crash between
// leaves an orphan directory, which the next start sweeps away. The
// anonymous volumes go too if volumes or the container is AutoRemove.
func (m *Manager) removeLocked(id string, volumes bool) error {
	rec, err := m.get(id)
	if err != nil {
		return err
	}
	m.cancelRestart(id)
	m.rememberLastRun(rec.Container)
	if err := m.cfg.DB.Update(func(tx *state.Tx) error { return tx.DeleteContainer(id) }); err != nil {
		return err
	}
	if err := os.RemoveAll(rec.Dir); err != nil {
		m.log.Warn("remove container files", "id", api.ShortID(id), "err", err)
	}
	if volumes || rec.Spec.AutoRemove {
		m.removeAnonymousVolumes(rec)
	}
	m.mu.Lock()
	delete(m.hubs, id)
	m.mu.Unlock()
	m.publish("destroy", rec, nil)
	return nil
}

// rememberLastRun keeps the final record of a container removed right
// after it ended (--rm) for a minute, so an attached client can still
// learn its exit code.
func (m *Manager) rememberLastRun(c api.Container) {
	m.lastRuns.Store(c.ID, c)
	time.AfterFunc(time.Minute, func() { m.lastRuns.Delete(c.ID) })
}

func (m *Manager) lastRun(id string, fallback api.Container) api.Container {
	if v, ok := m.lastRuns.Load(id); ok {
		return v.(api.Container)
	}
	return fallback
}

// Prune removes every container that is not running and that match
// takes (nil: all of them), and returns the ids of those it removed.
func (m *Manager) Prune(ctx context.Context, match func(api.Container) bool) ([]string, error) {
	list, err := m.List(true)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, c := range list {
		if c.State.Active() || (match != nil && !match(c)) {
			continue
		}
		if err := m.Remove(ctx, c.ID, api.RemoveOptions{}); err != nil {
			if errors.Is(err, api.ErrConflict) || errors.Is(err, api.ErrNotFound) {
				continue // started or removed meanwhile
			}
			return removed, err
		}
		removed = append(removed, c.ID)
	}
	return removed, nil
}

// exitCode maps how a process ended to a shell-style status.
func exitCode(code, signal int) int {
	if signal != 0 {
		return 128 + signal
	}
	return code
}

// signalNumber parses "TERM", "SIGKILL", "9" into a Linux signal number.
func signalNumber(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return n, nil
	}
	name := s
	if len(name) > 3 && name[:3] == "SIG" {
		name = name[3:]
	}
	if n, ok := linuxSignals[name]; ok {
		return n, nil
	}
	return 0, fmt.Errorf("unknown signal %q (use a name like TERM or a number): %w", s, api.ErrInvalidArgument)
}

// linuxSignals are the guest's signal numbers (the host may be macOS,
// whose numbers differ, so syscall's constants cannot be used).
var linuxSignals = map[string]int{
	"HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "BUS": 7, "FPE": 8, "KILL": 9,
	"USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15, "STKFLT": 16, "CHLD": 17,
	"CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22, "URG": 23, "XCPU": 24, "XFSZ": 25,
	"VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29, "PWR": 30, "SYS": 31,
}

// StopAll stops every running container as the daemon shuts down, in
// parallel, each with timeout before its process is killed. These stops
// are not a user's: restart policies apply again when the next daemon
// starts, and pending restarts are left for it (their records stay
// restarting).
func (m *Manager) StopAll(ctx context.Context, timeout time.Duration) {
	m.shuttingDown.Store(true)
	m.cancelAllRestarts()
	m.mu.Lock()
	ids := make([]string, 0, len(m.sups))
	for id := range m.sups {
		ids = append(ids, id)
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := m.Stop(ctx, id, timeout, ""); err != nil {
				m.log.Warn("stop container", "id", api.ShortID(id), "err", err)
			}
		}()
	}
	wg.Wait()
}
