package main

import (
	"path/filepath"
	"strings"
)

// launchArgs is the command line main hands to the CLI. Berth.app's main
// executable (Contents/MacOS/Berth) is the berth binary itself: opened by
// LaunchServices (the Finder, the Dock, Spotlight, `open -a Berth`, a login
// item) it gets no arguments, or only an old-style "-psn_…" process serial
// number, and then runs the menu bar: ["menubar"]. Anything else is a berth
// command as given, including the same binary reached through
// Contents/Helpers/berth or a link in PATH (argv[0] "berth"), and the
// daemon and VM hosts the app starts (they have arguments).
//
// From the bundle means: argv[0]'s base name is "Berth" and the running
// executable (os.Executable) sits in a *.app's Contents/MacOS.
func launchArgs(argv0, exe string, args []string) []string {
	if filepath.Base(argv0) != "Berth" || !inBundleMacOS(exe) {
		return args
	}
	var rest []string
	for _, a := range args {
		if !strings.HasPrefix(a, "-psn_") {
			rest = append(rest, a)
		}
	}
	if len(rest) == 0 {
		return []string{"menubar"}
	}
	return rest
}

// inBundleMacOS reports whether exe is directly in a .app bundle's
// Contents/MacOS.
func inBundleMacOS(exe string) bool {
	if exe == "" {
		return false
	}
	macos := filepath.Dir(filepath.Clean(exe))
	contents := filepath.Dir(macos)
	return filepath.Base(macos) == "MacOS" && filepath.Base(contents) == "Contents" &&
		strings.EqualFold(filepath.Ext(filepath.Dir(contents)), ".app")
}
