package menubar

import (
	"slices"
	"strings"

	"github.com/berthvm/berth/ui/viewmodel"
)

// Options configure the menu-bar app.
type Options struct {
	// AppName names the app where macOS shows a name: the status item's
	// fallback title and accessibility text, the osascript notification's
	// default title. Default "Berth".
	AppName string
}

func (o Options) appName() string {
	if o.AppName == "" {
		return "Berth"
	}
	return o.AppName
}

// NSEventModifierFlags values (AppKit's NSEvent.h; the darwin build checks
// them against darwinkit's constants at compile time).
const (
	maskShift   uint = 1 << 17
	maskControl uint = 1 << 18
	maskOption  uint = 1 << 19
	maskCommand uint = 1 << 20
)

// NSControlStateValue values.
const (
	stateOff = 0
	stateOn  = 1
)

// NSImageName values of AppKit's status dots (the darwin build checks them
// against darwinkit's constants).
const (
	imageStatusAvailable          = "NSStatusAvailable"
	imageStatusPartiallyAvailable = "NSStatusPartiallyAvailable"
	imageStatusUnavailable        = "NSStatusUnavailable"
	imageStatusNone               = "NSStatusNone"
)

// dotImage maps a status dot to AppKit's built-in status image.
var dotImage = map[viewmodel.Dot]string{
	viewmodel.DotGreen:  imageStatusAvailable,
	viewmodel.DotYellow: imageStatusPartiallyAvailable,
	viewmodel.DotRed:    imageStatusUnavailable,
	viewmodel.DotGrey:   imageStatusNone,
}

// detailSeparator joins an item's title and its detail in the one title
// an NSMenuItem has.
const detailSeparator = " — "

// image is a menu item's image: one of AppKit's named images, or an SF
// Symbol, or none.
type image struct {
	Named  string // NSImageName ("NSStatusAvailable")
	Symbol string // SF Symbol name ("play.fill")
}

// spec is one native menu item, as AppKit needs it: what a viewmodel.Item
// becomes. The darwin code only copies these fields into an NSMenuItem.
type spec struct {
	// ID is the Item's ID: the key of the native item in the current
	// build.
	ID        string
	Separator bool
	Title     string
	Image     image
	// Key is the key equivalent ("q"), lower case; Mask its
	// NSEventModifierFlags.
	Key     string
	Mask    uint
	Enabled bool
	State   int // stateOff or stateOn
	// Alternate: AppKit shows this item instead of the one before it
	// while Mask's modifiers are held.
	Alternate bool
	Tooltip   string
	// Action is what a click does; nil for inert rows.
	Action *viewmodel.Action
	// HasSubmenu: the item opens Submenu (which may be empty).
	HasSubmenu bool
	Submenu    []spec
}

// specsFor maps a menu's items to native item specs:
//   - labels and headers are disabled rows without an action (a header is
//     a plain disabled row: NSMenuItem's section headers are macOS 14+ and
//     not in darwinkit);
//   - an action or toggle is enabled only if the Item is and has an Action;
//     a toggle's Checked becomes the on state;
//   - a submenu is enabled when it has children; an item of an unknown
//     kind is an inert row;
//   - the title carries the detail after detailSeparator;
//   - a dot becomes AppKit's status image, otherwise Symbol is used;
//   - the key equivalent is lower case with the Mods as a modifier mask
//     (none if Mods is empty: a Key without Mods has no ⌘);
//   - an alternate holds Option too, and stays an alternate only right after
//     a row with the same key equivalent and a different mask (AppKit's rule);
//     otherwise it is a row of its own;
//   - separators at either end or next to another separator are dropped.
func specsFor(items []viewmodel.Item) []spec {
	out := make([]spec, 0, len(items))
	for _, it := range items {
		if it.Kind == viewmodel.KindSeparator {
			if len(out) > 0 && !out[len(out)-1].Separator {
				out = append(out, spec{ID: it.ID, Separator: true})
			}
			continue
		}
		s := spec{
			ID:      it.ID,
			Title:   it.Title,
			Tooltip: it.Tooltip,
			Key:     strings.ToLower(it.Key),
			Mask:    maskFor(it.Mods),
		}
		if it.Detail != "" {
			s.Title += detailSeparator + it.Detail
		}
		if named, ok := dotImage[it.Dot]; ok {
			s.Image.Named = named
		} else {
			s.Image.Symbol = it.Symbol
		}
		switch it.Kind {
		case viewmodel.KindAction, viewmodel.KindToggle:
			if it.Action != nil {
				a := *it.Action
				a.Paths = slices.Clone(a.Paths)
				s.Action = &a
			}
			s.Enabled = it.Enabled && s.Action != nil
			if it.Kind == viewmodel.KindToggle && it.Checked {
				s.State = stateOn
			}
		case viewmodel.KindSubmenu:
			s.HasSubmenu = true
			s.Submenu = specsFor(it.Children)
			s.Enabled = len(s.Submenu) > 0
		}
		if it.Alternate {
			s.Mask |= maskOption
			if n := len(out); n > 0 && !out[n-1].Separator && out[n-1].Key == s.Key && out[n-1].Mask != s.Mask {
				s.Alternate = true
			}
		}
		out = append(out, s)
	}
	if n := len(out); n > 0 && out[n-1].Separator {
		out = out[:n-1]
	}
	return out
}

// maskFor maps the view model's modifier keys to NSEventModifierFlags.
func maskFor(m viewmodel.Mods) uint {
	var mask uint
	for _, x := range []struct {
		mod  viewmodel.Mods
		mask uint
	}{
		{viewmodel.ModCommand, maskCommand},
		{viewmodel.ModOption, maskOption},
		{viewmodel.ModShift, maskShift},
		{viewmodel.ModControl, maskControl},
	} {
		if m&x.mod != 0 {
			mask |= x.mask
		}
	}
	return mask
}

// patch returns the specs of next (submenus' items included) that differ
// from prev only in what AppKit changes on an existing NSMenuItem — title,
// image, enabled, state, tooltip — when next has prev's shape: the same
// rows in the same order with the same IDs (unique and non-empty, for
// every row but separators), key equivalents, masks, alternates, actions
// and submenus. Otherwise ok is false and the menu is rebuilt. Patching
// keeps an open menu and its open submenu in place while live figures
// change.
func patch(prev, next []spec) (changed []spec, ok bool) {
	seen := map[string]bool{}
	if !sameShape(prev, next, seen) {
		return nil, false
	}
	collectChanged(prev, next, &changed)
	return changed, true
}

func sameShape(prev, next []spec, seen map[string]bool) bool {
	if len(prev) != len(next) {
		return false
	}
	for i := range next {
		p, n := prev[i], next[i]
		if p.Separator != n.Separator {
			return false
		}
		if n.Separator {
			continue
		}
		if n.ID == "" || n.ID != p.ID || seen[n.ID] {
			return false
		}
		seen[n.ID] = true
		if p.Key != n.Key || p.Mask != n.Mask || p.Alternate != n.Alternate ||
			p.HasSubmenu != n.HasSubmenu || !sameAction(p.Action, n.Action) {
			return false
		}
		if !sameShape(p.Submenu, n.Submenu, seen) {
			return false
		}
	}
	return true
}

func sameAction(a, b *viewmodel.Action) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Verb == b.Verb && a.Target == b.Target && slices.Equal(a.Paths, b.Paths)
}

func collectChanged(prev, next []spec, out *[]spec) {
	for i, n := range next {
		if n.Separator {
			continue
		}
		p := prev[i]
		if p.Title != n.Title || p.Image != n.Image || p.Enabled != n.Enabled || p.State != n.State || p.Tooltip != n.Tooltip {
			*out = append(*out, n)
		}
		collectChanged(p.Submenu, n.Submenu, out)
	}
}

// status is the status item's look.
type status struct {
	// Symbol is the SF Symbol to show, Fallback the one to try if this
	// macOS lacks it; Text is shown if neither exists.
	Symbol, Fallback, Text string
	// Tooltip is the button's tooltip and the image's accessibility text.
	Tooltip string
}

// baseSymbol is Berth's own SF Symbol (macOS 11+).
const baseSymbol = "shippingbox"

// iconSymbol maps the menu's icon to an SF Symbol (all in SF Symbols 2,
// macOS 11+). An unknown icon shows as idle.
var iconSymbol = map[viewmodel.Icon]string{
	viewmodel.IconIdle:    baseSymbol,
	viewmodel.IconBusy:    "arrow.triangle.2.circlepath",
	viewmodel.IconProblem: "exclamationmark.triangle",
}

// statusFor decides the status item's look from the menu.
func statusFor(m viewmodel.Menu, appName string) status {
	sym, ok := iconSymbol[m.Icon]
	if !ok {
		sym = baseSymbol
	}
	st := status{Symbol: sym, Fallback: baseSymbol, Text: appName, Tooltip: m.Title}
	if st.Tooltip == "" {
		st.Tooltip = appName
	}
	return st
}
