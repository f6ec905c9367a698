package tray

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// lookPathFunc finds an executable on PATH (exec.LookPath).
type lookPathFunc func(name string) (string, error)

// terminalArgv is the command that runs argv in a new terminal window
// titled title: the first terminal found of x-terminal-emulator (Debian's
// alternative, which must take -T and -e), gnome-terminal, konsole and
// xterm.
func terminalArgv(lookPath lookPathFunc, title string, argv []string) ([]string, error) {
	if len(argv) == 0 {
		return nil, errors.New("open a terminal: no command to run")
	}
	for _, t := range []struct {
		name string
		args []string // before argv
	}{
		{"x-terminal-emulator", []string{"-T", title, "-e"}},
		{"gnome-terminal", []string{"--title=" + title, "--"}},
		{"konsole", []string{"-e"}}, // its titles come from profiles
		{"xterm", []string{"-T", title, "-e"}},
	} {
		if p, err := lookPath(t.name); err == nil {
			return append(append([]string{p}, t.args...), argv...), nil
		}
	}
	return nil, errors.New("open a terminal: none found (looked for x-terminal-emulator, gnome-terminal, konsole, xterm): install one, e.g. apt-get install xterm")
}

// clipboardArgv is the command that copies its standard input to the
// clipboard: wl-copy on Wayland, else xclip or xsel.
func clipboardArgv(lookPath lookPathFunc, wayland bool) ([]string, error) {
	cands := [][]string{{"xclip", "-selection", "clipboard"}, {"xsel", "--clipboard", "--input"}}
	if wayland {
		cands = append([][]string{{"wl-copy"}}, cands...)
	}
	for _, c := range cands {
		if p, err := lookPath(c[0]); err == nil {
			return append([]string{p}, c[1:]...), nil
		}
	}
	want := "xclip or xsel (apt-get install xclip)"
	if wayland {
		want = "wl-copy, xclip or xsel (apt-get install wl-clipboard)"
	}
	return nil, fmt.Errorf("copy to the clipboard: no clipboard tool found: install %s", want)
}

// openArgv is the command that shows path in the desktop's file manager
// or viewer.
func openArgv(lookPath lookPathFunc, path string) ([]string, error) {
	p, err := lookPath("xdg-open")
	if err != nil {
		return nil, fmt.Errorf("open %s: xdg-open not found: install it with apt-get install xdg-utils", path)
	}
	return []string{p, path}, nil
}

// pickArgv is the command that asks for files to import, printing one path
// a line: zenity, else kdialog. Both exit 1 when cancelled.
func pickArgv(lookPath lookPathFunc, prompt string) ([]string, error) {
	if p, err := lookPath("zenity"); err == nil {
		return []string{p, "--file-selection", "--multiple", "--separator=\n", "--title=" + prompt}, nil
	}
	if p, err := lookPath("kdialog"); err == nil {
		return []string{p, "--title", prompt, "--getopenfilename", "--multiple", "--separate-output"}, nil
	}
	return nil, errors.New("choose files: no file dialog found (looked for zenity, kdialog): install one with apt-get install zenity, or import with berth load -i FILE")
}

// parsePicked reads a file dialog's output: one path a line.
func parsePicked(out string) []string {
	var paths []string
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSuffix(l, "\r"); l != "" {
			paths = append(paths, l)
		}
	}
	return paths
}

// autostartFile is where the launch-at-login entry lives:
// $XDG_CONFIG_HOME/autostart/berth.desktop, $XDG_CONFIG_HOME defaulting to
// ~/.config (the XDG Base Directory and Autostart specifications).
func autostartFile(getenv func(string) string, home string) (string, error) {
	dir := getenv("XDG_CONFIG_HOME")
	if !filepath.IsAbs(dir) { // relative values are invalid and ignored
		if home == "" {
			return "", errors.New("launch at login: neither XDG_CONFIG_HOME nor HOME is set, so there is no autostart folder")
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "autostart", "berth.desktop"), nil
}

// desktopEntry is the autostart entry that runs `exe menubar` at login.
func desktopEntry(appName, exe, icon string) string {
	return "[Desktop Entry]\n" +
		"Type=Application\n" +
		"Name=" + escapeValue(appName) + "\n" +
		"Comment=" + escapeValue(appName) + "'s menu: containers in their own VMs\n" +
		"Exec=" + escapeValue(execQuote(exe)+" menubar") + "\n" +
		"Icon=" + escapeValue(icon) + "\n" +
		"Terminal=false\n" +
		"X-GNOME-Autostart-enabled=true\n"
}

// execQuote quotes one argument of a desktop entry's Exec key: inside
// double quotes, with ", `, $ and \ escaped by a backslash, when it holds a
// reserved character; a literal % is always %%. (Desktop Entry
// Specification, "The Exec key".)
func execQuote(arg string) string {
	arg = strings.ReplaceAll(arg, "%", "%%")
	if arg != "" && !strings.ContainsAny(arg, " \t\n\"'\\><~|&;$*?#()`") {
		return arg
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range arg {
		if strings.ContainsRune("\"`$\\", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// escapeValue applies a desktop entry's string escapes (\\, \n, \t, \r),
// which readers undo before any Exec quoting.
func escapeValue(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\t", `\t`, "\r", `\r`).Replace(s)
}

// autostartEnabled reports whether an autostart entry's text says to start:
// not Hidden=true, not X-GNOME-Autostart-enabled=false.
func autostartEnabled(text string) bool {
	group := ""
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "[") {
			group = l
			continue
		}
		if group != "[Desktop Entry]" {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		switch k, v = strings.TrimSpace(k), strings.TrimSpace(v); {
		case k == "Hidden" && v == "true":
			return false
		case k == "X-GNOME-Autostart-enabled" && v == "false":
			return false
		}
	}
	return true
}

// markupEscape escapes a notification body for servers that read it as
// markup (the "body-markup" capability).
func markupEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
