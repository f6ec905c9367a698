// Package presenter is the live side of the menu-bar app: it keeps a
// viewmodel.State from the daemon (found or started as the CLI does,
// followed through its event stream, reconnected with backoff when it goes
// away), carries out the menu's Actions through core/client off the UI
// thread with their progress in the menu, decides notifications, and asks
// the platform (viewmodel.Effects) for the rest. It implements
// viewmodel.Model for the renderers (ui/tray, ui/menubar) and knows no
// platform.
package presenter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/client"
	"github.com/berthvm/berth/core/paths"
	"github.com/berthvm/berth/ui/viewmodel"
)

// Daemon is what the presenter asks of the daemon: core/client.Client.
type Daemon interface {
	SystemInfo(ctx context.Context) (api.SystemInfo, error)
	Containers(ctx context.Context, all bool) ([]api.Container, error)
	Images(ctx context.Context) ([]api.Image, error)
	Networks(ctx context.Context) ([]api.Network, error)
	Events(ctx context.Context, opts client.EventOptions, fn func(api.Event) bool) error
	CreateContainer(ctx context.Context, spec api.ContainerSpec) (api.Container, error)
	StartContainer(ctx context.Context, ref string, progress api.ProgressFunc) (api.Container, error)
	StopContainer(ctx context.Context, ref string, timeout time.Duration, signal string) (api.Container, error)
	KillContainer(ctx context.Context, ref, signal string) error
	RemoveContainer(ctx context.Context, ref string, opts api.RemoveOptions) error
	ContainerStats(ctx context.Context, ref string) (api.ContainerStats, error)
	ImageLoad(ctx context.Context, req api.ImageLoadRequest, progress api.ProgressFunc) ([]api.Image, error)
	Close()
}

var _ Daemon = (*client.Client)(nil)

// Config is what a Presenter is built from.
type Config struct {
	// Home is the data dir.
	Home string
	// Effects is the platform: notifications, terminals, the clipboard.
	Effects viewmodel.Effects
	// OS names the host section; default runtime.GOOS.
	OS string
	// Executable is the berth binary terminals run (logs, shell); default
	// this process's executable.
	Executable string
	// Connect reaches the daemon; autostart says whether it may start one.
	// Default: client.Ensure when autostart, else a ping of the socket.
	Connect func(ctx context.Context, autostart bool) (Daemon, error)
	Logger  *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// StopTimeout is how long a Stop waits before killing; default 10 s.
	StopTimeout time.Duration
	// NoteWindow groups notifications into bursts; default one second.
	NoteWindow time.Duration
}

// Presenter keeps the State and carries out Actions. It is safe for
// concurrent use; renderers call it from their UI thread.
type Presenter struct {
	cfg Config
	log *slog.Logger

	updates chan struct{}
	wake    chan struct{} // reconnect now (Start Berth was clicked)

	mu       sync.Mutex
	st       viewmodel.State
	d        Daemon // nil while disconnected
	notifier viewmodel.Notifier
	noteAt   *time.Timer
	open     bool
	quitting bool
	settings settings
}

// New makes a presenter; Run brings it to life.
func New(cfg Config) *Presenter {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.OS == "" {
		cfg.OS = goos
	}
	if cfg.Executable == "" {
		cfg.Executable, _ = os.Executable()
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = 10 * time.Second
	}
	if cfg.Connect == nil {
		home := cfg.Home
		cfg.Connect = func(ctx context.Context, autostart bool) (Daemon, error) {
			if autostart {
				return client.Ensure(ctx, home, client.StartOptions{})
			}
			c := client.New(paths.Socket(home))
			if err := c.Ping(ctx); err != nil {
				c.Close()
				return nil, err
			}
			return c, nil
		}
	}
	p := &Presenter{cfg: cfg, log: cfg.Logger, updates: make(chan struct{}, 1), wake: make(chan struct{}, 1),
		notifier: viewmodel.Notifier{Window: cfg.NoteWindow}}
	p.settings = loadSettings(cfg.Home, p.log)
	p.st = viewmodel.State{Now: cfg.Now(), OS: cfg.OS, Daemon: viewmodel.DaemonDown, NotesOff: p.settings.notesOff(),
		Login: viewmodel.LoginUnavailable}
	if cfg.Effects != nil {
		p.st.Login = cfg.Effects.LoginItem()
	}
	return p
}

// Menu implements viewmodel.Model.
func (p *Presenter) Menu() viewmodel.Menu {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.st
	st.Now = p.cfg.Now()
	return viewmodel.Build(st)
}

// State is a copy of the current state.
func (p *Presenter) State() viewmodel.State {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.st
	st.Now = p.cfg.Now()
	return st
}

// Updates implements viewmodel.Model.
func (p *Presenter) Updates() <-chan struct{} { return p.updates }

// changed tells the renderer, without blocking.
func (p *Presenter) changed() {
	select {
	case p.updates <- struct{}{}:
	default:
	}
}

// update changes the state under the lock and tells the renderer.
func (p *Presenter) update(fn func(st *viewmodel.State)) {
	p.mu.Lock()
	fn(&p.st)
	p.mu.Unlock()
	p.changed()
}

// Run keeps the presenter connected until ctx ends: it finds (or, with
// autostart, starts) the daemon, loads the state, follows the event
// stream, and when the daemon goes away shows it and tries again with
// backoff. A daemon that was lost is not restarted behind the user's back:
// the menu offers Start Berth.
func (p *Presenter) Run(ctx context.Context, autostart bool) error {
	backoff := 250 * time.Millisecond
	for ctx.Err() == nil {
		if autostart {
			p.update(func(st *viewmodel.State) { st.Daemon = viewmodel.DaemonStarting })
		}
		d, err := p.cfg.Connect(ctx, autostart)
		autostart = false
		if err != nil {
			status := daemonStatus(err)
			p.update(func(st *viewmodel.State) { st.Daemon, st.DaemonError = status, err.Error() })
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
				backoff = min(2*backoff, 10*time.Second)
			case <-p.wake:
				autostart = true
			}
			continue
		}
		backoff = 250 * time.Millisecond
		err = p.follow(ctx, d)
		d.Close()
		p.mu.Lock()
		p.d = nil
		quitting := p.quitting
		p.mu.Unlock()
		if ctx.Err() != nil || quitting {
			break
		}
		p.log.Warn("lost the daemon", "err", err)
		p.update(func(st *viewmodel.State) {
			st.Daemon, st.DaemonError = viewmodel.DaemonDown, "the daemon went away"
		})
		p.note(viewmodel.Note{Kind: viewmodel.NoteDaemon, Key: "daemon", Failed: true, Title: "Berth stopped",
			Body: "Its containers may still run. Start it again from the menu."})
	}
	return ctx.Err()
}

// follow loads the state from d and applies its events until the stream
// ends. Events from just before the load are replayed, so nothing that
// happened while loading is missed.
func (p *Presenter) follow(ctx context.Context, d Daemon) error {
	since := p.cfg.Now().Add(-time.Second)
	if err := p.attach(ctx, d); err != nil {
		return err
	}
	return d.Events(ctx, client.EventOptions{Since: since}, func(ev api.Event) bool {
		p.apply(ctx, d, ev)
		return true
	})
}

// attach loads the state from d and makes it the daemon actions go to.
func (p *Presenter) attach(ctx context.Context, d Daemon) error {
	if err := p.reload(ctx, d, true, true); err != nil {
		return err
	}
	p.mu.Lock()
	p.d = d
	p.mu.Unlock()
	p.update(func(st *viewmodel.State) { st.Daemon, st.DaemonError = viewmodel.DaemonRunning, "" })
	return nil
}

// Connect reaches the daemon (starting one with autostart) and loads the
// state once, without following its events: for `berth menu`. A daemon
// that is not running is a state to show, not an error.
func (p *Presenter) Connect(ctx context.Context, autostart bool) error {
	d, err := p.cfg.Connect(ctx, autostart)
	if err != nil {
		status := daemonStatus(err)
		p.update(func(st *viewmodel.State) { st.Daemon, st.DaemonError = status, err.Error() })
		return nil
	}
	if err := p.attach(ctx, d); err != nil {
		d.Close()
		return err
	}
	return nil
}

// Refresh reloads the lists from the connected daemon.
func (p *Presenter) Refresh(ctx context.Context) error {
	d, err := p.daemon()
	if err != nil {
		return err
	}
	return p.reload(ctx, d, true, true)
}

// Close drops the connection Connect made.
func (p *Presenter) Close() {
	p.mu.Lock()
	d := p.d
	p.d = nil
	p.mu.Unlock()
	if d != nil {
		d.Close()
	}
}

// reload fetches the lists the menu shows.
func (p *Presenter) reload(ctx context.Context, d Daemon, containers, images bool) error {
	var (
		info  api.SystemInfo
		cs    []api.Container
		ims   []api.Image
		err   error
		errCs error
	)
	if info, err = d.SystemInfo(ctx); err != nil {
		return fmt.Errorf("system info: %w", err)
	}
	var nets []api.Network
	if containers {
		cs, errCs = d.Containers(ctx, true)
		if errCs != nil && info.ContainersError == "" {
			return fmt.Errorf("list containers: %w", errCs)
		}
		// Members come and go with containers: networks are fetched with
		// them.
		if nets, err = d.Networks(ctx); err != nil && info.ContainersError == "" {
			return fmt.Errorf("list networks: %w", err)
		}
	}
	if images {
		if ims, err = d.Images(ctx); err != nil {
			return fmt.Errorf("list images: %w", err)
		}
	}
	p.update(func(st *viewmodel.State) {
		st.Info = info
		if containers {
			st.Containers, st.Networks = cs, nets
		}
		if images {
			st.Images = ims
		}
	})
	return nil
}

// apply brings an event into the state and posts what it calls for.
func (p *Presenter) apply(ctx context.Context, d Daemon, ev api.Event) {
	prev := p.State()
	switch ev.Type {
	case api.EventContainer:
		switch ev.Action {
		case "kill", "stop":
			p.update(func(st *viewmodel.State) { st.Asked = with(st.Asked, ev.ID, true) })
		case "start":
			p.update(func(st *viewmodel.State) { st.Asked = with(st.Asked, ev.ID, false) })
		}
		if err := p.reload(ctx, d, true, false); err != nil {
			p.log.Warn("refresh containers", "err", err)
		}
	case api.EventNetwork:
		if err := p.reload(ctx, d, true, false); err != nil {
			p.log.Warn("refresh networks", "err", err)
		}
	case api.EventImage:
		if err := p.reload(ctx, d, false, true); err != nil {
			p.log.Warn("refresh images", "err", err)
		}
	}
	for _, n := range viewmodel.Decide(prev, p.State(), ev) {
		p.note(n)
	}
}

// daemonStatus reads a failed connection: nothing answering (or a daemon
// that would not start) is "not running"; anything else answered, but not
// as a daemon should.
func daemonStatus(err error) viewmodel.DaemonStatus {
	if client.IsDaemonDown(err) || errors.Is(err, api.ErrUnavailable) {
		return viewmodel.DaemonDown
	}
	return viewmodel.DaemonUnreachable
}

// with returns m with key set (or deleted), allocating m if needed.
func with(m map[string]bool, key string, on bool) map[string]bool {
	out := make(map[string]bool, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	if on {
		out[key] = true
	} else {
		delete(out, key)
	}
	return out
}

// note queues a notification unless its kind is off; bursts are posted
// together once they settle.
func (p *Presenter) note(n viewmodel.Note) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.st.NotesOff[n.Kind] || p.cfg.Effects == nil {
		return
	}
	p.notifier.Add(n, p.cfg.Now())
	if p.noteAt == nil {
		p.noteAt = time.AfterFunc(time.Until(p.notifier.Next()), p.postDue)
	}
}

func (p *Presenter) postDue() {
	p.mu.Lock()
	notes := p.notifier.Due(p.cfg.Now())
	p.noteAt = nil
	if next := p.notifier.Next(); !next.IsZero() {
		p.noteAt = time.AfterFunc(max(time.Until(next), time.Millisecond), p.postDue)
	}
	p.mu.Unlock()
	for _, n := range notes {
		p.cfg.Effects.Notify(n)
	}
}

// daemon is the connected daemon, or an error saying there is none.
func (p *Presenter) daemon() (Daemon, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.d == nil {
		return nil, fmt.Errorf("berth is not running: start it from the menu: %w", api.ErrUnavailable)
	}
	return p.d, nil
}

// Opened implements viewmodel.Model: while the menu is open, the running
// containers' figures are fetched every two seconds.
func (p *Presenter) Opened(open bool) {
	p.mu.Lock()
	was := p.open
	p.open = open
	p.mu.Unlock()
	if open && !was {
		go p.pollStats()
	}
}

func (p *Presenter) pollStats() {
	for {
		p.mu.Lock()
		open, d := p.open, p.d
		var ids []string
		for _, c := range p.st.Containers {
			if c.State == api.StateRunning {
				ids = append(ids, c.ID)
			}
		}
		p.mu.Unlock()
		if !open {
			return
		}
		if d != nil {
			stats := map[string]api.ContainerStats{}
			for _, id := range ids {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				if s, err := d.ContainerStats(ctx, id); err == nil {
					stats[id] = s
				}
				cancel()
			}
			p.update(func(st *viewmodel.State) { st.Stats = stats })
		}
		time.Sleep(2 * time.Second)
	}
}
