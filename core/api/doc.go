// Package api holds the plain types every other Berth package shares:
// containers, images, capabilities, events, and the sentinel errors that
// cross the daemon's socket.
//
// It imports nothing from the rest of Berth and nothing platform specific,
// so the CLI, the menu-bar app and every backend can depend on it. It must
// not grow behaviour beyond small helpers on its own types.
package api
