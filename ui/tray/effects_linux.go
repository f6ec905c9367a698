package tray

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/berthvm/berth/core/atomicfile"
	"github.com/berthvm/berth/ui/viewmodel"
)

const (
	notifyName  = "org.freedesktop.Notifications"
	notifyPath  = dbus.ObjectPath("/org/freedesktop/Notifications")
	failedIcon  = "dialog-error"
	urgencyHigh = byte(2) // "critical": stays until dismissed
	toolTimeout = 10 * time.Second
)

// Notify posts n through org.freedesktop.Notifications, replacing the
// last note with the same Key that this Tray posted. A failed note is
// critical and shows an error icon. Errors are logged: a lost notification
// must not stop what led to it.
func (t *Tray) Notify(n viewmodel.Note) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	t.noteMu.Lock()
	defer t.noteMu.Unlock()
	body := n.Body
	if t.bodyMarkup(ctx) {
		body = markupEscape(body)
	}
	icon, hints := t.icon, map[string]dbus.Variant{}
	if n.Failed {
		icon = failedIcon
		hints["urgency"] = dbus.MakeVariant(urgencyHigh)
	}
	var id uint32
	err := t.conn.Object(notifyName, notifyPath).CallWithContext(ctx, notifyName+".Notify", 0,
		t.appName, t.notes[n.Key], icon, n.Title, body, []string{}, hints, int32(-1)).Store(&id)
	if err != nil {
		t.log.Warn("tray: post a notification", "title", n.Title, "err", err)
		return
	}
	if n.Key != "" {
		t.notes[n.Key] = id
	}
}

// bodyMarkup reports whether the notification server reads bodies as
// markup; asked once (noteMu held).
func (t *Tray) bodyMarkup(ctx context.Context) bool {
	if t.markup == nil {
		var caps []string
		err := t.conn.Object(notifyName, notifyPath).CallWithContext(ctx, notifyName+".GetCapabilities", 0).Store(&caps)
		if err != nil {
			return false // ask again next time
		}
		m := slices.Contains(caps, "body-markup")
		t.markup = &m
	}
	return *t.markup
}

// OpenTerminal runs argv in a new terminal window titled title.
func (t *Tray) OpenTerminal(title string, argv []string) error {
	cmd, err := terminalArgv(exec.LookPath, title, argv)
	if err != nil {
		return err
	}
	return startDetached(cmd)
}

// CopyText puts s on the clipboard with wl-copy, xclip or xsel.
func (t *Tray) CopyText(s string) error {
	argv, err := clipboardArgv(exec.LookPath, os.Getenv("WAYLAND_DISPLAY") != "")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = strings.NewReader(s)
	// No pipe for its output: these tools fork a child that keeps serving
	// the selection, and it would hold a pipe (and Wait) open for ever.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("copy to the clipboard with %s: %w", filepath.Base(argv[0]), err)
	}
	return nil
}

// OpenPath shows path with xdg-open.
func (t *Tray) OpenPath(path string) error {
	argv, err := openArgv(exec.LookPath, path)
	if err != nil {
		return err
	}
	return startDetached(argv)
}

// PickFiles asks for files with zenity or kdialog; none if cancelled.
func (t *Tray) PickFiles(prompt string) ([]string, error) {
	argv, err := pickArgv(exec.LookPath, prompt)
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.ExitCode() == 1:
		return nil, nil // cancelled
	case err != nil:
		return nil, fmt.Errorf("choose files with %s: %w: %s", filepath.Base(argv[0]), err, strings.TrimSpace(stderr.String()))
	}
	return parsePicked(string(out)), nil
}

// LoginItem reports whether the XDG autostart entry exists and is enabled.
func (t *Tray) LoginItem() viewmodel.LoginStatus {
	path, err := t.autostartFile()
	if err != nil {
		return viewmodel.LoginUnavailable
	}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return viewmodel.LoginOff
	case err != nil:
		return viewmodel.LoginUnavailable
	case !autostartEnabled(string(b)):
		return viewmodel.LoginOff
	}
	return viewmodel.LoginOn
}

// SetLoginItem writes (on) or removes (off) the XDG autostart entry that
// runs `<this executable> menubar` at login.
func (t *Tray) SetLoginItem(on bool) error {
	path, err := t.autostartFile()
	if err != nil {
		return err
	}
	if !on {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("launch at login: %w", err)
		}
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("launch at login: find this program: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("launch at login: %w", err)
	}
	if err := atomicfile.WriteFile(path, []byte(desktopEntry(t.appName, exe, t.icon)), 0o644); err != nil {
		return fmt.Errorf("launch at login: %w", err)
	}
	return nil
}

func (t *Tray) autostartFile() (string, error) {
	home, _ := os.UserHomeDir()
	return autostartFile(os.Getenv, home)
}

// startDetached starts argv in its own session, so that it outlives us and
// our process group's signals, and reaps it when it ends.
func startDetached(argv []string) error {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run %s: %w", filepath.Base(argv[0]), err)
	}
	go func() { _ = cmd.Wait() }()
	return nil
}
