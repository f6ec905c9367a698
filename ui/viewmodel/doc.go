// Package viewmodel is the menu-bar app as plain data: the State it shows
// (daemon, containers, images, host, jobs, settings), the Menu built from
// it (Build: every item is data, its click an Action), the notifications
// decided from events (Decide), and which dropped files are images
// (Classify). It does no I/O and knows no platform: ui/presenter keeps the
// State live from the daemon and carries out Actions; ui/tray (Linux) and
// ui/menubar (macOS) render a Menu and implement Effects.
package viewmodel
