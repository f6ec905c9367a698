package presenter

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/client"
	"github.com/berthvm/berth/ui/viewmodel"
)

// fakeDaemon serves a container list and an event stream the test drives.
type fakeDaemon struct {
	mu         sync.Mutex
	containers []api.Container
	events     chan api.Event
	startErr   error
	calls      []string
	closed     bool
}

func newFakeDaemon(cs ...api.Container) *fakeDaemon {
	return &fakeDaemon{containers: cs, events: make(chan api.Event, 16)}
}

func (f *fakeDaemon) record(s string) {
	f.mu.Lock()
	f.calls = append(f.calls, s)
	f.mu.Unlock()
}

func (f *fakeDaemon) set(id string, fn func(*api.Container)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.containers {
		if f.containers[i].ID == id {
			fn(&f.containers[i])
		}
	}
}

func (f *fakeDaemon) SystemInfo(context.Context) (api.SystemInfo, error) {
	return api.SystemInfo{Daemon: api.DaemonInfo{Home: "/h"}}, nil
}
func (f *fakeDaemon) Containers(context.Context, bool) ([]api.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.Container(nil), f.containers...), nil
}
func (f *fakeDaemon) Images(context.Context) ([]api.Image, error)     { return nil, nil }
func (f *fakeDaemon) Networks(context.Context) ([]api.Network, error) { return nil, nil }
func (f *fakeDaemon) Events(ctx context.Context, _ client.EventOptions, fn func(api.Event) bool) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-f.events:
			if !ok {
				return fmt.Errorf("event stream ended: %w", api.ErrUnavailable)
			}
			if !fn(ev) {
				return nil
			}
		}
	}
}
func (f *fakeDaemon) CreateContainer(context.Context, api.ContainerSpec) (api.Container, error) {
	return api.Container{}, nil
}
func (f *fakeDaemon) StartContainer(_ context.Context, ref string, progress api.ProgressFunc) (api.Container, error) {
	f.record("start " + ref)
	progress(api.Progress{ID: ref, Action: "boot"})
	return api.Container{}, f.startErr
}
func (f *fakeDaemon) StopContainer(_ context.Context, ref string, _ time.Duration, _ string) (api.Container, error) {
	f.record("stop " + ref)
	return api.Container{}, nil
}
func (f *fakeDaemon) KillContainer(_ context.Context, ref, sig string) error {
	f.record("kill " + ref + " " + sig)
	return nil
}
func (f *fakeDaemon) RemoveContainer(_ context.Context, ref string, _ api.RemoveOptions) error {
	f.record("rm " + ref)
	return nil
}
func (f *fakeDaemon) ContainerStats(context.Context, string) (api.ContainerStats, error) {
	return api.ContainerStats{}, nil
}
func (f *fakeDaemon) ImageLoad(_ context.Context, req api.ImageLoadRequest, _ api.ProgressFunc) ([]api.Image, error) {
	f.record("load " + filepath.Base(req.Path))
	return nil, nil
}
func (f *fakeDaemon) Close() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
}

// effects records what the presenter asks of the platform.
type effects struct {
	mu    sync.Mutex
	notes []viewmodel.Note
	texts []string
	quit  bool
}

func (e *effects) Notify(n viewmodel.Note) { e.mu.Lock(); e.notes = append(e.notes, n); e.mu.Unlock() }
func (e *effects) OpenTerminal(title string, argv []string) error {
	e.mu.Lock()
	e.texts = append(e.texts, title+": "+strings.Join(argv, " "))
	e.mu.Unlock()
	return nil
}
func (e *effects) CopyText(s string) error {
	e.mu.Lock()
	e.texts = append(e.texts, s)
	e.mu.Unlock()
	return nil
}
func (e *effects) OpenPath(string) error              { return nil }
func (e *effects) PickFiles(string) ([]string, error) { return nil, nil }
func (e *effects) LoginItem() viewmodel.LoginStatus   { return viewmodel.LoginOff }
func (e *effects) SetLoginItem(bool) error            { return nil }
func (e *effects) Quit()                              { e.mu.Lock(); e.quit = true; e.mu.Unlock() }
func (e *effects) Notes() []viewmodel.Note {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]viewmodel.Note(nil), e.notes...)
}

// eventually waits for cond, failing after a few seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type rig struct {
	p   *Presenter
	e   *effects
	mu  sync.Mutex
	ds  []*fakeDaemon // what each connection gets; the last repeats
	up  bool          // whether a daemon answers
	cur *fakeDaemon
}

func newRig(t *testing.T, d *fakeDaemon) *rig {
	r := &rig{e: &effects{}, ds: []*fakeDaemon{d}, up: true}
	r.p = New(Config{Home: t.TempDir(), Effects: r.e, NoteWindow: 20 * time.Millisecond, Executable: "/bin/berth",
		Connect: func(context.Context, bool) (Daemon, error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			if !r.up {
				return nil, fmt.Errorf("dial unix berth.sock: no such file or directory: %w", api.ErrUnavailable)
			}
			r.cur = r.ds[0]
			if len(r.ds) > 1 {
				r.ds = r.ds[1:]
			}
			return r.cur, nil
		}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.p.Run(ctx, true); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	eventually(t, "the first load", func() bool { return r.p.State().Daemon == viewmodel.DaemonRunning })
	return r
}

var web = api.Container{ID: "c1", Name: "web", Image: "nginx", State: api.StateRunning}

func TestEventsBecomeNotes(t *testing.T) {
	d := newFakeDaemon(web)
	r := newRig(t, d)
	d.set("c1", func(c *api.Container) { c.State, c.ExitCode = api.StateExited, 3 })
	d.events <- api.Event{Type: api.EventContainer, Action: "die", ID: "c1", Name: "web", Attributes: map[string]string{"exitCode": "3"}}
	eventually(t, "a note", func() bool { return len(r.e.Notes()) == 1 })
	if n := r.e.Notes()[0]; n.Title != "web exited with code 3" {
		t.Fatalf("note %+v", n)
	}
	if it, _ := r.p.Menu().Find("container/c1"); it.Dot != viewmodel.DotRed {
		t.Fatalf("the menu did not follow the event: %+v", it)
	}
}

// A stop from the menu: the daemon is asked, and the container's end is
// no news.
func TestUserStopIsQuiet(t *testing.T) {
	d := newFakeDaemon(web)
	r := newRig(t, d)
	if err := r.p.Do(context.Background(), viewmodel.Action{Verb: viewmodel.VerbStop, Target: "c1"}); err != nil {
		t.Fatal(err)
	}
	d.set("c1", func(c *api.Container) { c.State, c.ExitCode = api.StateExited, 137 })
	d.events <- api.Event{Type: api.EventContainer, Action: "die", ID: "c1", Name: "web", Attributes: map[string]string{"exitCode": "137"}}
	d.events <- api.Event{Type: api.EventContainer, Action: "stop", ID: "c1", Name: "web"}
	time.Sleep(200 * time.Millisecond)
	if notes := r.e.Notes(); len(notes) != 0 {
		t.Fatalf("a user's stop was notified: %+v", notes)
	}
	if d.calls[0] != "stop c1" {
		t.Fatalf("calls %v", d.calls)
	}
}

func TestFailedActionShowsAndNotifies(t *testing.T) {
	d := newFakeDaemon(api.Container{ID: "c2", Name: "job", State: api.StateExited})
	d.startErr = fmt.Errorf("container job: the guest agent did not answer: %w", api.ErrUnavailable)
	r := newRig(t, d)
	r.p.Perform(viewmodel.Action{Verb: viewmodel.VerbStart, Target: "c2"})
	eventually(t, "the failure in the menu", func() bool {
		it, ok := r.p.Menu().Find("job/start/c2")
		return ok && it.Dot == viewmodel.DotRed
	})
	it, _ := r.p.Menu().Find("job/start/c2")
	if it.Title != "Start job failed" || it.Detail != "container job: the guest agent did not answer" {
		t.Fatalf("failed job row %+v", it)
	}
	eventually(t, "a note", func() bool { return len(r.e.Notes()) == 1 })
	if n := r.e.Notes()[0]; n.Kind != viewmodel.NoteAction || !n.Failed {
		t.Fatalf("note %+v", n)
	}
}

// The daemon goes away: the menu says so, one note is posted, and Start
// Berth brings it back (with a new connection).
func TestDaemonLostAndStartedAgain(t *testing.T) {
	d1 := newFakeDaemon(web)
	d2 := newFakeDaemon(web)
	r := newRig(t, d1)
	r.mu.Lock()
	r.ds = []*fakeDaemon{d2} // the next connection is d2's (d1 stays first while it is the only one)
	r.up = false
	r.mu.Unlock()
	close(d1.events)
	eventually(t, "the daemon down", func() bool { return r.p.State().Daemon == viewmodel.DaemonDown })
	if it, ok := r.p.Menu().Find("start-daemon"); !ok || !it.Enabled {
		t.Fatal("no Start Berth")
	}
	eventually(t, "a note", func() bool { return len(r.e.Notes()) == 1 })
	if n := r.e.Notes()[0]; n.Kind != viewmodel.NoteDaemon {
		t.Fatalf("note %+v", n)
	}
	r.mu.Lock()
	r.up = true
	r.mu.Unlock()
	r.p.Perform(viewmodel.Action{Verb: viewmodel.VerbStartDaemon})
	eventually(t, "the daemon back", func() bool { return r.p.State().Daemon == viewmodel.DaemonRunning })
	r.mu.Lock()
	cur := r.cur
	r.mu.Unlock()
	if cur != d2 {
		t.Fatal("did not reconnect")
	}
}

func TestActionsReachTheirTargets(t *testing.T) {
	c := web
	c.IPAddress = "10.0.2.15"
	d := newFakeDaemon(c)
	r := newRig(t, d)
	ctx := context.Background()
	for _, a := range []viewmodel.Action{
		{Verb: viewmodel.VerbKill, Target: "c1"},
		{Verb: viewmodel.VerbLogs, Target: "c1"},
		{Verb: viewmodel.VerbShell, Target: "c1"},
		{Verb: viewmodel.VerbCopyIP, Target: "c1"},
		{Verb: viewmodel.VerbRestart, Target: "c1"},
		{Verb: viewmodel.VerbRemove, Target: "c1"},
	} {
		if err := r.p.Do(ctx, a); err != nil {
			t.Fatalf("%s: %v", a, err)
		}
	}
	want := []string{"kill c1 KILL", "stop c1", "start c1", "rm c1"}
	if strings.Join(d.calls, ",") != strings.Join(want, ",") {
		t.Fatalf("daemon calls %v, want %v", d.calls, want)
	}
	home := r.p.cfg.Home
	wantTexts := []string{"Logs of web: /bin/berth --home " + home + " logs -f c1", "Shell in web: /bin/berth --home " + home + " exec -it c1 sh", "10.0.2.15"}
	if strings.Join(r.e.texts, "|") != strings.Join(wantTexts, "|") {
		t.Fatalf("effects %q, want %q", r.e.texts, wantTexts)
	}
	// A drop: images imported, anything else refused with a note.
	dir := t.TempDir()
	notImage := filepath.Join(dir, "notes.txt")
	os.WriteFile(notImage, []byte("hello"), 0o644)
	err := r.p.Do(ctx, viewmodel.Action{Verb: viewmodel.VerbImport, Paths: []string{notImage}})
	if err == nil {
		t.Fatal("a text file was imported")
	}
	eventually(t, "the refusal", func() bool {
		for _, n := range r.e.Notes() {
			if n.Title == "notes.txt was not imported" {
				return true
			}
		}
		return false
	})
}

func TestNotificationSettingsPersist(t *testing.T) {
	d := newFakeDaemon(web)
	r := newRig(t, d)
	ctx := context.Background()
	if err := r.p.Do(ctx, viewmodel.Action{Verb: viewmodel.VerbToggleNote, Target: string(viewmodel.NoteExit)}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(r.p.cfg.Home, "menubar.json"))
	if err != nil || !strings.Contains(string(b), `"exit"`) {
		t.Fatalf("settings %s, %v", b, err)
	}
	d.set("c1", func(c *api.Container) { c.State, c.ExitCode = api.StateExited, 3 })
	d.events <- api.Event{Type: api.EventContainer, Action: "die", ID: "c1", Name: "web", Attributes: map[string]string{"exitCode": "3"}}
	time.Sleep(200 * time.Millisecond)
	if notes := r.e.Notes(); len(notes) != 0 {
		t.Fatalf("a kind turned off was notified: %+v", notes)
	}
	p2 := New(Config{Home: r.p.cfg.Home})
	if !p2.State().NotesOff[viewmodel.NoteExit] {
		t.Fatal("the setting did not survive a restart of the app")
	}
}
