package menubar

import (
	"bytes"
	"errors"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/berthvm/berth/ui/viewmodel"
)

// The Effects' decisions: the osascript programs for Terminal and for
// notifications outside Berth.app, whether this process is Berth.app's
// main executable, the login item's status. The darwin files run them.

// appleScriptString quotes s as an AppleScript string literal: backslash
// and double quote escaped, tab, line feed and carriage return as \t, \n
// and \r, other control characters as spaces (a script cannot hold them).
func appleScriptString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '\\', '"':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 || r == 0x7f {
				b.WriteByte(' ')
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// shellQuote quotes one word for the user's shell, which runs Terminal's
// `do script` (zsh by default, bash, sh; fish reads it alike unless the
// word holds a backslash followed by a backslash or a quote): unchanged
// if made only of characters no shell treats specially (and not starting
// with =, which zsh expands), else in single quotes with each ' written as
// '\”.
func shellQuote(s string) string {
	if s == "" || s[0] == '=' {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@%+,", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// shellJoin is argv as one shell command line.
func shellJoin(argv []string) string {
	words := make([]string, len(argv))
	for i, a := range argv {
		words[i] = shellQuote(a)
	}
	return strings.Join(words, " ")
}

var errNoCommand = errors.New("open a terminal: no command to run")

// terminalArgs is the osascript command line that opens a new Terminal
// window running argv in the user's shell, titled title. The window stays
// open when the command ends, so its output can be read. Setting the title
// may fail on a Terminal without that property: the command runs anyway.
func terminalArgs(title string, argv []string) ([]string, error) {
	if len(argv) == 0 {
		return nil, errNoCommand
	}
	lines := []string{
		`tell application "Terminal"`,
		`activate`,
		`set t to do script ` + appleScriptString(shellJoin(argv)),
	}
	if title != "" {
		lines = append(lines, `try`, `set custom title of t to `+appleScriptString(title), `end try`)
	}
	lines = append(lines, `end tell`)
	args := make([]string, 0, 2*len(lines))
	for _, l := range lines {
		args = append(args, "-e", l)
	}
	return args, nil
}

// failedSound is the notification sound for bad news (a system sound).
const failedSound = "Basso"

// notifyArgs is the osascript command line that shows n as a notification
// where UserNotifications cannot be used (outside Berth.app). macOS
// attributes it to Script Editor and shows its icon. A note without a
// title takes the app's name; one without a body shows its title as the
// body under the app's name (display notification needs a body).
func notifyArgs(appName string, n viewmodel.Note) []string {
	title, body := n.Title, n.Body
	if title == "" {
		title = appName
	}
	if body == "" {
		body, title = title, appName
	}
	script := "display notification " + appleScriptString(body) + " with title " + appleScriptString(title)
	if n.Failed {
		script += " sound name " + appleScriptString(failedSound)
	}
	return []string{"-e", script}
}

// inAppBundle reports whether this process is a .app bundle's main
// executable: a bundle identifier, a bundle path ending in .app, and the
// running executable (os.Executable, not resolved through symlinks)
// directly in that bundle's Contents/MacOS. Only then may it use
// UserNotifications (+currentNotificationCenter raises an exception that
// cannot be caught across cgo, and the process aborts, for anything else:
// a plain binary, or a binary elsewhere in the bundle) and SMAppService
// mainAppService (NotFound elsewhere). A berth reached through a symlink
// (Contents/Helpers/berth, a link in PATH) answers no: the safe side.
func inAppBundle(bundleID, bundlePath, exe string) bool {
	if bundleID == "" || bundlePath == "" || exe == "" {
		return false
	}
	bundlePath = filepath.Clean(bundlePath)
	if !strings.EqualFold(filepath.Ext(bundlePath), ".app") {
		return false
	}
	return filepath.Dir(filepath.Clean(exe)) == filepath.Join(bundlePath, "Contents", "MacOS")
}

// SMAppServiceStatus values (ServiceManagement's SMAppService.h).
const (
	smNotRegistered    = 0
	smEnabled          = 1
	smRequiresApproval = 2
	smNotFound         = 3
)

// loginStatus maps SMAppService's status to the view model's.
func loginStatus(code int) viewmodel.LoginStatus {
	switch code {
	case smNotRegistered:
		return viewmodel.LoginOff
	case smEnabled:
		return viewmodel.LoginOn
	case smRequiresApproval:
		return viewmodel.LoginRequiresApproval
	default: // smNotFound, or a value newer than this code
		return viewmodel.LoginUnavailable
	}
}

// splitPaths splits the NUL-separated paths that the drop target hands
// over (paths cannot contain NUL), dropping empty ones.
func splitPaths(buf []byte) []string {
	var out []string
	for p := range bytes.SplitSeq(buf, []byte{0}) {
		if len(p) > 0 {
			out = append(out, string(p))
		}
	}
	return out
}

// noteRequest is a notification as UserNotifications gets it.
type noteRequest struct {
	// ID identifies the request: a newer one with the same ID replaces
	// the older one. The note's Key, or a fresh one when it has none.
	ID          string
	Title, Body string
	Sound       bool // the default sound, for bad news
}

// noteRequestFor maps a note to a UserNotifications request; seq numbers
// the notes of this process, for notes without a Key. The strings are
// valid UTF-8 without NUL (they become NSStrings through C strings); an
// empty title takes the app's name.
func noteRequestFor(appName string, n viewmodel.Note, seq uint64) noteRequest {
	clean := func(s string) string {
		return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	}
	r := noteRequest{ID: clean(n.Key), Title: clean(n.Title), Body: clean(n.Body), Sound: n.Failed}
	if r.ID == "" {
		r.ID = "berth.note." + strconv.FormatUint(seq, 10)
	}
	if r.Title == "" {
		r.Title = appName
	}
	return r
}
