// Package ui groups the menu-bar app. ui/viewmodel is the menu as plain
// data (Build, notifications, the renderer contract); ui/presenter keeps it
// live from the daemon and carries out its actions; ui/tray renders it as a
// StatusNotifierItem with a dbusmenu on Linux, ui/menubar as an AppKit
// status item on macOS. The app reaches the core only through core/client.
package ui
