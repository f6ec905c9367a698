// Package menubar renders the view model's menu (ui/viewmodel) as a macOS
// status item with AppKit, through darwinkit v0.5.0, and implements the
// view model's Effects on macOS (notifications, Terminal, the clipboard,
// Finder, the open panel, the login item, quitting).
//
// Every decision is made in this package's portable files and tested on
// Linux: what each Item becomes as a native menu item (spec.go: title,
// image, key equivalent and modifier mask, enabled, state, alternate,
// submenu), when a new menu can be patched in place rather than rebuilt,
// the status item's look, the scripts and commands for Terminal and
// osascript notifications with their quoting, whether this process may use
// UserNotifications and SMAppService (only from Berth.app's main
// executable), and how model updates become renders on the main thread
// (pump.go). The _darwin.go files only translate those answers into AppKit
// calls; they are type-checked on Linux (make darwin-check), never run
// there.
//
// darwinkit v0.5.0 built with Go 1.25 or later aborts in every libffi
// closure that AppKit calls (darwinkit issue 286): RunApp's app delegate,
// delegates set from Go, classes and methods made at run time from Go
// funcs, Go blocks, and generated methods that take a Go func. This
// package uses none of them: only generated methods, objc.Call, helper/action
// (NewMenuItemWithAction, action.Wrap), dispatch.MainQueue and autorelease
// pools. What needs a real Objective-C class or block — the status button's
// drop target, the UserNotifications delegate, authorization and posting —
// is in bridge_darwin.m, which calls back into Go through //export
// functions in bridge_darwin.go. The Objective-C classes and selectors that
// the Go code names in strings are listed in objcnames.go.
//
// It does no daemon I/O and keeps no state of its own beyond the native
// objects of the current menu: ui/presenter owns the model.
package menubar
