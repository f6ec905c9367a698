package menubar

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	vm "github.com/berthvm/berth/ui/viewmodel"
)

func TestMenuAppleScriptString(t *testing.T) {
	cases := map[string]string{
		``:                        `""`,
		`web`:                     `"web"`,
		`say "hi"`:                `"say \"hi\""`,
		`C:\dir`:                  `"C:\\dir"`,
		`\"`:                      `"\\\""`,
		"two\nlines\r\tindented":  `"two\nlines\r\tindented"`,
		"bell\a and \x00 del\x7f": `"bell  and   del "`,
		"ünïcode ✓ 🚢":             `"ünïcode ✓ 🚢"`,
		`'single' quotes stay`:    `"'single' quotes stay"`,
	}
	for in, want := range cases {
		if got := appleScriptString(in); got != want {
			t.Errorf("appleScriptString(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestMenuShellQuote(t *testing.T) {
	cases := map[string]string{
		"berth": "berth",
		"/Applications/Berth.app/Contents/Helpers/berth": "/Applications/Berth.app/Contents/Helpers/berth",
		"--name=web":     "--name=web",
		"":               "''",
		"two words":      "'two words'",
		"it's":           `'it'\''s'`,
		"$HOME":          "'$HOME'",
		"a;rm -rf ~":     "'a;rm -rf ~'",
		"~":              "'~'",
		"=ls":            "'=ls'",
		"*":              "'*'",
		"`id`":           "'`id`'",
		"back\\slash":    "'back\\slash'",
		"new\nline":      "'new\nline'",
		"ünïcode":        "'ünïcode'",
		"/My Disk/x.tar": "'/My Disk/x.tar'",
	}
	for in, want := range cases {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// The quoting round-trips through the real shells here (bash, and dash as
// sh; zsh, macOS's default, when installed): each word comes back as given.
func TestMenuShellJoinRoundTrip(t *testing.T) {
	argv := []string{"berth", "exec", "-it", "my web", "sh", "-c", `echo "$HOME" 'x' \n; exit`, "", "it's", "=ls", "~", "*", "a\nb", "ünï", "--name=x", `\\'`}
	shells := 0
	for _, sh := range []string{"bash", "dash", "zsh"} {
		path, err := exec.LookPath(sh)
		if err != nil {
			continue
		}
		shells++
		// The joined line as a shell reads it: print each word.
		cmd := exec.Command(path, "-c", `printarg() { for a in "$@"; do printf '%s\0' "$a"; done; }; printarg `+shellJoin(argv))
		cmd.Dir = t.TempDir()
		if err := os.WriteFile(filepath.Join(cmd.Dir, "globbed"), nil, 0o600); err != nil {
			t.Fatal(err) // an unquoted * would read as "globbed"
		}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v", sh, err)
		}
		got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
		if !reflect.DeepEqual(got, argv) {
			t.Errorf("%s read %q, want %q", sh, got, argv)
		}
	}
	if shells == 0 {
		t.Skip("no shell to run")
	}
}

func TestMenuTerminalArgs(t *testing.T) {
	got, err := terminalArgs(`logs "web"`, []string{"/Applications/Berth.app/Contents/Helpers/berth", "logs", "-f", "my web"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"-e", `tell application "Terminal"`,
		"-e", `activate`,
		"-e", `set t to do script "/Applications/Berth.app/Contents/Helpers/berth logs -f 'my web'"`,
		"-e", `try`,
		"-e", `set custom title of t to "logs \"web\""`,
		"-e", `end try`,
		"-e", `end tell`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("terminalArgs:\n got %q\nwant %q", got, want)
	}
	// A shell word holding a quote and a backslash: shell-quoted first,
	// then AppleScript-quoted.
	got, _ = terminalArgs("", []string{"sh", "-c", `echo "a\b"`})
	if want := `set t to do script "sh -c 'echo \"a\\b\"'"`; got[5] != want || len(got) != 8 {
		t.Errorf("terminalArgs without a title = %q, want %q and no title lines", got, want)
	}
	if _, err := terminalArgs("x", nil); !errors.Is(err, errNoCommand) {
		t.Errorf("no argv: %v", err)
	}
}

func TestMenuNotifyArgs(t *testing.T) {
	cases := []struct {
		note vm.Note
		want string
	}{
		{vm.Note{Title: "web exited", Body: "exit code 1"}, `display notification "exit code 1" with title "web exited"`},
		{vm.Note{Title: "web crashed", Body: `the VM "web" died`, Failed: true}, `display notification "the VM \"web\" died" with title "web crashed" sound name "Basso"`},
		{vm.Note{Body: "imported"}, `display notification "imported" with title "Berth"`},
		{vm.Note{Title: "Daemon is back"}, `display notification "Daemon is back" with title "Berth"`},
		{vm.Note{}, `display notification "Berth" with title "Berth"`},
		{vm.Note{Title: "two\nlines", Body: `back\slash`}, `display notification "back\\slash" with title "two\nlines"`},
	}
	for _, tc := range cases {
		got := notifyArgs("Berth", tc.note)
		if len(got) != 2 || got[0] != "-e" || got[1] != tc.want {
			t.Errorf("notifyArgs(%+v) = %q, want -e %q", tc.note, got, tc.want)
		}
	}
}

func TestMenuInAppBundle(t *testing.T) {
	const id = "com.berthvm.Berth"
	cases := []struct {
		name                string
		id, bundlePath, exe string
		want                bool
	}{
		{"the app", id, "/Applications/Berth.app", "/Applications/Berth.app/Contents/MacOS/Berth", true},
		{"unclean paths", id, "/Applications/Berth.app/", "/Applications/./Berth.app/Contents/MacOS/Berth", true},
		{"upper-case extension", id, "/Applications/Berth.APP", "/Applications/Berth.APP/Contents/MacOS/Berth", true},
		{"no bundle identifier", "", "/Applications/Berth.app", "/Applications/Berth.app/Contents/MacOS/Berth", false},
		{"a plain binary", "", "/usr/local/bin", "/usr/local/bin/berth", false},
		{"a plain binary, id from somewhere", id, "/usr/local/bin", "/usr/local/bin/berth", false},
		{"through the helper symlink", id, "/Applications/Berth.app", "/Applications/Berth.app/Contents/Helpers/berth", false},
		{"elsewhere in the bundle", id, "/Applications/Berth.app", "/Applications/Berth.app/Contents/Resources/berth", false},
		{"another bundle's MacOS", id, "/Applications/Berth.app", "/Applications/Other.app/Contents/MacOS/Berth", false},
		{"a framework bundle", id, "/Library/Frameworks/X.framework", "/Library/Frameworks/X.framework/Contents/MacOS/X", false},
		{"no executable", id, "/Applications/Berth.app", "", false},
		{"no bundle path", id, "", "/Contents/MacOS/Berth", false},
	}
	for _, tc := range cases {
		if got := inAppBundle(tc.id, tc.bundlePath, tc.exe); got != tc.want {
			t.Errorf("%s: inAppBundle = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestMenuLoginStatus(t *testing.T) {
	want := map[int]vm.LoginStatus{0: vm.LoginOff, 1: vm.LoginOn, 2: vm.LoginRequiresApproval, 3: vm.LoginUnavailable, 4: vm.LoginUnavailable, -1: vm.LoginUnavailable}
	for code, st := range want {
		if got := loginStatus(code); got != st {
			t.Errorf("loginStatus(%d) = %s, want %s", code, got, st)
		}
	}
}

func TestMenuSplitPaths(t *testing.T) {
	cases := []struct {
		buf  []byte
		want []string
	}{
		{nil, nil},
		{[]byte("/a/b.tar\x00"), []string{"/a/b.tar"}},
		{[]byte("/a\x00/My Files/layout\x00\x00/new\nline\x00"), []string{"/a", "/My Files/layout", "/new\nline"}},
		{[]byte("/no-terminator"), []string{"/no-terminator"}},
	}
	for _, tc := range cases {
		if got := splitPaths(tc.buf); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitPaths(%q) = %q, want %q", tc.buf, got, tc.want)
		}
	}
}

func TestMenuNoteRequest(t *testing.T) {
	cases := []struct {
		note vm.Note
		want noteRequest
	}{
		{vm.Note{Kind: vm.NoteExit, Key: "container/abc", Title: "web exited", Body: "exit code 1", Failed: true},
			noteRequest{ID: "container/abc", Title: "web exited", Body: "exit code 1", Sound: true}},
		{vm.Note{Kind: vm.NoteImage, Title: "Imported", Body: "busybox"},
			noteRequest{ID: "berth.note.7", Title: "Imported", Body: "busybox"}},
		{vm.Note{Key: "k", Body: "no title"}, noteRequest{ID: "k", Title: "Berth", Body: "no title"}},
		{vm.Note{Key: "a\x00b", Title: "bad \xff utf8", Body: "nul\x00byte"},
			noteRequest{ID: "ab", Title: "bad \uFFFD utf8", Body: "nulbyte"}},
	}
	for _, tc := range cases {
		if got := noteRequestFor("Berth", tc.note, 7); got != tc.want {
			t.Errorf("noteRequestFor(%+v) = %+v, want %+v", tc.note, got, tc.want)
		}
	}
}
