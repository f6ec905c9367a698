package menubar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/progrium/darwinkit/dispatch"
	"github.com/progrium/darwinkit/helper/action"
	"github.com/progrium/darwinkit/macos/appkit"
	"github.com/progrium/darwinkit/macos/foundation"
	"github.com/progrium/darwinkit/objc"

	"github.com/berthvm/berth/ui/viewmodel"
)

// AppKit runs on the main thread only, and the main goroutine starts on
// it: keep it there, so that Run, called from main, is on the main thread.
func init() { runtime.LockOSThread() }

// The portable constants are AppKit's (compile-time checks: an index out
// of range, or a constant overflow, if one differs).
var (
	_ = [1]struct{}{}[uint(appkit.EventModifierFlagShift)-maskShift]
	_ = [1]struct{}{}[uint(appkit.EventModifierFlagControl)-maskControl]
	_ = [1]struct{}{}[uint(appkit.EventModifierFlagOption)-maskOption]
	_ = [1]struct{}{}[uint(appkit.EventModifierFlagCommand)-maskCommand]
	_ = [1]struct{}{}[int(appkit.ControlStateValueOff)-stateOff]
	_ = [1]struct{}{}[int(appkit.ControlStateValueOn)-stateOn]
)

// A duplicate key, so a compile error, unless the image names are AppKit's.
var _ = map[bool]int{
	appkit.ImageNameStatusAvailable == imageStatusAvailable &&
		appkit.ImageNameStatusPartiallyAvailable == imageStatusPartiallyAvailable &&
		appkit.ImageNameStatusUnavailable == imageStatusUnavailable &&
		appkit.ImageNameStatusNone == imageStatusNone: 0,
	false: 1,
}

// App is Berth's status item and its menu on macOS, and the macOS Effects.
// Create it with New, start it with Run on the main goroutine.
type App struct {
	opts Options

	started atomic.Bool
	ended   chan struct{} // closed when Run returns
	stop    sync.Once

	placeOnce sync.Once
	bundled   bool // Berth.app's main executable: UserNotifications and SMAppService work
	noteSeq   atomic.Uint64

	// Set by Run before the run loop starts; read-only afterwards.
	model viewmodel.Model
	app   appkit.Application

	// Main thread only. The status item and the menu are retained for the
	// app's lifetime: a released status item disappears.
	item   appkit.StatusItem
	menu   appkit.Menu
	look   status
	shown  []spec                     // the current build
	native map[string]appkit.MenuItem // the current build's items by ID; dropped at each rebuild
}

var _ viewmodel.Effects = (*App)(nil)

// New returns the menu-bar app; nothing is shown until Run. Its Effects may
// be used before Run: those that need the main thread wait until Run
// starts the run loop.
func New(opts Options) *App {
	return &App{opts: opts, ended: make(chan struct{})}
}

var (
	errNotMainThread = errors.New("menubar: Run must be called on the main goroutine (the main thread; package menubar locks it in init)")
	errRunTwice      = errors.New("menubar: Run was already called")
	errEnded         = errors.New("menubar: the menu bar has quit")
)

// Run shows the status item and its menu, built from m.Menu() and rebuilt
// on every m.Updates(), until Quit or until ctx ends (then it returns
// ctx's error). Clicks call m.Perform, the menu's opening and closing
// m.Opened, files dropped on the status item m.Drop. Call it once, on the
// main goroutine.
func (a *App) Run(ctx context.Context, m viewmodel.Model) error {
	if !isMainThread() {
		return errNotMainThread
	}
	if !a.started.CompareAndSwap(false, true) {
		return errRunTwice
	}
	defer close(a.ended)
	a.model = m
	running.Store(a)
	defer running.CompareAndSwap(a, nil)

	if p := inPool(a.setUp); p != nil {
		return fmt.Errorf("menubar: set up the status item: %v", p)
	}
	pumpCtx, stopPump := context.WithCancel(ctx)
	defer stopPump()
	go pump(pumpCtx, m.Updates(), a.post, a.render)
	go func() {
		select {
		case <-ctx.Done():
			a.Quit()
		case <-a.ended:
		}
	}()

	a.app.Run() // until Quit: [NSApp stop:]

	if p := inPool(func() { appkit.StatusBar_SystemStatusBar().RemoveStatusItem(a.item) }); p != nil {
		slog.Error("menubar: remove the status item", "panic", p)
	}
	return ctx.Err()
}

// setUp makes the status item and its menu (main thread, before the run
// loop).
func (a *App) setUp() {
	a.app = appkit.Application_SharedApplication()
	// An unbundled executable defaults to the Prohibited policy; Accessory
	// is what LSUIElement gives Berth.app: no Dock icon, no main menu.
	a.app.SetActivationPolicy(appkit.ApplicationActivationPolicyAccessory)

	a.item = appkit.StatusBar_SystemStatusBar().StatusItemWithLength(appkit.VariableStatusItemLength)
	a.item.Retain()
	a.menu = appkit.NewMenuWithTitle(a.opts.appName())
	a.menu.Retain()
	a.menu.SetAutoenablesItems(false)
	a.item.SetMenu(a.menu)

	a.observeMenu()
	a.installDropTarget()
	if a.inApp() {
		notifySetUp()
	}
	a.render()
}

// observeMenu tells the model when the menu opens and closes, from
// NSMenu's tracking notifications (action.Wrap's target is an
// Objective-C object, no closure; it is never released: the
// notification center does not retain its observers).
func (a *App) observeMenu() {
	nc := foundation.NotificationCenter_DefaultCenter()
	for _, open := range []bool{true, false} {
		target, sel := action.Wrap(func(objc.Object) {
			defer recovered("menu tracking")
			a.model.Opened(open)
		})
		nc.AddObserverSelectorNameObject(target, sel, foundation.NotificationName(menuTrackingName(open)), a.menu)
	}
}

// installDropTarget registers the status button's window for dragged file
// URLs, with bridge_darwin.m's BerthDropTarget as its delegate.
func (a *App) installDropTarget() {
	win := a.item.Button().Window()
	if win.IsNil() {
		slog.Warn("menubar: the status item has no window: dropping files on it is off")
		return
	}
	win.RegisterForDraggedTypes([]appkit.PasteboardType{appkit.PasteboardTypeFileURL})
	win.SetDelegateObject(objc.ObjectFrom(dropTarget()))
}

// inPool runs f in an autorelease pool and returns what f panicked with,
// if it did: the panic is recovered inside the pool, so that it never
// unwinds through the pool's Objective-C frame.
func inPool(f func()) (panicked any) {
	objc.WithAutoreleasePool(func() {
		defer func() { panicked = recover() }()
		f()
	})
	return panicked
}

// post runs f on the main queue, logging its panics.
func (a *App) post(f func()) {
	dispatch.MainQueue().DispatchAsync(func() {
		if p := inPool(f); p != nil {
			slog.Error("menubar: panic in a main-queue task", "panic", p)
		}
	})
}

// onMain runs f on the main thread and waits for it: at once when called
// there, else through the main queue, which runs once Run has started the
// run loop. It gives up with errEnded when Run has returned.
func (a *App) onMain(f func()) error {
	var p any
	if isMainThread() {
		p = inPool(f)
	} else {
		done := make(chan any, 1)
		dispatch.MainQueue().DispatchAsync(func() { done <- inPool(f) })
		select {
		case p = <-done:
		case <-a.ended:
			return errEnded
		}
	}
	if p != nil {
		slog.Error("menubar: panic on the main thread", "panic", p)
		return errors.New("menubar: internal error on the main thread")
	}
	return nil
}

// render shows the model's menu now (main thread).
func (a *App) render() {
	defer recovered("render")
	m := a.model.Menu()
	if st := statusFor(m, a.opts.appName()); st != a.look {
		a.showStatus(st)
		a.look = st
	}
	specs := specsFor(m.Items)
	if changed, ok := patch(a.shown, specs); ok {
		for _, s := range changed {
			if it, found := a.native[s.ID]; found {
				a.apply(it, s)
			}
		}
	} else {
		a.menu.RemoveAllItems()
		a.native = map[string]appkit.MenuItem{}
		for _, s := range specs {
			a.menu.AddItem(a.nativeItem(s))
		}
	}
	a.shown = specs
}

func (a *App) showStatus(st status) {
	button := a.item.Button()
	img := symbolImage(st.Symbol, st.Tooltip)
	if img.IsNil() {
		img = symbolImage(st.Fallback, st.Tooltip)
	}
	if img.IsNil() {
		button.SetImage(nil)
		button.SetTitle(st.Text)
	} else {
		img.SetTemplate(true) // drawn in the menu bar's colours
		button.SetImage(img)
		button.SetTitle("")
	}
	button.SetToolTip(st.Tooltip)
}

// symbolImage is the SF Symbol name, or a nil image if this macOS has no
// such symbol.
func symbolImage(name, description string) appkit.Image {
	if name == "" {
		return appkit.Image{}
	}
	return appkit.Image_ImageWithSystemSymbolNameAccessibilityDescription(name, description)
}

// nativeItem makes the NSMenuItem of s (and its submenu's), recording
// each in a.native by ID.
func (a *App) nativeItem(s spec) appkit.MenuItem {
	if s.Separator {
		return appkit.MenuItem_SeparatorItem()
	}
	var it appkit.MenuItem
	if s.Action != nil {
		act := *s.Action
		// helper/action: an Objective-C target calling this Go func
		// through a cgo handle (no libffi closure).
		it = appkit.NewMenuItemWithAction(s.Title, s.Key, func(objc.Object) {
			defer recovered("menu click")
			a.model.Perform(act)
		})
	} else {
		it = appkit.NewMenuItemWithSelector(s.Title, s.Key, objc.Selector{})
	}
	it.SetKeyEquivalentModifierMask(appkit.EventModifierFlags(s.Mask))
	if s.Alternate {
		it.SetAlternate(true)
	}
	a.apply(it, s)
	if s.HasSubmenu {
		sub := appkit.NewMenuWithTitle(s.Title)
		sub.SetAutoenablesItems(false)
		for _, c := range s.Submenu {
			sub.AddItem(a.nativeItem(c))
		}
		it.SetSubmenu(sub)
	}
	if s.ID != "" {
		a.native[s.ID] = it
	}
	return it
}

// apply sets what may change on an existing item (see patch).
func (a *App) apply(it appkit.MenuItem, s spec) {
	it.SetTitle(s.Title)
	it.SetEnabled(s.Enabled)
	it.SetState(appkit.ControlStateValue(s.State))
	it.SetToolTip(s.Tooltip)
	var img appkit.Image
	switch {
	case s.Image.Named != "":
		img = appkit.Image_ImageNamed(appkit.ImageName(s.Image.Named))
	case s.Image.Symbol != "":
		img = symbolImage(s.Image.Symbol, s.Title)
		if !img.IsNil() {
			img.SetTemplate(true)
		}
	}
	if img.IsNil() {
		it.SetImage(nil)
	} else {
		it.SetImage(img)
	}
}

// Quit ends Run: [NSApp stop:], then an empty application-defined event
// so that the run loop notices at once. The daemon and its containers keep
// running (a VerbQuitStopAll stops them before, in the presenter).
func (a *App) Quit() {
	if !a.started.Load() {
		return
	}
	a.stop.Do(func() {
		a.post(func() {
			a.app.Stop(nil)
			ev := appkit.Event_OtherEventWithTypeLocationModifierFlagsTimestampWindowNumberContextSubtypeData1Data2(
				appkit.EventTypeApplicationDefined, foundation.Point{}, 0, 0, 0, nil, 0, 0, 0)
			a.app.PostEventAtStart(ev, true)
		})
	})
}

// inApp reports whether this process is Berth.app's main executable
// (inAppBundle), deciding once.
func (a *App) inApp() bool {
	a.placeOnce.Do(func() {
		exe, err := os.Executable()
		if err != nil {
			return
		}
		if p := inPool(func() {
			b := foundation.Bundle_MainBundle()
			if !b.IsNil() {
				a.bundled = inAppBundle(b.BundleIdentifier(), b.BundlePath(), exe)
			}
		}); p != nil {
			slog.Error("menubar: read the main bundle", "panic", p)
		}
	})
	return a.bundled
}
