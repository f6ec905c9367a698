// Package tray renders the menu-bar view model (ui/viewmodel) on Linux as a
// desktop tray, over the session bus:
//
//   - a StatusNotifierItem (org.kde.StatusNotifierItem) at /StatusNotifierItem,
//     under the bus name org.kde.StatusNotifierItem-<pid>-1, registered with
//     org.kde.StatusNotifierWatcher whenever one is on the bus;
//   - its menu, exported with com.canonical.dbusmenu at /MenuBar;
//   - desktop notifications through org.freedesktop.Notifications.
//
// A *Tray is also the presenter's viewmodel.Effects on Linux: notifications,
// a terminal, the clipboard, xdg-open, a file picker (zenity or kdialog) and
// an XDG autostart entry for launch at login.
//
// It owns nothing but what it shows: it never talks to the daemon, never
// decides what the menu holds or what a click does (the Model does), and
// keeps no state beyond the dbusmenu ids of the items it shows and the
// notification ids it may replace.
//
// # Files
//
// The pure parts are portable and table-tested on any OS: menu.go maps a
// viewmodel.Menu to dbusmenu items (ids, properties, labels), effects.go
// chooses commands and writes the autostart entry's text. Everything that
// touches the bus or runs programs is in _linux.go files; on macOS the
// package holds only the pure parts (ui/menubar renders there).
//
// # Why godbus directly, not fyne.io/systray
//
// fyne.io/systray (v1.12.2, read for this decision) also speaks
// StatusNotifierItem and dbusmenu over godbus, but its model does not fit a
// menu rebuilt from data on every update:
//
//   - Its state is package-global (one menu, one connection from
//     dbus.SessionBus(), a quit channel closed once), so a process gets one
//     tray for its lifetime, and tests cannot run a tray per private bus.
//   - Item ids come from a global counter as items are added; rebuilding
//     (ResetMenu, then Add...) gives every row a new id. We need an item to
//     keep its id while it exists (a client holding the layout must click
//     the right container), so ids must be ours, keyed by Item.ID.
//   - A click is a send on the item's unbuffered ClickedCh with a default
//     case: it is dropped unless a goroutine is waiting on that channel.
//     Disabled items are not filtered. We want a click to be data (the
//     item's Action) handed to Model.Perform, and nothing else.
//   - Errors are logged with log.Printf and not returned; the icon is pixel
//     data, not a theme icon name; it has no notifications.
//
// godbus gives the same protocol with everything in our hands: the layout
// is a value rebuilt from the Menu, GetLayout serves it, ids are stable, and
// Serve's lifetime (export, own the name, unexport) is one function's.
//
// # Threads
//
// godbus runs each incoming method call on its own goroutine. Handlers only
// read the current layout (under a mutex) and hand clicks and open/close
// events to Serve's goroutine, which is the only one calling the Model, as
// viewmodel.Model asks of a renderer's "UI thread".
package tray
