package tray

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/berthvm/berth/ui/viewmodel"
)

// Names and paths on the bus.
const (
	itemPath        dbus.ObjectPath = "/StatusNotifierItem"
	menuPath        dbus.ObjectPath = "/MenuBar"
	itemIface                       = "org.kde.StatusNotifierItem"
	menuIface                       = "com.canonical.dbusmenu"
	watcherName                     = "org.kde.StatusNotifierWatcher"
	watcherPath     dbus.ObjectPath = "/StatusNotifierWatcher"
	propsIface                      = "org.freedesktop.DBus.Properties"
	introIface                      = "org.freedesktop.DBus.Introspectable"
	defaultIcon                     = "package-x-generic" // a box: the freedesktop name every theme has
	callTimeout                     = 5 * time.Second     // for our calls to other clients of the bus
	dbusmenuVersion                 = uint32(3)
)

// Options configure a Tray.
type Options struct {
	// Conn is the bus to serve on; nil connects to the session bus at
	// DBUS_SESSION_BUS_ADDRESS (and Close closes it). A Conn given here
	// is left open by Close.
	Conn *dbus.Conn
	// AppName names the app in notifications and the autostart entry;
	// default "Berth".
	AppName string
	// IconName is the freedesktop icon name of the status item and of
	// notifications; default "package-x-generic".
	IconName string
}

// Tray is the menu as a StatusNotifierItem with a dbusmenu, and the
// platform's viewmodel.Effects.
type Tray struct {
	conn    *dbus.Conn
	ownConn bool
	appName string
	icon    string
	busName string // org.kde.StatusNotifierItem-<pid>-1
	log     *slog.Logger

	quitOnce sync.Once
	quit     chan struct{}
	serving  atomic.Bool

	// events carries clicks and open/close from the bus handlers to
	// Serve's goroutine.
	events chan event
	// ids is used by Serve's goroutine only.
	ids ids

	mu  sync.Mutex // guards what the bus handlers read
	lay *layout
	rev uint32
	sni sniState
	// live is closed when the current Serve ends; handlers waiting on
	// Serve give up then.
	live chan struct{}

	noteMu sync.Mutex // serialises notifications, guards below
	notes  map[string]uint32
	markup *bool // the server's body-markup capability, once known
}

var _ viewmodel.Effects = (*Tray)(nil)

// New connects to the bus (unless opts.Conn is set). Nothing is shown
// until Serve; Effects work at once.
func New(opts Options) (*Tray, error) {
	t := &Tray{
		conn:    opts.Conn,
		appName: opts.AppName,
		icon:    opts.IconName,
		busName: fmt.Sprintf("org.kde.StatusNotifierItem-%d-1", os.Getpid()),
		log:     slog.Default(),
		quit:    make(chan struct{}),
		events:  make(chan event),
		notes:   map[string]uint32{},
	}
	if t.appName == "" {
		t.appName = "Berth"
	}
	if t.icon == "" {
		t.icon = defaultIcon
	}
	if t.conn == nil {
		addr := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
		if addr == "" {
			return nil, errors.New("tray: DBUS_SESSION_BUS_ADDRESS is not set: the menu needs a desktop session's bus (run it from the desktop, or start one with dbus-run-session)")
		}
		conn, err := dbus.Connect(addr)
		if err != nil {
			return nil, fmt.Errorf("tray: connect to the session bus at %s: %w", addr, err)
		}
		t.conn, t.ownConn = conn, true
	}
	return t, nil
}

// Close closes the bus connection New opened, which also ends Serve.
func (t *Tray) Close() error {
	if !t.ownConn {
		return nil
	}
	return t.conn.Close()
}

// Quit ends Serve (viewmodel.Effects). The daemon keeps running.
func (t *Tray) Quit() { t.quitOnce.Do(func() { close(t.quit) }) }

// eventKind is what a bus client told us.
type eventKind int

const (
	evClick eventKind = iota
	evOpened
	evClosed
)

// event is a click or an open/close on its way to Serve's goroutine, which
// closes done once the Model has been told.
type event struct {
	kind   eventKind
	action viewmodel.Action
	done   chan struct{}
}

// send hands ev to Serve's goroutine and waits until the Model has been
// told, so that a client's Event call returns after Perform was called.
func (t *Tray) send(kind eventKind, action viewmodel.Action) {
	t.mu.Lock()
	live := t.live
	t.mu.Unlock()
	if live == nil {
		return
	}
	ev := event{kind: kind, action: action, done: make(chan struct{})}
	select {
	case t.events <- ev:
	case <-live:
		return
	}
	select {
	case <-ev.done:
	case <-live:
	}
}

// Serve shows m until ctx ends or Quit is called (it returns nil then), or
// the bus connection is lost (an error). It exports the status item and
// its menu, owns org.kde.StatusNotifierItem-<pid>-1, registers with the
// StatusNotifierWatcher whenever one is on the bus, re-renders on every
// m.Updates(), and calls m.Perform and m.Opened from this goroutine only
// (Opened only when the state changes, and Opened(false) on return if
// open). On return nothing of it is left on the bus. One Serve at a time;
// after Quit, Serve returns at once.
func (t *Tray) Serve(ctx context.Context, m viewmodel.Model) error {
	if !t.serving.CompareAndSwap(false, true) {
		return errors.New("tray: Serve is already running")
	}
	defer t.serving.Store(false)

	t.render(m.Menu(), false)
	sigs, stop, err := t.export()
	if err != nil {
		stop()
		return err
	}
	defer stop()
	t.register(ctx, true)

	updates := m.Updates()
	open := false
	setOpen := func(o bool) {
		if o != open {
			open = o
			m.Opened(o)
		}
	}
	defer setOpen(false) // a menu no longer served is closed
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.quit:
			return nil
		case <-t.conn.Context().Done():
			return errors.New("tray: the session bus connection was closed")
		case <-updates:
			t.render(m.Menu(), true)
		case ev := <-t.events:
			switch ev.kind {
			case evClick:
				m.Perform(ev.action)
			case evOpened:
				setOpen(true)
			case evClosed:
				setOpen(false)
			}
			close(ev.done)
		case sig, ok := <-sigs:
			if !ok {
				return errors.New("tray: the session bus connection was closed")
			}
			// NameOwnerChanged(name, old, new): a watcher came (back).
			if sig.Name == "org.freedesktop.DBus.NameOwnerChanged" && len(sig.Body) == 3 {
				name, _ := sig.Body[0].(string)
				owner, _ := sig.Body[2].(string)
				if name == watcherName && owner != "" {
					t.register(ctx, false)
				}
			}
		}
	}
}

// ownerChanged matches the bus's NameOwnerChanged for the watcher's name.
var ownerChanged = []dbus.MatchOption{
	dbus.WithMatchSender("org.freedesktop.DBus"),
	dbus.WithMatchObjectPath("/org/freedesktop/DBus"),
	dbus.WithMatchInterface("org.freedesktop.DBus"),
	dbus.WithMatchMember("NameOwnerChanged"),
	dbus.WithMatchArg(0, watcherName),
}

// export puts the status item and the menu on the bus, takes the item's
// name and subscribes to the watcher's comings and goings. stop undoes
// whatever was done, and is to be called even when export fails.
func (t *Tray) export() (sigs chan *dbus.Signal, stop func(), err error) {
	live := make(chan struct{})
	t.mu.Lock()
	t.live = live
	t.mu.Unlock()

	var undo []func()
	stop = func() {
		t.mu.Lock()
		t.live = nil
		t.mu.Unlock()
		close(live)
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	exp := func(v any, path dbus.ObjectPath, iface string) error {
		if err := t.conn.Export(v, path, iface); err != nil {
			return fmt.Errorf("tray: export %s at %s: %w", iface, path, err)
		}
		undo = append(undo, func() { _ = t.conn.Export(nil, path, iface) })
		return nil
	}
	for _, e := range []struct {
		v     any
		path  dbus.ObjectPath
		iface string
	}{
		{&dbusmenu{t}, menuPath, menuIface},
		{&properties{iface: menuIface, get: t.menuProps}, menuPath, propsIface},
		{introspectable(menuIntrospection), menuPath, introIface},
		{&statusItem{}, itemPath, itemIface},
		{&properties{iface: itemIface, get: t.itemProps}, itemPath, propsIface},
		{introspectable(itemIntrospection), itemPath, introIface},
	} {
		if err := exp(e.v, e.path, e.iface); err != nil {
			return nil, stop, err
		}
	}

	reply, err := t.conn.RequestName(t.busName, dbus.NameFlagDoNotQueue)
	if err != nil {
		return nil, stop, fmt.Errorf("tray: own %s: %w", t.busName, err)
	}
	if reply != dbus.RequestNameReplyPrimaryOwner && reply != dbus.RequestNameReplyAlreadyOwner {
		return nil, stop, fmt.Errorf("tray: %s is taken by another connection (is another Serve running in this process?)", t.busName)
	}
	undo = append(undo, func() { _, _ = t.conn.ReleaseName(t.busName) })

	if err := t.conn.AddMatchSignal(ownerChanged...); err != nil {
		return nil, stop, fmt.Errorf("tray: watch for a StatusNotifierWatcher: %w", err)
	}
	undo = append(undo, func() { _ = t.conn.RemoveMatchSignal(ownerChanged...) })
	sigs = make(chan *dbus.Signal, 16)
	t.conn.Signal(sigs)
	undo = append(undo, func() { t.conn.RemoveSignal(sigs) })
	return sigs, stop, nil
}

// register tells the StatusNotifierWatcher about the item, if one is on
// the bus (hosts show only registered items). Without one the item waits,
// invisible, until one appears.
func (t *Tray) register(ctx context.Context, first bool) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	call := t.conn.Object(watcherName, watcherPath).CallWithContext(ctx,
		watcherName+".RegisterStatusNotifierItem", dbus.FlagNoAutoStart, t.busName)
	var derr dbus.Error
	switch {
	case call.Err == nil:
	case ctx.Err() != nil: // Serve is ending
	case errors.As(call.Err, &derr) && (derr.Name == "org.freedesktop.DBus.Error.NameHasNoOwner" ||
		derr.Name == "org.freedesktop.DBus.Error.ServiceUnknown"):
		if first {
			t.log.Info("tray: no StatusNotifierWatcher on the session bus yet; the icon shows when a tray host starts (GNOME needs the AppIndicator extension)")
		}
	default:
		t.log.Warn("tray: register with the StatusNotifierWatcher", "err", call.Err)
	}
}

// render makes menu the one shown: a new layout revision when anything
// changed (with LayoutUpdated when emit), and the status item's signals
// for what changed of it.
func (t *Tray) render(menu viewmodel.Menu, emit bool) {
	lay := t.ids.build(menu.Items)
	sni := sniState{title: menu.Title, look: statusLook(menu.Icon, t.icon)}

	t.mu.Lock()
	changed := !lay.equal(t.lay)
	if changed {
		t.lay = lay
		t.rev++
	}
	rev := t.rev
	old := t.sni
	t.sni = sni
	t.mu.Unlock()
	if !emit {
		return
	}
	if changed {
		t.emit(menuPath, menuIface+".LayoutUpdated", rev, int32(0))
	}
	if sni.title != old.title {
		t.emit(itemPath, itemIface+".NewTitle")
		t.emit(itemPath, itemIface+".NewToolTip")
	}
	if sni.look.IconName != old.look.IconName {
		t.emit(itemPath, itemIface+".NewIcon")
	}
	if sni.look.OverlayIconName != old.look.OverlayIconName {
		t.emit(itemPath, itemIface+".NewOverlayIcon")
	}
	if sni.look.AttentionIconName != old.look.AttentionIconName {
		t.emit(itemPath, itemIface+".NewAttentionIcon")
	}
	if sni.look.Status != old.look.Status {
		t.emit(itemPath, itemIface+".NewStatus", sni.look.Status)
	}
}

func (t *Tray) emit(path dbus.ObjectPath, name string, body ...any) {
	if err := t.conn.Emit(path, name, body...); err != nil {
		t.log.Debug("tray: emit", "signal", name, "err", err)
	}
}

// current returns the layout shown and its revision.
func (t *Tray) current() (*layout, uint32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lay, t.rev
}

// properties is org.freedesktop.DBus.Properties for one interface whose
// properties are all read-only and computed on demand.
type properties struct {
	iface string
	get   func() map[string]dbus.Variant
}

func (p *properties) Get(iface, name string) (dbus.Variant, *dbus.Error) {
	all, derr := p.GetAll(iface)
	if derr != nil {
		return dbus.Variant{}, derr
	}
	v, ok := all[name]
	if !ok {
		return dbus.Variant{}, dbus.NewError("org.freedesktop.DBus.Error.UnknownProperty", []any{"no property " + name + " on " + iface})
	}
	return v, nil
}

func (p *properties) GetAll(iface string) (map[string]dbus.Variant, *dbus.Error) {
	if iface != p.iface && iface != "" {
		return nil, dbus.NewError("org.freedesktop.DBus.Error.UnknownInterface", []any{"no interface " + iface})
	}
	return p.get(), nil
}

func (p *properties) Set(iface, name string, _ dbus.Variant) *dbus.Error {
	return dbus.NewError("org.freedesktop.DBus.Error.PropertyReadOnly", []any{strings.TrimPrefix(iface+"."+name, ".") + " is read-only"})
}

// introspectable answers Introspect with fixed XML.
type introspectable string

func (i introspectable) Introspect() (string, *dbus.Error) { return string(i), nil }
