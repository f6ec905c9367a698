package tray

import (
	"reflect"
	"strconv"
	"strings"

	"github.com/berthvm/berth/ui/viewmodel"
)

// node is one dbusmenu item as data: its id, its properties (plain Go
// values: string, bool, int32, [][]string), what a click does, its
// children. The root is id 0.
type node struct {
	id    int32
	props map[string]any
	// action is what a click performs; nil when a click does nothing
	// (labels, headers, separators, submenus, disabled items).
	action   *viewmodel.Action
	children []*node
}

// layout is one rendering of a Menu: the tree and every node by id.
type layout struct {
	root *node
	byID map[int32]*node
}

// equal reports whether two layouts show the same thing: the same ids in
// the same places with the same properties and actions.
func (l *layout) equal(o *layout) bool {
	if l == nil || o == nil {
		return l == o
	}
	return reflect.DeepEqual(l.root, o.root)
}

// ids gives every item a dbusmenu id that it keeps for as long as it is in
// the menu, across rebuilds: an item is known by its Item.ID or, when it
// has none (separators) or repeats one, as the one after its predecessor.
// Ids are never reused, so an id from an old layout never reaches another
// item. The zero value is ready; 0 is the root's.
type ids struct {
	next  int32
	byKey map[string]int32
}

// build renders items as a layout, allocating ids for new items and
// forgetting the ids of items that are gone.
func (a *ids) build(items []viewmodel.Item) *layout {
	l := &layout{byID: map[int32]*node{}}
	seen := map[string]int32{}
	l.root = &node{id: 0, props: map[string]any{"children-display": "submenu"}}
	l.byID[0] = l.root
	l.root.children = a.nodes(items, "", seen, l)
	a.byKey = seen
	return l
}

func (a *ids) nodes(items []viewmodel.Item, parent string, seen map[string]int32, l *layout) []*node {
	out := make([]*node, 0, len(items))
	prev := parent + "\x00first"
	for i, it := range items {
		key := it.ID
		if _, dup := seen[key]; key == "" || dup {
			// After the item before it: a separator keeps its id when
			// rows are added elsewhere.
			key = prev + "\x00next"
			if _, dup := seen[key]; dup {
				key = parent + "\x00#" + strconv.Itoa(i)
			}
		}
		prev = key
		id, ok := a.byKey[key]
		if !ok {
			a.next++
			id = a.next
		}
		seen[key] = id
		n := &node{id: id, props: itemProps(it)}
		if clickable(it) {
			act := *it.Action
			n.action = &act
		}
		n.children = a.nodes(it.Children, key, seen, l)
		l.byID[id] = n
		out = append(out, n)
	}
	return out
}

// clickable reports whether clicking it performs its Action: enabled
// actions and toggles only.
func clickable(it viewmodel.Item) bool {
	return (it.Kind == viewmodel.KindAction || it.Kind == viewmodel.KindToggle) &&
		it.Enabled && it.Action != nil
}

// itemProps maps an item to dbusmenu properties. Defaults the
// specification defines (type "standard", no icon, no toggle) are left out;
// label, enabled and visible are always present, so a client filtering on
// them always finds them.
//
//   - label: Title, then Detail after two spaces, underscores doubled
//     (dbusmenu reads "_x" as a mnemonic).
//   - enabled: actions and toggles by Enabled; a submenu when it has
//     children (viewmodel.Menu.Text never shows a submenu as disabled);
//     labels and headers never (they are text, not commands).
//   - type "separator" for separators, which carry nothing else.
//   - toggle-type "checkmark" and toggle-state 0/1 for toggles.
//   - children-display "submenu" for submenus.
//   - icon-name for the status Dot (dotIcons).
//   - shortcut for a key equivalent; accessible-desc for the tooltip.
//
// An Alternate item (macOS shows it while Option is held) is its own row:
// Linux menus have no modifier-dependent items.
func itemProps(it viewmodel.Item) map[string]any {
	if it.Kind == viewmodel.KindSeparator {
		return map[string]any{"type": "separator", "visible": true}
	}
	label := it.Title
	if it.Detail != "" {
		label += "  " + it.Detail
	}
	p := map[string]any{
		"label":   escapeLabel(label),
		"enabled": false,
		"visible": true,
	}
	switch it.Kind {
	case viewmodel.KindAction:
		p["enabled"] = it.Enabled
	case viewmodel.KindToggle:
		p["enabled"] = it.Enabled
		p["toggle-type"] = "checkmark"
		p["toggle-state"] = int32(0)
		if it.Checked {
			p["toggle-state"] = int32(1)
		}
	case viewmodel.KindSubmenu:
		p["enabled"] = len(it.Children) > 0
		p["children-display"] = "submenu"
	}
	if icon := dotIcons[it.Dot]; icon != "" {
		p["icon-name"] = icon
	}
	if sc := shortcut(it.Key, it.Mods); sc != nil {
		p["shortcut"] = sc
	}
	if it.Tooltip != "" {
		p["accessible-desc"] = it.Tooltip
	}
	return p
}

// dotIcons are the theme icons for status dots: the freedesktop "user-*"
// presence icons, which Adwaita (legacy, in colour: a green, yellow, red
// and grey bubble) and Breeze both ship. Symbolic icons (media-record-symbolic,
// emblem-ok-symbolic) are recoloured to the menu's text colour and would
// lose the one thing a dot says.
var dotIcons = map[viewmodel.Dot]string{
	viewmodel.DotGreen:  "user-available", // running
	viewmodel.DotYellow: "user-away",      // starting, stopping
	viewmodel.DotRed:    "user-busy",      // failed
	viewmodel.DotGrey:   "user-offline",   // stopped, created
}

// escapeLabel doubles underscores: dbusmenu marks a mnemonic with "_", and
// container names are full of them.
func escapeLabel(s string) string { return strings.ReplaceAll(s, "_", "__") }

// shortcut is dbusmenu's form of a key equivalent: one chord of modifier
// names then the key. The Command key of macOS is Control here.
func shortcut(key string, mods viewmodel.Mods) [][]string {
	if key == "" {
		return nil
	}
	var chord []string
	if mods&(viewmodel.ModCommand|viewmodel.ModControl) != 0 {
		chord = append(chord, "Control")
	}
	if mods&viewmodel.ModOption != 0 {
		chord = append(chord, "Alt")
	}
	if mods&viewmodel.ModShift != 0 {
		chord = append(chord, "Shift")
	}
	return [][]string{append(chord, key)}
}

// look is how the status item shows a Menu.Icon.
type look struct {
	Status            string // Active or NeedsAttention
	IconName          string
	OverlayIconName   string
	AttentionIconName string
}

// Icons the status item uses besides the application's own.
const (
	busyOverlayIcon = "emblem-synchronizing" // a long action is under way
	problemIcon     = "dialog-warning"       // the daemon is down or unreachable
)

// statusLook maps the menu's icon to the status item's: the application's
// icon (base) when all is well, with a synchronizing emblem while busy; a
// warning icon and NeedsAttention when there is a problem. The warning
// replaces the icon itself (not only AttentionIconName) because some hosts
// ignore NeedsAttention.
func statusLook(icon viewmodel.Icon, base string) look {
	switch icon {
	case viewmodel.IconBusy:
		return look{Status: "Active", IconName: base, OverlayIconName: busyOverlayIcon}
	case viewmodel.IconProblem:
		return look{Status: "NeedsAttention", IconName: problemIcon, AttentionIconName: problemIcon}
	}
	return look{Status: "Active", IconName: base}
}
