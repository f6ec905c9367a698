package tray

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/berthvm/berth/ui/tray/traytest"
	"github.com/berthvm/berth/ui/viewmodel"
)

// fakeModel shows a fixed menu that the test replaces, and records what
// the tray tells it.
type fakeModel struct {
	mu        sync.Mutex
	menu      viewmodel.Menu
	updates   chan struct{}
	performed chan viewmodel.Action
	opened    chan bool
}

func newFakeModel(menu viewmodel.Menu) *fakeModel {
	return &fakeModel{menu: menu, updates: make(chan struct{}, 1),
		performed: make(chan viewmodel.Action, 16), opened: make(chan bool, 16)}
}

func (f *fakeModel) Menu() viewmodel.Menu {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.menu
}
func (f *fakeModel) Updates() <-chan struct{}   { return f.updates }
func (f *fakeModel) Perform(a viewmodel.Action) { f.performed <- a }
func (f *fakeModel) Drop(paths []string)        {}
func (f *fakeModel) Opened(open bool)           { f.opened <- open }

func (f *fakeModel) set(m viewmodel.Menu) {
	f.mu.Lock()
	f.menu = m
	f.mu.Unlock()
	select {
	case f.updates <- struct{}{}:
	default:
	}
}

// noPerform fails if the model was asked to perform anything.
func (f *fakeModel) noPerform(t *testing.T, after string) {
	t.Helper()
	select {
	case a := <-f.performed:
		t.Errorf("after %s: Perform(%v)", after, a)
	default:
	}
}

// serve runs tr.Serve(m) until the test ends; the returned channel gets
// its result.
func serve(t *testing.T, tr *Tray, m viewmodel.Model) (context.CancelFunc, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Serve(ctx, m) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return 10s after its context ended")
		}
	})
	return cancel, done
}

func TestMenuOverDBus(t *testing.T) {
	addr := traytest.Bus(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
	tr, err := New(Options{}) // the session bus, from the environment
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	m := newFakeModel(testMenu(true))
	serve(t, tr, m)

	conn := traytest.Connect(t, addr)
	name := fmt.Sprintf("org.kde.StatusNotifierItem-%d-1", os.Getpid())
	traytest.WaitOwner(t, conn, name, true)
	c := traytest.NewMenuClient(t, conn, name)

	rev1, root := c.Layout(0, -1)
	if root.ID != 0 || root.Prop("children-display") != "submenu" {
		t.Errorf("root: id %d, props %v", root.ID, root.Props)
	}

	// Click Stop on the running container: the model performs it, by the
	// time Event returns.
	web := root.Child(t, "web")
	if web.Label() != "web  demo" || web.Prop("children-display") != "submenu" || web.Prop("icon-name") != "user-available" {
		t.Errorf("web: %v", web.Props)
	}
	stop := web.Child(t, "Stop")
	c.Click(stop)
	select {
	case a := <-m.performed:
		if want := (viewmodel.Action{Verb: viewmodel.VerbStop, Target: "c1"}); !reflect.DeepEqual(a, want) {
			t.Errorf("clicked Stop, performed %v, want %v", a, want)
		}
	default:
		t.Fatal("clicked Stop: Event returned before Perform was called, or never called it")
	}

	// Nothing that is not an enabled action does anything.
	for _, it := range []traytest.Item{web.Child(t, "Start"), web, root.Child(t, "Containers"), root.Child(t, "Berth is running")} {
		if it.Prop("enabled") != false && it.Prop("children-display") == nil {
			t.Errorf("%q is enabled", it.Label())
		}
		c.Click(it)
		m.noPerform(t, "clicking "+it.Label())
	}
	if err := c.Event(9999, "clicked"); err == nil {
		t.Error("clicking an unknown id: no error")
	}

	// Underscores are escaped, and the item is found once unescaped.
	db := root.Child(t, "my_db")
	if raw := db.Prop("label"); raw != "my__db  demo" {
		t.Errorf("my_db's label on the bus is %q", raw)
	}
	c.Click(db.Child(t, "Start"))
	if a := <-m.performed; !reflect.DeepEqual(a, viewmodel.Action{Verb: viewmodel.VerbStart, Target: "c2"}) {
		t.Errorf("clicked my_db's Start, performed %v", a)
	}

	// A toggle and the separators.
	login := root.Child(t, "Launch at login")
	if login.Prop("toggle-type") != "checkmark" || login.Prop("toggle-state") != int32(0) || login.Prop("enabled") != true {
		t.Errorf("toggle: %v", login.Props)
	}
	c.Click(login)
	if a := <-m.performed; a.Verb != viewmodel.VerbToggleLogin {
		t.Errorf("clicked the toggle, performed %v", a)
	}
	var seps int
	for _, it := range root.Children {
		if it.Prop("type") == "separator" {
			seps++
		}
	}
	if seps != 2 {
		t.Errorf("%d separators, want 2", seps)
	}

	// Depth and property filters.
	_, shallow := c.Layout(0, 0)
	if len(shallow.Children) != 0 {
		t.Errorf("depth 0: %d children", len(shallow.Children))
	}
	_, one := c.Layout(0, 1, "label")
	if w := one.Child(t, "web"); len(w.Children) != 0 || len(w.Props) != 1 {
		t.Errorf("depth 1, label only: web has %d children, props %v", len(w.Children), w.Props)
	}
	_, sub := c.Layout(web.ID, -1)
	if sub.ID != web.ID || len(sub.Children) != 3 {
		t.Errorf("GetLayout(web): id %d, %d children", sub.ID, len(sub.Children))
	}
	if err := c.Obj.Call("com.canonical.dbusmenu.GetLayout", 0, int32(9999), int32(-1), []string{}).Err; err == nil {
		t.Error("GetLayout of an unknown id: no error")
	}
	var group []struct {
		ID    int32
		Props map[string]dbus.Variant
	}
	if err := c.Obj.Call("com.canonical.dbusmenu.GetGroupProperties", 0, []int32{web.ID, stop.ID, 9999}, []string{"enabled"}).Store(&group); err != nil {
		t.Fatal(err)
	}
	if len(group) != 2 || group[0].ID != web.ID || group[1].ID != stop.ID || len(group[1].Props) != 1 || group[1].Props["enabled"].Value() != true {
		t.Errorf("GetGroupProperties = %v", group)
	}
	var v dbus.Variant
	if err := c.Obj.Call("com.canonical.dbusmenu.GetProperty", 0, stop.ID, "label").Store(&v); err != nil || v.Value() != "Stop" {
		t.Errorf("GetProperty(Stop, label) = %v, %v", v, err)
	}
	for prop, want := range map[string]any{"Version": uint32(3), "TextDirection": "ltr", "Status": "normal"} {
		if got, err := c.Obj.GetProperty("com.canonical.dbusmenu." + prop); err != nil || got.Value() != want {
			t.Errorf("menu property %s = %v, %v; want %v", prop, got, err, want)
		}
	}
	var xml string
	if err := c.Obj.Call("org.freedesktop.DBus.Introspectable.Introspect", 0).Store(&xml); err != nil || !strings.Contains(xml, `<interface name="com.canonical.dbusmenu">`) {
		t.Errorf("Introspect: %v\n%s", err, xml)
	}

	// Opening and closing the menu reach the model, once each.
	var need bool
	if err := c.Obj.Call("com.canonical.dbusmenu.AboutToShow", 0, int32(0)).Store(&need); err != nil {
		t.Fatal(err)
	}
	if err := c.Event(0, "opened"); err != nil {
		t.Fatal(err)
	}
	if err := c.Event(0, "closed"); err != nil {
		t.Fatal(err)
	}
	var opens []bool
	for len(m.opened) > 0 {
		opens = append(opens, <-m.opened)
	}
	if !reflect.DeepEqual(opens, []bool{true, false}) {
		t.Errorf("Opened calls: %v, want [true false]", opens)
	}

	// A rebuild: web stopped, a container added. LayoutUpdated with a new
	// revision; the ids of what is still there are unchanged.
	if err := conn.AddMatchSignal(dbus.WithMatchSender(name), dbus.WithMatchObjectPath("/MenuBar")); err != nil {
		t.Fatal(err)
	}
	sigs := make(chan *dbus.Signal, 16)
	conn.Signal(sigs)
	defer conn.RemoveSignal(sigs)
	extra := viewmodel.Item{ID: "container/c3", Kind: viewmodel.KindSubmenu, Title: "cache",
		Children: []viewmodel.Item{{ID: "container/c3/start", Kind: viewmodel.KindAction, Title: "Start", Enabled: true,
			Action: &viewmodel.Action{Verb: viewmodel.VerbStart, Target: "c3"}}}}
	m.set(testMenu(false, extra))
	var newRev uint32
	select {
	case sig := <-sigs:
		if sig.Name != "com.canonical.dbusmenu.LayoutUpdated" || len(sig.Body) != 2 || sig.Body[1] != int32(0) {
			t.Fatalf("signal %s %v, want LayoutUpdated(rev, 0)", sig.Name, sig.Body)
		}
		newRev = sig.Body[0].(uint32)
	case <-time.After(10 * time.Second):
		t.Fatal("no LayoutUpdated 10s after the model changed")
	}
	rev2, root2 := c.Layout(0, -1)
	if newRev <= rev1 || rev2 != newRev {
		t.Errorf("revisions: first %d, signalled %d, now %d", rev1, newRev, rev2)
	}
	web2 := root2.Child(t, "web")
	if web2.ID != web.ID || web2.Child(t, "Stop").ID != stop.ID || root2.Child(t, "my_db").ID != db.ID {
		t.Errorf("ids changed in a rebuild: web %d→%d, Stop %d→%d", web.ID, web2.ID, stop.ID, web2.Child(t, "Stop").ID)
	}
	if web2.Prop("icon-name") != "user-offline" {
		t.Errorf("stopped web's dot: %v", web2.Prop("icon-name"))
	}
	c.Click(web2.Child(t, "Stop")) // disabled now
	m.noPerform(t, "clicking a stopped container's Stop")
	c.Click(root2.Child(t, "cache").Child(t, "Start"))
	if a := <-m.performed; !reflect.DeepEqual(a, viewmodel.Action{Verb: viewmodel.VerbStart, Target: "c3"}) {
		t.Errorf("clicked cache's Start, performed %v", a)
	}

	// The same menu again changes nothing: no new revision.
	m.set(testMenu(false, extra))
	select {
	case sig := <-sigs:
		t.Errorf("an unchanged menu sent %s %v", sig.Name, sig.Body)
	case <-time.After(200 * time.Millisecond):
	}
}

// fakeWatcher is a StatusNotifierWatcher: what a tray host runs.
type fakeWatcher struct{ items chan string }

func (w *fakeWatcher) RegisterStatusNotifierItem(sender dbus.Sender, service string) *dbus.Error {
	w.items <- service
	return nil
}

// startWatcher puts a watcher on the bus on its own connection.
func startWatcher(t *testing.T, addr string) (*fakeWatcher, *dbus.Conn) {
	t.Helper()
	conn := traytest.Connect(t, addr)
	w := &fakeWatcher{items: make(chan string, 4)}
	if err := conn.Export(w, "/StatusNotifierWatcher", "org.kde.StatusNotifierWatcher"); err != nil {
		t.Fatal(err)
	}
	if r, err := conn.RequestName("org.kde.StatusNotifierWatcher", dbus.NameFlagDoNotQueue); err != nil || r != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own the watcher's name: %v %v", r, err)
	}
	return w, conn
}

func (w *fakeWatcher) registered(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-w.items:
		if got != want {
			t.Errorf("registered %q, want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the item did not register with the watcher in 10s")
	}
}

func TestStatusNotifierItem(t *testing.T) {
	addr := traytest.Bus(t)
	w, wconn := startWatcher(t, addr)
	tr, err := New(Options{Conn: traytest.Connect(t, addr), AppName: "Berth", IconName: "berth-test"})
	if err != nil {
		t.Fatal(err)
	}
	m := newFakeModel(testMenu(true))
	serve(t, tr, m)
	name := fmt.Sprintf("org.kde.StatusNotifierItem-%d-1", os.Getpid())
	w.registered(t, name)

	// What a host reads.
	var props map[string]dbus.Variant
	if err := wconn.Object(name, "/StatusNotifierItem").Call("org.freedesktop.DBus.Properties.GetAll", 0, "org.kde.StatusNotifierItem").Store(&props); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"Category": "ApplicationStatus", "Id": "berth", "Title": "Berth", "Status": "Active",
		"IconName": "berth-test", "OverlayIconName": "", "ItemIsMenu": true, "Menu": dbus.ObjectPath("/MenuBar"),
	} {
		if got := props[k].Value(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", k, got, want)
		}
	}
	// A client decodes a struct as []any; its type on the wire is the server's.
	if tip, ok := props["ToolTip"].Value().([]any); !ok || len(tip) != 4 || tip[2] != "Berth" {
		t.Errorf("ToolTip = %#v", props["ToolTip"].Value())
	}
	if sig := tr.itemProps()["ToolTip"].Signature().String(); sig != "(sa(iiay)ss)" {
		t.Errorf("ToolTip's signature is %s", sig)
	}
	for _, method := range []string{"Activate", "SecondaryActivate", "ContextMenu"} {
		if err := wconn.Object(name, "/StatusNotifierItem").Call("org.kde.StatusNotifierItem."+method, 0, int32(1), int32(2)).Err; err != nil {
			t.Errorf("%s: %v", method, err)
		}
	}

	// The daemon goes away: NeedsAttention, with signals for what changed.
	if err := wconn.AddMatchSignal(dbus.WithMatchSender(name), dbus.WithMatchInterface("org.kde.StatusNotifierItem")); err != nil {
		t.Fatal(err)
	}
	sigs := make(chan *dbus.Signal, 16)
	wconn.Signal(sigs)
	problem := testMenu(true)
	problem.Icon, problem.Title = viewmodel.IconProblem, "Berth: the daemon is not running"
	m.set(problem)
	got := map[string][]any{}
	for len(got) < 5 {
		select {
		case sig := <-sigs:
			got[strings.TrimPrefix(sig.Name, "org.kde.StatusNotifierItem.")] = sig.Body
		case <-time.After(10 * time.Second):
			t.Fatalf("signals after the icon changed: %v", got)
		}
	}
	if want := map[string][]any{"NewTitle": nil, "NewToolTip": nil, "NewIcon": nil, "NewAttentionIcon": nil,
		"NewStatus": {"NeedsAttention"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("signals %v, want %v", got, want)
	}
	if v, err := wconn.Object(name, "/StatusNotifierItem").GetProperty("org.kde.StatusNotifierItem.Status"); err != nil || v.Value() != "NeedsAttention" {
		t.Errorf("Status = %v, %v", v, err)
	}

	// The host restarts: the item registers with the new watcher.
	wconn.Close()
	w2, _ := startWatcher(t, addr)
	w2.registered(t, name)
}

func TestNotify(t *testing.T) {
	addr := traytest.Bus(t)
	f := traytest.ServeNotifications(t, addr)
	tr, err := New(Options{Conn: traytest.Connect(t, addr)})
	if err != nil {
		t.Fatal(err)
	}
	// Effects work without Serve.
	tr.Notify(viewmodel.Note{Kind: viewmodel.NoteExit, Key: "container/c1", Title: "web exited", Body: "exit code 1 <oops>"})
	tr.Notify(viewmodel.Note{Kind: viewmodel.NoteImage, Key: "image/x", Title: "Imported", Body: "x:latest"})
	tr.Notify(viewmodel.Note{Kind: viewmodel.NoteCrash, Key: "container/c1", Title: "web died", Body: "its VM crashed", Failed: true})
	tr.Notify(viewmodel.Note{Kind: viewmodel.NoteDaemon, Title: "no key"})
	tr.Notify(viewmodel.Note{Kind: viewmodel.NoteDaemon, Title: "no key"})

	notes := f.Notes()
	if len(notes) != 5 {
		t.Fatalf("%d notifications arrived, want 5", len(notes))
	}
	for i, want := range []struct {
		replaces uint32
		icon     string
		summary  string
		body     string
		urgent   bool
	}{
		{0, "package-x-generic", "web exited", "exit code 1 &lt;oops&gt;", false},
		{0, "package-x-generic", "Imported", "x:latest", false},
		{1, "dialog-error", "web died", "its VM crashed", true}, // replaces the first
		{0, "package-x-generic", "no key", "", false},
		{0, "package-x-generic", "no key", "", false},
	} {
		n := notes[i]
		if n.App != "Berth" || n.Replaces != want.replaces || n.Icon != want.icon || n.Summary != want.summary ||
			n.Body != want.body || n.Expire != -1 {
			t.Errorf("notification %d: %+v, want %+v", i, n, want)
		}
		u, ok := n.Hints["urgency"]
		if want.urgent != ok || ok && u.Value() != byte(2) {
			t.Errorf("notification %d: hints %v", i, n.Hints)
		}
	}

	// Without a server, Notify only logs.
	tr2, err := New(Options{Conn: traytest.Connect(t, traytest.Bus(t))})
	if err != nil {
		t.Fatal(err)
	}
	tr2.Notify(viewmodel.Note{Title: "nobody listens"})
}

// settle waits for the number of goroutines to drop to at most n.
func settle(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServeEnds(t *testing.T) {
	addr := traytest.Bus(t)
	client := traytest.Connect(t, addr)
	name := fmt.Sprintf("org.kde.StatusNotifierItem-%d-1", os.Getpid())
	base := runtime.NumGoroutine()
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	tr, err := New(Options{Conn: nil, AppName: "Berth"})
	if err == nil || !strings.Contains(err.Error(), "DBUS_SESSION_BUS_ADDRESS") {
		t.Fatalf("New without DBUS_SESSION_BUS_ADDRESS: %v", err)
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
	if tr, err = New(Options{}); err != nil {
		t.Fatal(err)
	}
	m := newFakeModel(testMenu(true))
	run := func(end func(context.CancelFunc)) error {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- tr.Serve(ctx, m) }()
		traytest.WaitOwner(t, client, name, true)
		c := traytest.NewMenuClient(t, client, name)
		c.Click(c.Root().Child(t, "web").Child(t, "Stop"))
		<-m.performed
		if err := c.Obj.Call("com.canonical.dbusmenu.AboutToShow", 0, int32(0)).Err; err != nil {
			t.Fatal(err)
		}
		end(cancel)
		select {
		case err := <-done:
			traytest.WaitOwner(t, client, name, false)
			if open, closed := <-m.opened, <-m.opened; !open || closed {
				t.Errorf("Opened(%v), then Opened(%v) when Serve ended; want true, false", open, closed)
			}
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("Serve did not return in 10s")
		}
		return nil
	}
	if err := run(func(cancel context.CancelFunc) { cancel() }); err != nil {
		t.Errorf("Serve after its context ended: %v", err)
	}
	// Serve again, and Quit.
	if err := run(func(context.CancelFunc) { tr.Quit() }); err != nil {
		t.Errorf("Serve after Quit: %v", err)
	}
	if err := tr.Serve(context.Background(), m); err != nil {
		t.Errorf("Serve once quit: %v", err)
	}
	if err := tr.Close(); err != nil {
		t.Error(err)
	}
	settle(t, base)

	// Closing the connection ends Serve with an error.
	tr, err = New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- tr.Serve(context.Background(), m) }()
	traytest.WaitOwner(t, client, name, true)
	tr.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Serve on a closed connection returned nil")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return 10s after Close")
	}
	settle(t, base)
}

// fakeTools puts shell scripts named like desktop tools first on PATH;
// each appends its arguments (one a line) and its input to log.
func fakeTools(t *testing.T, script string, names ...string) (log string) {
	t.Helper()
	dir := t.TempDir()
	log = filepath.Join(dir, "log")
	for _, n := range names {
		body := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done >>" + log + "\n" + script + "\n"
		if err := os.WriteFile(filepath.Join(dir, n), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir)
	return log
}

func readLog(t *testing.T, log string, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(log)
		if string(b) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the tool saw %q, want %q", b, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestEffectsRunTools(t *testing.T) {
	tr := &Tray{appName: "Berth", icon: "package-x-generic"}
	cat, err := exec.LookPath("cat")
	if err != nil {
		t.Fatal(err)
	}

	log := fakeTools(t, "", "xterm")
	if err := tr.OpenTerminal("web logs", []string{"berth", "logs", "-f", "web"}); err != nil {
		t.Fatal(err)
	}
	readLog(t, log, "-T\nweb logs\n-e\nberth\nlogs\n-f\nweb\n")

	dir := t.TempDir()
	log = fakeTools(t, cat+" >>"+filepath.Join(dir, "clip"), "xclip")
	t.Setenv("WAYLAND_DISPLAY", "")
	if err := tr.CopyText("10.0.0.2"); err != nil {
		t.Fatal(err)
	}
	readLog(t, log, "-selection\nclipboard\n")
	readLog(t, filepath.Join(dir, "clip"), "10.0.0.2")

	log = fakeTools(t, "", "xdg-open")
	if err := tr.OpenPath("/data dir"); err != nil {
		t.Fatal(err)
	}
	readLog(t, log, "/data dir\n")

	fakeTools(t, "printf '/a b.tar\\n/c.tar\\n'", "zenity")
	got, err := tr.PickFiles("Import")
	if err != nil || !reflect.DeepEqual(got, []string{"/a b.tar", "/c.tar"}) {
		t.Errorf("PickFiles = %q, %v", got, err)
	}
	fakeTools(t, "exit 1", "zenity")
	if got, err := tr.PickFiles("Import"); err != nil || got != nil {
		t.Errorf("PickFiles cancelled = %q, %v", got, err)
	}
	fakeTools(t, "echo broken >&2; exit 3", "zenity")
	if _, err := tr.PickFiles("Import"); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Errorf("PickFiles failing: %v", err)
	}

	t.Setenv("PATH", t.TempDir())
	for what, err := range map[string]error{
		"OpenTerminal": tr.OpenTerminal("x", []string{"true"}),
		"CopyText":     tr.CopyText("x"),
		"OpenPath":     tr.OpenPath("/"),
	} {
		if err == nil {
			t.Errorf("%s with no tool: no error", what)
		}
	}
	if _, err := tr.PickFiles("x"); err == nil {
		t.Error("PickFiles with no tool: no error")
	}
}

func TestLoginItem(t *testing.T) {
	tr := &Tray{appName: "Berth", icon: "package-x-generic"}
	cfg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfg)
	file := filepath.Join(cfg, "autostart", "berth.desktop")
	if s := tr.LoginItem(); s != viewmodel.LoginOff {
		t.Errorf("no entry: %s", s)
	}
	if err := tr.SetLoginItem(true); err != nil {
		t.Fatal(err)
	}
	if s := tr.LoginItem(); s != viewmodel.LoginOn {
		t.Errorf("after SetLoginItem(true): %s", s)
	}
	exe, _ := os.Executable()
	b, err := os.ReadFile(file)
	if err != nil || string(b) != desktopEntry("Berth", exe, "package-x-generic") {
		t.Errorf("the entry: %q, %v", b, err)
	}
	if err := os.WriteFile(file, append(b, "Hidden=true\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	if s := tr.LoginItem(); s != viewmodel.LoginOff {
		t.Errorf("a hidden entry: %s", s)
	}
	for range 2 {
		if err := tr.SetLoginItem(false); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after SetLoginItem(false) the entry is there: %v", err)
	}
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("HOME", "")
	if s := tr.LoginItem(); s != viewmodel.LoginUnavailable {
		t.Errorf("no config folder: %s", s)
	}
	if err := tr.SetLoginItem(true); err == nil {
		t.Error("SetLoginItem with no config folder: no error")
	}
}
