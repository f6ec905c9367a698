package main

import (
	"os"
	"slices"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	cleanupObjcTools()
	os.Exit(code)
}

// TestFilterClang: which of clang's diagnostics the Objective-C file check
// keeps, from output captured with Debian's clang 14 and GNUstep.
func TestFilterClang(t *testing.T) {
	list := &allowList{module: "darwinkit@test", anySel: map[string]bool{"button": true, "registerForDraggedTypes:": true, "setTitle:": true}}
	out := `/p/b.m:4:9: fatal error: 'UserNotifications/UserNotifications.h' file not found [Lexical or Preprocessor Issue]
`
	if ds, missing := filterClang(out, "/p", list); missing != "UserNotifications/UserNotifications.h" || len(ds) != 0 {
		t.Errorf("missing header: got %q and %v", missing, ds)
	}
	out = `/usr/include/GNUstep/AppKit/NSView.h:10:1: error: expected ';' [Parse Issue]
/p/b.m:7:40: error: expected ']' [Parse Issue]
/p/b.m:8:8: warning: instance method '-registerForDragedTypes:' not found (return type defaults to 'id'); did you mean '-registerForDraggedTypes:'? [-Wobjc-method-access,Semantic Issue]
/p/b.m:9:26: warning: instance method '-button' not found (return type defaults to 'id') [-Wobjc-method-access,Semantic Issue]
/p/b.m:10:5: error: unknown type name 'UNUserNotificationCenter'; did you mean 'NSUserNotificationCenter'? [Semantic Issue]
/p/b.m:11:5: error: use of undeclared identifier 'UNMutableNotificationContent' [Semantic Issue]
/p/b.m:12:1: error: unterminated conditional directive [Lexical or Preprocessor Issue]
/p/b.m:13:3: warning: extra ';' outside of a function [-Wextra-semi,Parse Issue]
/p/b.m:14:14: warning: class method '+setTitel:' not found (return type defaults to 'id') [-Wobjc-method-access,Semantic Issue]
`
	ds, missing := filterClang(out, "/p", list)
	var got []string
	for _, d := range ds {
		got = append(got, d.pos.String()+": "+d.msg)
	}
	want := []string{
		"/p/b.m:7:40: Objective-C syntax: expected ']'",
		`/p/b.m:8:8: unknown selector "-registerForDragedTypes:": not in GNUstep's headers, darwinkit@test's bindings or darwincheck's hand list (did you mean "registerForDraggedTypes:"?)`,
		"/p/b.m:12:1: Objective-C syntax: unterminated conditional directive",
		`/p/b.m:14:14: unknown selector "+setTitel:": not in GNUstep's headers, darwinkit@test's bindings or darwincheck's hand list (did you mean "setTitle:"?)`,
	}
	if missing != "" || !slices.Equal(got, want) {
		t.Errorf("missing %q, got:\n%v\nwant:\n%v", missing, got, want)
	}
}
