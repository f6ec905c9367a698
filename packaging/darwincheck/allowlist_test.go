package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// fixtureDarwinkit returns the directory and version of the darwinkit the
// fixture module requires (v0.5.0, in the module cache).
func fixtureDarwinkit(t *testing.T) (dir, version string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-C", fixtureDir, "-m", "-f", "{{.Dir}} {{.Version}}", darwinkitModule).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", darwinkitModule, err)
	}
	dir, version, _ = strings.Cut(strings.TrimSpace(string(out)), " ")
	if dir == "" {
		t.Fatalf("%s is not in the module cache: run go mod download in %s", darwinkitModule, fixtureDir)
	}
	return dir, version
}

func fixtureAllowList(t *testing.T) *allowList {
	t.Helper()
	dir, version := fixtureDarwinkit(t)
	l, err := loadAllowList(dir, version)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestAllowList pins what the allow-list holds for darwinkit v0.5.0: its
// size, inheritance through embedded structs, class methods, the root
// class's methods, and the hand list.
func TestAllowList(t *testing.T) {
	l := fixtureAllowList(t)
	if l.module != darwinkitModule+"@v0.5.0" {
		t.Errorf("module = %q", l.module)
	}
	// Measured on v0.5.0; a change means the reading of the generated
	// files changed (or darwinkit did): look before updating.
	if len(l.classes) != 1816 || l.pairs != 26642 || l.files != 2439 {
		t.Errorf("%d classes, %d pairs from %d files; want 1816, 26642, 2439", len(l.classes), l.pairs, l.files)
	}
	cases := []struct {
		class, sel string
		meta, want bool
	}{
		{"NSMenuItem", "setState:", false, true},
		{"NSMenuItem", "setStat:", false, false},
		{"NSMenuItem", "setState:", true, false}, // an instance method, not a class method
		{"NSMenuItem", "separatorItem", true, true},
		{"NSMenuItem", "separatorItem", false, false},
		{"NSMenuItem", "alloc", true, true},                   // generated for every class
		{"NSMenuItem", "respondsToSelector:", true, true},     // the root metaclass inherits NSObject's instance methods
		{"NSMenuItem", "sectionHeaderWithTitle:", true, true}, // hand list (macOS 14)
		{"NSStatusBarButton", "setTitle:", false, true},       // from NSButton, the embedded struct
		{"NSStatusBarButton", "setTarget:", false, true},      // from NSControl, two levels up
		{"NSStatusBarButton", "registerForDraggedTypes:", false, true},
		{"NSStatusItem", "button", false, true},
		{"NSApplication", "terminate:", false, true},
		{"NSApplication", "sharedApplication", true, true},
		{"NSPasteboard", "readObjectsForClasses:options:", false, true},
		{"SMAppService", "mainAppService", true, true},
		{"SMAppService", "mainAppService", false, false},
		{"SMAppService", "registerAndReturnError:", false, true},
		{"UNMutableNotificationContent", "setTitle:", false, true},
		{"UNMutableNotificationContent", "init", false, true}, // NSObject, through UNNotificationContent
		{"UNUserNotificationCenter", "currentNotificationCenter", true, true},
		{"NoSuchClass", "init", false, false},
	}
	for _, tc := range cases {
		sign := "-"
		if tc.meta {
			sign = "+"
		}
		if got := l.lookup(tc.class, tc.sel, tc.meta); got != tc.want {
			t.Errorf("lookup %s %s%s = %v, want %v", tc.class, sign, tc.sel, got, tc.want)
		}
	}
	var chain []string
	for _, c := range l.chain("NSStatusBarButton") {
		chain = append(chain, c.name)
	}
	if want := []string{"NSStatusBarButton", "NSButton", "NSControl", "NSView", "NSResponder", "NSObject"}; !slices.Equal(chain, want) {
		t.Errorf("NSStatusBarButton's superclasses: %v, want %v", chain, want)
	}
	if sels := l.selectors("NSStatusBarButton", false); !slices.Contains(sels, "setTitle:") || slices.Contains(sels, "alloc") {
		t.Errorf("NSStatusBarButton's instance selectors must include inherited -setTitle: and not +alloc (%d listed)", len(sels))
	}
	if sels := l.selectors("NSMenuItem", true); !slices.Contains(sels, "alloc") || !slices.Contains(sels, "respondsToSelector:") {
		t.Error("NSMenuItem's class selectors must include +alloc and NSObject's instance methods")
	}
	bindings := []struct {
		goType string
		want   goBinding
	}{
		{"macos/appkit.MenuItem", goBinding{class: "NSMenuItem"}},
		{"macos/appkit._MenuItemClass", goBinding{class: "NSMenuItem", meta: true}},
		{"macos/appkit.IMenuItem", goBinding{class: "NSMenuItem"}},
		{"macos/appkit.StatusBarButton", goBinding{class: "NSStatusBarButton"}},
		{"macos/foundation.NotificationCenter", goBinding{class: "NSNotificationCenter"}},
	}
	for _, b := range bindings {
		got := l.bindings[darwinkitModule+"/"+b.goType]
		if got == nil || got.class != b.want.class || got.meta != b.want.meta {
			t.Errorf("binding of %s = %+v, want %+v", b.goType, got, b.want)
		}
	}
	if b := l.bindings[darwinkitModule+"/macos/appkit.MenuDelegateObject"]; b == nil || !b.protocol["menuWillOpen:"] {
		t.Errorf("appkit.MenuDelegateObject is not read as a protocol object with -menuWillOpen: (%+v)", b)
	}
	if !l.anySel["menuWillOpen:"] || l.anySel["setStat:"] {
		t.Error("anySel must hold protocol selectors and nothing misspelled")
	}
}

// TestHandListOnlyFillsGaps: every hand-listed selector is one darwinkit's
// bindings lack, so the hand list stays short and says only what it must.
// A darwinkit upgrade that binds one makes this fail: drop it from the list.
func TestHandListOnlyFillsGaps(t *testing.T) {
	dir, version := fixtureDarwinkit(t)
	bare, err := buildAllowList(dir, version, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range handList {
		if c := bare.classes[h.class]; c != nil && h.super != "" {
			t.Errorf("%s: darwinkit binds the class; its superclass comes from darwinkit, leave super empty", h.class)
		}
		for _, s := range h.inst {
			if bare.lookup(h.class, s, false) {
				t.Errorf("hand list: darwinkit already has -[%s %s]", h.class, s)
			}
		}
		for _, s := range h.classSels {
			if bare.lookup(h.class, s, true) {
				t.Errorf("hand list: darwinkit already has +[%s %s]", h.class, s)
			}
		}
		if h.class != "NSObject" && h.super == "" && bare.classes[h.class] == nil {
			t.Errorf("%s: a class darwinkit does not bind needs its superclass", h.class)
		}
	}
}

// BenchmarkAllowList measures building the allow-list from darwinkit's
// 2,439 generated files, what one darwincheck run pays once when the
// project sends objc messages.
func BenchmarkAllowList(b *testing.B) {
	out, err := exec.Command("go", "list", "-C", fixtureDir, "-m", "-f", "{{.Dir}}", darwinkitModule).Output()
	if err != nil {
		b.Fatal(err)
	}
	dir := strings.TrimSpace(string(out))
	for b.Loop() {
		if _, err := buildAllowList(dir, "v0.5.0", handList); err != nil {
			b.Fatal(err)
		}
	}
}
