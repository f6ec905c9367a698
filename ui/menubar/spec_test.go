package menubar

import (
	"reflect"
	"testing"

	vm "github.com/berthvm/berth/ui/viewmodel"
)

func act(v vm.Verb, target string) *vm.Action { return &vm.Action{Verb: v, Target: target} }

func TestMenuSpecs(t *testing.T) {
	sep := vm.Item{Kind: vm.KindSeparator}
	cases := []struct {
		name  string
		items []vm.Item
		want  []spec
	}{
		{"label with detail and dot",
			[]vm.Item{{ID: "c/1", Kind: vm.KindLabel, Title: "web", Detail: "nginx:latest", Dot: vm.DotGreen, Symbol: "play.fill", Enabled: true}},
			[]spec{{ID: "c/1", Title: "web — nginx:latest", Image: image{Named: "NSStatusAvailable"}}}},
		{"header is an inert row",
			[]vm.Item{{ID: "h", Kind: vm.KindHeader, Title: "Containers", Enabled: true, Action: act(vm.VerbStart, "x")}},
			[]spec{{ID: "h", Title: "Containers"}}},
		{"each dot",
			[]vm.Item{
				{ID: "a", Kind: vm.KindLabel, Dot: vm.DotYellow},
				{ID: "b", Kind: vm.KindLabel, Dot: vm.DotRed},
				{ID: "c", Kind: vm.KindLabel, Dot: vm.DotGrey},
				{ID: "d", Kind: vm.KindLabel, Dot: "purple", Symbol: "star"},
			},
			[]spec{
				{ID: "a", Image: image{Named: "NSStatusPartiallyAvailable"}},
				{ID: "b", Image: image{Named: "NSStatusUnavailable"}},
				{ID: "c", Image: image{Named: "NSStatusNone"}},
				{ID: "d", Image: image{Symbol: "star"}},
			}},
		{"action: enabled, symbol, key with mods, tooltip",
			[]vm.Item{{ID: "quit", Kind: vm.KindAction, Title: "Quit Berth", Symbol: "power", Enabled: true,
				Key: "Q", Mods: vm.ModCommand, Tooltip: "containers keep running", Action: act(vm.VerbQuit, "")}},
			[]spec{{ID: "quit", Title: "Quit Berth", Image: image{Symbol: "power"}, Key: "q", Mask: 1 << 20,
				Enabled: true, Tooltip: "containers keep running", Action: act(vm.VerbQuit, "")}}},
		{"every modifier",
			[]vm.Item{{ID: "x", Kind: vm.KindAction, Key: "k", Mods: vm.ModCommand | vm.ModOption | vm.ModShift | vm.ModControl, Enabled: true, Action: act(vm.VerbLogs, "c")}},
			[]spec{{ID: "x", Key: "k", Mask: 1<<20 | 1<<19 | 1<<17 | 1<<18, Enabled: true, Action: act(vm.VerbLogs, "c")}}},
		{"a key without mods has no command key",
			[]vm.Item{{ID: "x", Kind: vm.KindAction, Key: "r", Enabled: true, Action: act(vm.VerbRestart, "c")}},
			[]spec{{ID: "x", Key: "r", Enabled: true, Action: act(vm.VerbRestart, "c")}}},
		{"disabled action keeps its action, not clickable",
			[]vm.Item{{ID: "s", Kind: vm.KindAction, Title: "Stop", Action: act(vm.VerbStop, "c")}},
			[]spec{{ID: "s", Title: "Stop", Action: act(vm.VerbStop, "c")}}},
		{"enabled action without an action is not clickable",
			[]vm.Item{{ID: "s", Kind: vm.KindAction, Title: "Nothing", Enabled: true}},
			[]spec{{ID: "s", Title: "Nothing"}}},
		{"toggle on and off",
			[]vm.Item{
				{ID: "login", Kind: vm.KindToggle, Title: "Start at Login", Checked: true, Enabled: true, Action: act(vm.VerbToggleLogin, "")},
				{ID: "note", Kind: vm.KindToggle, Title: "Exit notes", Enabled: true, Action: act(vm.VerbToggleNote, "exit")},
				{ID: "checked-action", Kind: vm.KindAction, Checked: true, Enabled: true, Action: act(vm.VerbStart, "c")},
			},
			[]spec{
				{ID: "login", Title: "Start at Login", State: stateOn, Enabled: true, Action: act(vm.VerbToggleLogin, "")},
				{ID: "note", Title: "Exit notes", Enabled: true, Action: act(vm.VerbToggleNote, "exit")},
				{ID: "checked-action", Enabled: true, Action: act(vm.VerbStart, "c")},
			}},
		{"submenu, empty submenu",
			[]vm.Item{
				{ID: "c/1", Kind: vm.KindSubmenu, Title: "web", Dot: vm.DotGreen, Children: []vm.Item{
					{ID: "c/1/stop", Kind: vm.KindAction, Title: "Stop", Enabled: true, Action: act(vm.VerbStop, "1")},
				}},
				{ID: "none", Kind: vm.KindSubmenu, Title: "Images"},
			},
			[]spec{
				{ID: "c/1", Title: "web", Image: image{Named: "NSStatusAvailable"}, Enabled: true, HasSubmenu: true, Submenu: []spec{
					{ID: "c/1/stop", Title: "Stop", Enabled: true, Action: act(vm.VerbStop, "1")},
				}},
				{ID: "none", Title: "Images", HasSubmenu: true, Submenu: []spec{}},
			}},
		{"alternate after its primary gets option",
			[]vm.Item{
				{ID: "stop", Kind: vm.KindAction, Title: "Stop", Enabled: true, Action: act(vm.VerbStop, "1")},
				{ID: "kill", Kind: vm.KindAction, Title: "Kill", Enabled: true, Alternate: true, Action: act(vm.VerbKill, "1")},
			},
			[]spec{
				{ID: "stop", Title: "Stop", Enabled: true, Action: act(vm.VerbStop, "1")},
				{ID: "kill", Title: "Kill", Mask: 1 << 19, Alternate: true, Enabled: true, Action: act(vm.VerbKill, "1")},
			}},
		{"alternate with a shared key equivalent",
			[]vm.Item{
				{ID: "q", Kind: vm.KindAction, Key: "q", Mods: vm.ModCommand, Enabled: true, Action: act(vm.VerbQuit, "")},
				{ID: "qa", Kind: vm.KindAction, Key: "q", Mods: vm.ModCommand, Alternate: true, Enabled: true, Action: act(vm.VerbQuitStopAll, "")},
			},
			[]spec{
				{ID: "q", Key: "q", Mask: 1 << 20, Enabled: true, Action: act(vm.VerbQuit, "")},
				{ID: "qa", Key: "q", Mask: 1<<20 | 1<<19, Alternate: true, Enabled: true, Action: act(vm.VerbQuitStopAll, "")},
			}},
		{"alternate that cannot be one is its own row",
			[]vm.Item{
				{ID: "first", Kind: vm.KindAction, Alternate: true, Enabled: true, Action: act(vm.VerbKill, "1")},
				sep,
				{ID: "other-key", Kind: vm.KindAction, Key: "s", Enabled: true, Action: act(vm.VerbStop, "1")},
				{ID: "alt-nokey", Kind: vm.KindAction, Alternate: true, Enabled: true, Action: act(vm.VerbKill, "1")},
				{ID: "opt", Kind: vm.KindAction, Mods: vm.ModOption, Enabled: true, Action: act(vm.VerbStop, "2")},
				{ID: "same-mask", Kind: vm.KindAction, Alternate: true, Enabled: true, Action: act(vm.VerbKill, "2")},
				sep,
				{ID: "after-sep", Kind: vm.KindAction, Alternate: true, Enabled: true, Action: act(vm.VerbKill, "3")},
			},
			[]spec{
				{ID: "first", Mask: 1 << 19, Enabled: true, Action: act(vm.VerbKill, "1")},
				{Separator: true},
				{ID: "other-key", Key: "s", Enabled: true, Action: act(vm.VerbStop, "1")},
				{ID: "alt-nokey", Mask: 1 << 19, Enabled: true, Action: act(vm.VerbKill, "1")},
				{ID: "opt", Mask: 1 << 19, Enabled: true, Action: act(vm.VerbStop, "2")},
				{ID: "same-mask", Mask: 1 << 19, Enabled: true, Action: act(vm.VerbKill, "2")},
				{Separator: true},
				{ID: "after-sep", Mask: 1 << 19, Enabled: true, Action: act(vm.VerbKill, "3")},
			}},
		{"separators: leading, doubled, trailing dropped",
			[]vm.Item{sep, {ID: "a", Kind: vm.KindLabel}, sep, sep, {ID: "b", Kind: vm.KindLabel}, sep},
			[]spec{{ID: "a"}, {Separator: true}, {ID: "b"}}},
		{"unknown kind is inert",
			[]vm.Item{{ID: "x", Kind: "slider", Title: "?", Enabled: true, Action: act(vm.VerbStart, "c")}},
			[]spec{{ID: "x", Title: "?"}}},
		{"nothing", nil, []spec{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := specsFor(tc.items)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("specsFor:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestMenuSpecsCopyActions(t *testing.T) {
	items := []vm.Item{{ID: "i", Kind: vm.KindAction, Enabled: true, Action: &vm.Action{Verb: vm.VerbImport, Paths: []string{"/a"}}}}
	got := specsFor(items)
	items[0].Action.Paths[0] = "/changed"
	items[0].Action.Verb = vm.VerbQuit
	if got[0].Action.Verb != vm.VerbImport || got[0].Action.Paths[0] != "/a" {
		t.Fatalf("the spec shares the item's action: %+v", got[0].Action)
	}
}

func TestMenuModifierMasks(t *testing.T) {
	// AppKit's NSEventModifierFlags (NSEvent.h).
	want := map[vm.Mods]uint{vm.ModShift: 0x20000, vm.ModControl: 0x40000, vm.ModOption: 0x80000, vm.ModCommand: 0x100000, 0: 0}
	for mods, mask := range want {
		if got := maskFor(mods); got != mask {
			t.Errorf("maskFor(%v) = %#x, want %#x", mods, got, mask)
		}
	}
}

func TestMenuPatch(t *testing.T) {
	base := func() []vm.Item {
		return []vm.Item{
			{ID: "status", Kind: vm.KindLabel, Title: "Berth is running", Detail: "2 containers"},
			{Kind: vm.KindSeparator},
			{ID: "c/1", Kind: vm.KindSubmenu, Title: "web", Dot: vm.DotGreen, Children: []vm.Item{
				{ID: "c/1/cpu", Kind: vm.KindLabel, Title: "CPU", Detail: "3%"},
				{ID: "c/1/stop", Kind: vm.KindAction, Title: "Stop", Enabled: true, Action: act(vm.VerbStop, "1")},
				{ID: "c/1/kill", Kind: vm.KindAction, Title: "Kill", Enabled: true, Alternate: true, Action: act(vm.VerbKill, "1")},
			}},
			{ID: "login", Kind: vm.KindToggle, Title: "Start at Login", Enabled: true, Action: act(vm.VerbToggleLogin, "")},
			{ID: "quit", Kind: vm.KindAction, Title: "Quit", Key: "q", Mods: vm.ModCommand, Enabled: true, Action: act(vm.VerbQuit, "")},
		}
	}
	type edit func(items []vm.Item) []vm.Item
	cases := []struct {
		name    string
		edit    edit
		ok      bool
		changed []string // IDs
	}{
		{"same menu", func(it []vm.Item) []vm.Item { return it }, true, nil},
		{"live figures", func(it []vm.Item) []vm.Item {
			it[0].Detail = "3 containers"
			it[2].Children[0].Detail = "40%"
			return it
		}, true, []string{"status", "c/1/cpu"}},
		{"dot, enabled, state, tooltip", func(it []vm.Item) []vm.Item {
			it[2].Dot = vm.DotYellow
			it[2].Children[1].Enabled = false
			it[3].Checked = true
			it[4].Tooltip = "bye"
			return it
		}, true, []string{"c/1", "c/1/stop", "login", "quit"}},
		{"an item more", func(it []vm.Item) []vm.Item {
			return append(it, vm.Item{ID: "more", Kind: vm.KindLabel})
		}, false, nil},
		{"a child more", func(it []vm.Item) []vm.Item {
			it[2].Children = append(it[2].Children, vm.Item{ID: "c/1/logs", Kind: vm.KindLabel})
			return it
		}, false, nil},
		{"another ID", func(it []vm.Item) []vm.Item { it[3].ID = "login2"; return it }, false, nil},
		{"another action", func(it []vm.Item) []vm.Item { it[2].Children[1].Action = act(vm.VerbStart, "1"); return it }, false, nil},
		{"another key", func(it []vm.Item) []vm.Item { it[4].Key = "w"; return it }, false, nil},
		{"another mask", func(it []vm.Item) []vm.Item { it[4].Mods |= vm.ModShift; return it }, false, nil},
		{"no longer a submenu", func(it []vm.Item) []vm.Item {
			it[2].Kind, it[2].Children = vm.KindLabel, nil
			return it
		}, false, nil},
		{"no longer an alternate", func(it []vm.Item) []vm.Item { it[2].Children[2].Alternate = false; return it }, false, nil},
		{"a separator moved", func(it []vm.Item) []vm.Item {
			it[1], it[0] = it[0], it[1]
			return it
		}, false, nil},
		{"missing IDs cannot be patched", func(it []vm.Item) []vm.Item { it[0].ID = ""; return it }, false, nil},
		{"duplicate IDs cannot be patched", func(it []vm.Item) []vm.Item { it[4].ID = "login"; return it }, false, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prev := specsFor(base())
			if tc.name == "missing IDs cannot be patched" || tc.name == "duplicate IDs cannot be patched" {
				prev = specsFor(tc.edit(base())) // the same faulty menu twice
			}
			changed, ok := patch(prev, specsFor(tc.edit(base())))
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			var ids []string
			for _, s := range changed {
				ids = append(ids, s.ID)
			}
			if !reflect.DeepEqual(ids, tc.changed) {
				t.Errorf("changed %v, want %v", ids, tc.changed)
			}
		})
	}
	if _, ok := patch(nil, specsFor(base())); ok {
		t.Error("a first build was patched")
	}
}

func TestMenuStatusItem(t *testing.T) {
	cases := []struct {
		menu vm.Menu
		want status
	}{
		{vm.Menu{Title: "Berth: 2 running", Icon: vm.IconIdle}, status{"shippingbox", "shippingbox", "Berth", "Berth: 2 running"}},
		{vm.Menu{Title: "Pulling", Icon: vm.IconBusy}, status{"arrow.triangle.2.circlepath", "shippingbox", "Berth", "Pulling"}},
		{vm.Menu{Icon: vm.IconProblem}, status{"exclamationmark.triangle", "shippingbox", "Berth", "Berth"}},
		{vm.Menu{Icon: "sparkles"}, status{"shippingbox", "shippingbox", "Berth", "Berth"}},
	}
	for _, tc := range cases {
		if got := statusFor(tc.menu, "Berth"); got != tc.want {
			t.Errorf("statusFor(%+v) = %+v, want %+v", tc.menu, got, tc.want)
		}
	}
	if got := (Options{}).appName(); got != "Berth" {
		t.Errorf("default app name %q", got)
	}
	if got := (Options{AppName: "Berth Dev"}).appName(); got != "Berth Dev" {
		t.Errorf("app name %q", got)
	}
}
