package tray

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// pathWith is a lookPath that finds only the names given.
func pathWith(names ...string) lookPathFunc {
	return func(name string) (string, error) {
		for _, n := range names {
			if n == name {
				return "/usr/bin/" + name, nil
			}
		}
		return "", errors.New("not found")
	}
}

func TestTerminalArgv(t *testing.T) {
	argv := []string{"berth", "logs", "-f", "web"}
	for _, tc := range []struct {
		have []string
		want []string
	}{
		{[]string{"xterm", "konsole", "gnome-terminal", "x-terminal-emulator"},
			[]string{"/usr/bin/x-terminal-emulator", "-T", "web logs", "-e", "berth", "logs", "-f", "web"}},
		{[]string{"xterm", "konsole", "gnome-terminal"},
			[]string{"/usr/bin/gnome-terminal", "--title=web logs", "--", "berth", "logs", "-f", "web"}},
		{[]string{"xterm", "konsole"}, []string{"/usr/bin/konsole", "-e", "berth", "logs", "-f", "web"}},
		{[]string{"xterm"}, []string{"/usr/bin/xterm", "-T", "web logs", "-e", "berth", "logs", "-f", "web"}},
	} {
		got, err := terminalArgv(pathWith(tc.have...), "web logs", argv)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("with %v: %q, %v; want %q", tc.have, got, err, tc.want)
		}
	}
	if _, err := terminalArgv(pathWith(), "t", argv); err == nil || !strings.Contains(err.Error(), "apt-get install xterm") {
		t.Errorf("no terminal: %v", err)
	}
	if _, err := terminalArgv(pathWith("xterm"), "t", nil); err == nil {
		t.Error("no command: no error")
	}
}

func TestClipboardArgv(t *testing.T) {
	for _, tc := range []struct {
		have    []string
		wayland bool
		want    []string
		errHas  string
	}{
		{[]string{"wl-copy", "xclip", "xsel"}, true, []string{"/usr/bin/wl-copy"}, ""},
		{[]string{"wl-copy", "xclip", "xsel"}, false, []string{"/usr/bin/xclip", "-selection", "clipboard"}, ""},
		{[]string{"xclip"}, true, []string{"/usr/bin/xclip", "-selection", "clipboard"}, ""},
		{[]string{"xsel"}, false, []string{"/usr/bin/xsel", "--clipboard", "--input"}, ""},
		{[]string{"wl-copy"}, false, nil, "install xclip or xsel"},
		{nil, true, nil, "wl-clipboard"},
	} {
		got, err := clipboardArgv(pathWith(tc.have...), tc.wayland)
		if tc.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("with %v (wayland %v): %v, want an error with %q", tc.have, tc.wayland, err, tc.errHas)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("with %v (wayland %v): %q, %v; want %q", tc.have, tc.wayland, got, err, tc.want)
		}
	}
}

func TestOpenAndPickArgv(t *testing.T) {
	if got, err := openArgv(pathWith("xdg-open"), "/data"); err != nil || !reflect.DeepEqual(got, []string{"/usr/bin/xdg-open", "/data"}) {
		t.Errorf("openArgv = %q, %v", got, err)
	}
	if _, err := openArgv(pathWith(), "/data"); err == nil || !strings.Contains(err.Error(), "xdg-utils") {
		t.Errorf("no xdg-open: %v", err)
	}
	got, err := pickArgv(pathWith("zenity", "kdialog"), "Import images")
	if want := []string{"/usr/bin/zenity", "--file-selection", "--multiple", "--separator=\n", "--title=Import images"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("pickArgv with zenity = %q, %v", got, err)
	}
	got, err = pickArgv(pathWith("kdialog"), "Import images")
	if want := []string{"/usr/bin/kdialog", "--title", "Import images", "--getopenfilename", "--multiple", "--separate-output"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("pickArgv with kdialog = %q, %v", got, err)
	}
	if _, err := pickArgv(pathWith(), "x"); err == nil || !strings.Contains(err.Error(), "zenity") {
		t.Errorf("no dialog: %v", err)
	}
	if got := parsePicked("/a b.tar\n/c.tar\r\n\n"); !reflect.DeepEqual(got, []string{"/a b.tar", "/c.tar"}) {
		t.Errorf("parsePicked = %q", got)
	}
	if got := parsePicked(""); got != nil {
		t.Errorf("parsePicked(\"\") = %q", got)
	}
}

func TestAutostartFile(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	for _, tc := range []struct {
		env  map[string]string
		home string
		want string
	}{
		{map[string]string{"XDG_CONFIG_HOME": "/cfg"}, "/home/u", "/cfg/autostart/berth.desktop"},
		{nil, "/home/u", "/home/u/.config/autostart/berth.desktop"},
		{map[string]string{"XDG_CONFIG_HOME": "relative"}, "/home/u", "/home/u/.config/autostart/berth.desktop"},
	} {
		if got, err := autostartFile(env(tc.env), tc.home); err != nil || got != tc.want {
			t.Errorf("autostartFile(%v, %q) = %q, %v; want %q", tc.env, tc.home, got, err, tc.want)
		}
	}
	if _, err := autostartFile(env(nil), ""); err == nil {
		t.Error("no home, no XDG_CONFIG_HOME: no error")
	}
}

func TestDesktopEntry(t *testing.T) {
	got := desktopEntry("Berth", "/opt/berth/bin/berth", "package-x-generic")
	want := "[Desktop Entry]\nType=Application\nName=Berth\nComment=Berth's menu: containers in their own VMs\n" +
		"Exec=/opt/berth/bin/berth menubar\nIcon=package-x-generic\nTerminal=false\nX-GNOME-Autostart-enabled=true\n"
	if got != want {
		t.Errorf("desktopEntry =\n%s\nwant\n%s", got, want)
	}
	if !autostartEnabled(got) {
		t.Error("our own entry reads as disabled")
	}
	// A path with reserved characters: quoted for Exec, then string-escaped.
	if got := desktopEntry("Berth", `/home/a b/$x\y/100%`, "i"); !strings.Contains(got, `Exec="/home/a b/\\$x\\\\y/100%%" menubar`+"\n") {
		t.Errorf("quoted Exec line missing in\n%s", got)
	}
}

func TestExecQuote(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/usr/bin/berth", "/usr/bin/berth"},
		{"/a b", `"/a b"`},
		{`/a"b`, `"/a\"b"`},
		{"/a$b", `"/a\$b"`},
		{"/a`b", "\"/a\\`b\""},
		{`/a\b`, `"/a\\b"`},
		{"/50%", "/50%%"},
		{"", `""`},
	} {
		if got := execQuote(tc.in); got != tc.want {
			t.Errorf("execQuote(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestAutostartEnabled(t *testing.T) {
	for _, tc := range []struct {
		text string
		want bool
	}{
		{"[Desktop Entry]\nExec=berth menubar\n", true},
		{"[Desktop Entry]\nHidden=true\n", false},
		{"[Desktop Entry]\nHidden=false\n", true},
		{"[Desktop Entry]\nX-GNOME-Autostart-enabled=false\n", false},
		{"[Desktop Entry]\nExec=x\n[Desktop Action a]\nHidden=true\n", true},
	} {
		if got := autostartEnabled(tc.text); got != tc.want {
			t.Errorf("autostartEnabled(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
}

func TestMarkupEscape(t *testing.T) {
	if got := markupEscape(`exit 1 <none> & "x"`); got != `exit 1 &lt;none&gt; &amp; "x"` {
		t.Errorf("markupEscape = %q", got)
	}
}
