package tray

import (
	"reflect"
	"strings"
	"testing"

	"github.com/berthvm/berth/ui/viewmodel"
)

// unescapeLabel is escapeLabel's inverse, as a client finding items by
// title undoes it.
func unescapeLabel(s string) string { return strings.ReplaceAll(s, "__", "_") }

func TestEscapeLabel(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"web", "web"},
		{"my_db", "my__db"},
		{"_a__b_", "__a____b__"},
		{"", ""},
	} {
		if got := escapeLabel(tc.in); got != tc.want {
			t.Errorf("escapeLabel(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if back := unescapeLabel(escapeLabel(tc.in)); back != tc.in {
			t.Errorf("unescape(escape(%q)) = %q", tc.in, back)
		}
	}
}

func TestItemProps(t *testing.T) {
	stop := &viewmodel.Action{Verb: viewmodel.VerbStop, Target: "c1"}
	for _, tc := range []struct {
		name string
		item viewmodel.Item
		want map[string]any
	}{
		{"enabled action", viewmodel.Item{Kind: viewmodel.KindAction, Title: "Stop", Enabled: true, Action: stop},
			map[string]any{"label": "Stop", "enabled": true, "visible": true}},
		{"disabled action", viewmodel.Item{Kind: viewmodel.KindAction, Title: "Start", Action: stop},
			map[string]any{"label": "Start", "enabled": false, "visible": true}},
		{"label with detail, underscores", viewmodel.Item{Kind: viewmodel.KindLabel, Title: "my_db", Detail: "redis:7", Enabled: true},
			map[string]any{"label": "my__db  redis:7", "enabled": false, "visible": true}},
		{"header", viewmodel.Item{Kind: viewmodel.KindHeader, Title: "Containers"},
			map[string]any{"label": "Containers", "enabled": false, "visible": true}},
		{"separator", viewmodel.Item{Kind: viewmodel.KindSeparator, Title: "ignored"},
			map[string]any{"type": "separator", "visible": true}},
		{"toggle on", viewmodel.Item{Kind: viewmodel.KindToggle, Title: "Launch at login", Enabled: true, Checked: true},
			map[string]any{"label": "Launch at login", "enabled": true, "visible": true, "toggle-type": "checkmark", "toggle-state": int32(1)}},
		{"toggle off", viewmodel.Item{Kind: viewmodel.KindToggle, Title: "Exits", Enabled: true},
			map[string]any{"label": "Exits", "enabled": true, "visible": true, "toggle-type": "checkmark", "toggle-state": int32(0)}},
		{"submenu with a dot", viewmodel.Item{Kind: viewmodel.KindSubmenu, Title: "web", Dot: viewmodel.DotGreen,
			Children: []viewmodel.Item{{Kind: viewmodel.KindAction, Title: "Stop"}}},
			map[string]any{"label": "web", "enabled": true, "visible": true, "children-display": "submenu", "icon-name": "user-available"}},
		{"empty submenu", viewmodel.Item{Kind: viewmodel.KindSubmenu, Title: "Images", Enabled: true},
			map[string]any{"label": "Images", "enabled": false, "visible": true, "children-display": "submenu"}},
		{"key, mods, tooltip", viewmodel.Item{Kind: viewmodel.KindAction, Title: "Quit", Enabled: true, Key: "q",
			Mods: viewmodel.ModCommand | viewmodel.ModShift, Tooltip: "Containers keep running"},
			map[string]any{"label": "Quit", "enabled": true, "visible": true, "shortcut": [][]string{{"Control", "Shift", "q"}},
				"accessible-desc": "Containers keep running"}},
		{"alternate is a plain row", viewmodel.Item{Kind: viewmodel.KindAction, Title: "Kill", Enabled: true, Alternate: true},
			map[string]any{"label": "Kill", "enabled": true, "visible": true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := itemProps(tc.item); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("itemProps = %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestDotIcons(t *testing.T) {
	for _, d := range []viewmodel.Dot{viewmodel.DotGreen, viewmodel.DotYellow, viewmodel.DotRed, viewmodel.DotGrey} {
		if dotIcons[d] == "" {
			t.Errorf("no icon for dot %q", d)
		}
	}
	if got := itemProps(viewmodel.Item{Kind: viewmodel.KindLabel, Title: "x"})["icon-name"]; got != nil {
		t.Errorf("no dot gave icon-name %v", got)
	}
}

func TestShortcut(t *testing.T) {
	for _, tc := range []struct {
		key  string
		mods viewmodel.Mods
		want [][]string
	}{
		{"", viewmodel.ModCommand, nil},
		{"q", 0, [][]string{{"q"}}},
		{"q", viewmodel.ModCommand | viewmodel.ModControl, [][]string{{"Control", "q"}}},
		{"k", viewmodel.ModOption | viewmodel.ModCommand, [][]string{{"Control", "Alt", "k"}}},
	} {
		if got := shortcut(tc.key, tc.mods); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("shortcut(%q, %v) = %v, want %v", tc.key, tc.mods, got, tc.want)
		}
	}
}

func TestStatusLook(t *testing.T) {
	for _, tc := range []struct {
		icon viewmodel.Icon
		want look
	}{
		{viewmodel.IconIdle, look{Status: "Active", IconName: "box"}},
		{"", look{Status: "Active", IconName: "box"}},
		{viewmodel.IconBusy, look{Status: "Active", IconName: "box", OverlayIconName: busyOverlayIcon}},
		{viewmodel.IconProblem, look{Status: "NeedsAttention", IconName: problemIcon, AttentionIconName: problemIcon}},
	} {
		if got := statusLook(tc.icon, "box"); got != tc.want {
			t.Errorf("statusLook(%q) = %+v, want %+v", tc.icon, got, tc.want)
		}
	}
}

// testMenu is a menu like the presenter's: a header, containers as
// submenus with Start/Stop, a disabled label, a separator, a toggle.
func testMenu(running bool, extra ...viewmodel.Item) viewmodel.Menu {
	act := func(id, title string, verb viewmodel.Verb, target string, enabled bool) viewmodel.Item {
		return viewmodel.Item{ID: id, Kind: viewmodel.KindAction, Title: title, Enabled: enabled,
			Action: &viewmodel.Action{Verb: verb, Target: target}}
	}
	container := func(id, name string, running bool) viewmodel.Item {
		dot := viewmodel.DotGrey
		if running {
			dot = viewmodel.DotGreen
		}
		return viewmodel.Item{ID: "container/" + id, Kind: viewmodel.KindSubmenu, Title: name, Detail: "demo", Dot: dot,
			Children: []viewmodel.Item{
				act("container/"+id+"/start", "Start", viewmodel.VerbStart, id, !running),
				act("container/"+id+"/stop", "Stop", viewmodel.VerbStop, id, running),
				{ID: "container/" + id + "/kill", Kind: viewmodel.KindAction, Title: "Kill", Enabled: running, Alternate: true,
					Action: &viewmodel.Action{Verb: viewmodel.VerbKill, Target: id}},
			}}
	}
	items := []viewmodel.Item{
		{ID: "status", Kind: viewmodel.KindLabel, Title: "Berth is running"},
		{Kind: viewmodel.KindSeparator},
		{ID: "containers", Kind: viewmodel.KindHeader, Title: "Containers"},
		container("c1", "web", running),
		container("c2", "my_db", false),
	}
	items = append(items, extra...)
	items = append(items,
		viewmodel.Item{Kind: viewmodel.KindSeparator},
		viewmodel.Item{ID: "login", Kind: viewmodel.KindToggle, Title: "Launch at login", Enabled: true,
			Action: &viewmodel.Action{Verb: viewmodel.VerbToggleLogin}},
		act("quit", "Quit Berth", viewmodel.VerbQuit, "", true),
	)
	return viewmodel.Menu{Title: "Berth", Icon: viewmodel.IconIdle, Items: items}
}

// labels maps each node's unescaped label, with its parent's before a
// slash, to its id; a separator is "----" and the label before it.
func labels(l *layout) map[string]int32 {
	out := map[string]int32{}
	var walk func(prefix string, ns []*node)
	walk = func(prefix string, ns []*node) {
		prev := ""
		for _, n := range ns {
			label, _ := n.props["label"].(string)
			label = unescapeLabel(label)
			if n.props["type"] == "separator" {
				label = "----" + prev
			}
			prev = label
			name := prefix + label
			out[name] = n.id
			walk(name+"/", n.children)
		}
	}
	walk("", l.root.children)
	return out
}

func TestIDsStableAcrossRebuilds(t *testing.T) {
	var a ids
	first := a.build(testMenu(true).Items)
	if first.root.id != 0 || first.root.props["children-display"] != "submenu" {
		t.Fatalf("root = %+v", first.root)
	}
	before := labels(first)
	seen := map[int32]bool{}
	for _, n := range first.byID {
		if seen[n.id] {
			t.Fatalf("id %d given twice", n.id)
		}
		seen[n.id] = true
	}

	// web stops, a container appears before the separator.
	extra := viewmodel.Item{ID: "container/c3", Kind: viewmodel.KindSubmenu, Title: "cache",
		Children: []viewmodel.Item{{ID: "container/c3/start", Kind: viewmodel.KindAction, Title: "Start", Enabled: true,
			Action: &viewmodel.Action{Verb: viewmodel.VerbStart, Target: "c3"}}}}
	second := a.build(testMenu(false, extra).Items)
	after := labels(second)
	for label, id := range before {
		if label == "----my_db  demo" { // now after cache: a new separator
			continue
		}
		if after[label] != id {
			t.Errorf("%q: id %d became %d", label, id, after[label])
		}
	}
	for _, l := range []string{"cache", "cache/Start"} {
		if id, ok := after[l]; !ok || seen[id] || id == 0 {
			t.Errorf("new item %q got id %d (known: %v)", l, id, seen[id])
		}
	}
	if first.equal(second) {
		t.Error("different menus compare equal")
	}
	if !a.build(testMenu(false, extra).Items).equal(second) {
		t.Error("the same menu built twice differs")
	}

	// cache goes away and comes back: a new id, never an old one reused.
	a.build(testMenu(false).Items)
	third := labels(a.build(testMenu(false, extra).Items))
	if third["cache"] == after["cache"] {
		t.Errorf("cache kept id %d across its absence", third["cache"])
	}
}

func TestClickableOnlyEnabledActions(t *testing.T) {
	var a ids
	l := a.build(testMenu(true).Items)
	ids := labels(l)
	for label, want := range map[string]*viewmodel.Action{
		"web  demo/Stop":   {Verb: viewmodel.VerbStop, Target: "c1"},
		"web  demo/Kill":   {Verb: viewmodel.VerbKill, Target: "c1"},
		"web  demo/Start":  nil, // disabled
		"web  demo":        nil, // submenu
		"Berth is running": nil,
		"Containers":       nil,
		"Launch at login":  {Verb: viewmodel.VerbToggleLogin},
	} {
		id, ok := ids[label]
		if !ok {
			t.Fatalf("no %q in %v", label, ids)
		}
		if got := l.byID[id].action; !reflect.DeepEqual(got, want) {
			t.Errorf("%q: action %v, want %v", label, got, want)
		}
	}
}
