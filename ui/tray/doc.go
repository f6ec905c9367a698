// Package tray will render the menu-bar view model (ui/viewmodel) on Linux
// as a desktop tray over the session bus: a StatusNotifierItem whose menu is
// a com.canonical.dbusmenu, and freedesktop notifications. What exists so
// far are the pure parts, portable and table-tested: menu.go maps a
// viewmodel.Menu to dbusmenu items (stable ids, properties, labels),
// effects.go chooses the commands behind viewmodel.Effects (terminal,
// clipboard, xdg-open, file picker) and writes the autostart entry's text.
package tray
