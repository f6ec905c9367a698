// Package ui is where Berth's menu-bar user interface will live: the menu
// as plain data built from the daemon's state, rendered with AppKit on
// macOS and as a DBus tray on Linux, talking to the core only through
// core/client. None of it is built yet; this package holds no code.
package ui
