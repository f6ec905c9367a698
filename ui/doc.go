// Package ui groups the menu-bar user interface: ui/viewmodel (portable,
// tested: the whole menu as plain data) and ui/menubar (darwin: renders the
// view model with darwinkit). The UI talks to the core only through the
// daemon API client, never through core internals.
package ui
