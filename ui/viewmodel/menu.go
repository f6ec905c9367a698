package viewmodel

import (
	"fmt"
	"strings"
)

// Menu is the whole menu-bar menu as plain data: what the status item
// shows and the items under it. Renderers (AppKit on macOS, the DBus tray
// on Linux, `berth menu` as text) only translate it.
type Menu struct {
	// Title is the status item's tooltip and accessibility title.
	Title string
	// Icon is the status item's look.
	Icon Icon
	// Items are the menu's rows, top to bottom.
	Items []Item
}

// Icon is the status item's look: the daemon's health at a glance.
type Icon string

const (
	IconIdle    Icon = "idle"    // running, nothing to say
	IconBusy    Icon = "busy"    // a long action is under way
	IconProblem Icon = "problem" // the daemon is down or unreachable
)

// Kind is what an item is.
type Kind string

const (
	// KindLabel is text: a status line, a fact. Never clickable.
	KindLabel Kind = "label"
	// KindHeader titles a section. Never clickable.
	KindHeader Kind = "header"
	// KindAction does Action when clicked (if Enabled).
	KindAction Kind = "action"
	// KindToggle is an action with a check mark (Checked).
	KindToggle Kind = "toggle"
	// KindSubmenu opens Children beside it.
	KindSubmenu Kind = "submenu"
	// KindSeparator is a line between groups.
	KindSeparator Kind = "separator"
)

// Dot is a status dot before an item's title.
type Dot string

const (
	DotNone   Dot = ""
	DotGreen  Dot = "green"  // running
	DotYellow Dot = "yellow" // on its way: starting, stopping
	DotRed    Dot = "red"    // failed: died, exited non-zero
	DotGrey   Dot = "grey"   // stopped cleanly, created
)

// Mods are the modifier keys of a key equivalent.
type Mods uint8

const (
	ModCommand Mods = 1 << iota
	ModOption
	ModShift
	ModControl
)

// Item is one row. Everything a renderer needs is here; what it does when
// clicked is data (Action), never a closure, so a menu can be compared,
// printed and clicked from tests.
type Item struct {
	// ID is stable across rebuilds ("container/<id>/stop"): renderers keep
	// their native items by it, tests and `berth menu --click` find items
	// by it.
	ID    string
	Kind  Kind
	Title string
	// Detail is secondary text after the title (an image, an uptime).
	Detail string
	Dot    Dot
	// Symbol names an SF Symbol on macOS ("play.fill"); renderers without
	// symbols ignore it.
	Symbol  string
	Enabled bool
	Checked bool
	// Key is the key equivalent ("q"), with Mods.
	Key  string
	Mods Mods
	// Tooltip is shown on hover.
	Tooltip string
	// Alternate marks an item shown in place of the item before it while
	// the Option key is held (macOS: Stop becomes Kill). Renderers without
	// modifier keys show it as its own row.
	Alternate bool
	// Action is what a click does (KindAction, KindToggle).
	Action *Action
	// Children are a submenu's items.
	Children []Item
}

// Verb is what an action does.
type Verb string

// The verbs. Target is a container id for the container verbs, a note kind
// for VerbToggleNote; Paths the files for VerbImport.
const (
	VerbStart          Verb = "start"
	VerbStop           Verb = "stop"
	VerbKill           Verb = "kill"
	VerbRestart        Verb = "restart"
	VerbRemove         Verb = "remove"
	VerbLogs           Verb = "logs"    // a terminal on `berth logs -f`
	VerbShell          Verb = "shell"   // a terminal on `berth exec -it … sh`
	VerbCopyIP         Verb = "copy-ip" // the container's address to the clipboard
	VerbRunDemo        Verb = "run-demo"
	VerbImport         Verb = "import" // Paths, or a file picker when none
	VerbStartDaemon    Verb = "start-daemon"
	VerbOpenData       Verb = "open-data"     // the data folder
	VerbOpenLog        Verb = "open-log"      // the daemon's log
	VerbToggleLogin    Verb = "toggle-login"  // launch at login
	VerbToggleNote     Verb = "toggle-note"   // notifications of kind Target
	VerbQuit           Verb = "quit"          // containers keep running
	VerbQuitStopAll    Verb = "quit-stop-all" // stop every container, then quit
	VerbInstallRosetta Verb = "install-rosetta"
)

// Action is what a click does, as data.
type Action struct {
	Verb   Verb     `json:"verb"`
	Target string   `json:"target,omitempty"`
	Paths  []string `json:"paths,omitempty"`
}

func (a Action) String() string {
	s := string(a.Verb)
	if a.Target != "" {
		s += " " + a.Target
	}
	for _, p := range a.Paths {
		s += " " + p
	}
	return s
}

// Find returns the item with id, searching submenus too.
func (m Menu) Find(id string) (Item, bool) { return find(m.Items, id) }

func find(items []Item, id string) (Item, bool) {
	for _, it := range items {
		if it.ID == id {
			return it, true
		}
		if got, ok := find(it.Children, id); ok {
			return got, true
		}
	}
	return Item{}, false
}

// Walk calls fn for every item, depth first, with its depth.
func (m Menu) Walk(fn func(it Item, depth int)) { walk(m.Items, 0, fn) }

func walk(items []Item, depth int, fn func(Item, int)) {
	for _, it := range items {
		fn(it, depth)
		walk(it.Children, depth+1, fn)
	}
}

// Text prints the menu as an indented tree: `berth menu`, golden tests and
// support. A dot prints as ● (green), ◐ (yellow), ✕ (red) or ○ (grey);
// a disabled action ends in "(disabled)", a checked toggle starts with ✓,
// an Option-key alternate with ⌥, a key equivalent follows in brackets.
// With ids, each clickable row ends with its id.
func (m Menu) Text(ids bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", m.Title)
	m.Walk(func(it Item, depth int) {
		indent := strings.Repeat("  ", depth)
		if it.Kind == KindSeparator {
			fmt.Fprintf(&b, "%s----\n", indent)
			return
		}
		line := it.Title
		if it.Detail != "" {
			line += "  " + it.Detail
		}
		if g := dotGlyph[it.Dot]; g != "" {
			line = g + " " + line
		}
		switch it.Kind {
		case KindToggle:
			box := "☐ "
			if it.Checked {
				box = "✓ "
			}
			line = box + line
		case KindHeader:
			line = strings.ToUpper(line)
		case KindSubmenu:
			line += " ▸"
		}
		if it.Alternate {
			line = "⌥ " + line
		}
		if it.Key != "" {
			line += " [" + modText(it.Mods) + strings.ToUpper(it.Key) + "]"
		}
		clickable := it.Kind == KindAction || it.Kind == KindToggle
		if clickable && !it.Enabled {
			line += " (disabled)"
		}
		if ids && clickable {
			line += "  #" + it.ID
		}
		fmt.Fprintf(&b, "%s%s\n", indent, line)
	})
	return b.String()
}

var dotGlyph = map[Dot]string{DotGreen: "●", DotYellow: "◐", DotRed: "✕", DotGrey: "○"}

func modText(m Mods) string {
	var s string
	for _, x := range []struct {
		mod  Mods
		text string
	}{{ModControl, "⌃"}, {ModOption, "⌥"}, {ModShift, "⇧"}, {ModCommand, "⌘"}} {
		if m&x.mod != 0 {
			s += x.text
		}
	}
	return s
}
