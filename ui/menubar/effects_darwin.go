package menubar

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"unsafe"

	"github.com/progrium/darwinkit/macos/appkit"
	"github.com/progrium/darwinkit/macos/foundation"
	"github.com/progrium/darwinkit/objc"

	"github.com/berthvm/berth/ui/viewmodel"
)

var errLoginUnavailable = errors.New("start at login: only Berth.app can start at login (this berth is not running as the app's main executable)")

// pickButton is the open panel's default button.
const pickButton = "Import"

// Notify posts n: through UserNotifications from Berth.app's main
// executable (authorization is asked once, at the first note; a note with
// the Key of an earlier one replaces it), else through osascript's
// display notification. It never blocks.
func (a *App) Notify(n viewmodel.Note) {
	if a.inApp() {
		notifyPost(noteRequestFor(a.opts.appName(), n, a.noteSeq.Add(1)))
		return
	}
	cmd := exec.Command("osascript", notifyArgs(a.opts.appName(), n)...)
	if err := cmd.Start(); err != nil {
		slog.Warn("menubar: notification not shown", "err", err)
		return
	}
	go func() {
		if err := cmd.Wait(); err != nil {
			slog.Warn("menubar: notification not shown: osascript", "err", err)
		}
	}()
}

// OpenTerminal runs argv in a new Terminal window titled title, through
// osascript (the first time, macOS asks the user to let Berth control
// Terminal).
func (a *App) OpenTerminal(title string, argv []string) error {
	args, err := terminalArgs(title, argv)
	if err != nil {
		return err
	}
	out, err := exec.Command("osascript", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("open Terminal for %q: %w: %s", title, err, out)
	}
	return nil
}

// CopyText puts s on the general pasteboard as plain text.
func (a *App) CopyText(s string) error {
	ok := false
	if err := a.onMain(func() {
		pb := appkit.Pasteboard_GeneralPasteboard()
		pb.ClearContents()
		ok = pb.SetStringForType(s, appkit.PasteboardTypeString)
	}); err != nil {
		return err
	}
	if !ok {
		return errors.New("copy to the clipboard: the pasteboard refused the text")
	}
	return nil
}

// OpenPath opens path with its application (a folder in the Finder, a
// log in Console).
func (a *App) OpenPath(path string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	ok := false
	if err := a.onMain(func() {
		ok = appkit.Workspace_SharedWorkspace().OpenURL(foundation.URL_FileURLWithPath(path))
	}); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("open %s: no application opened it", path)
	}
	return nil
}

// PickFiles shows an open panel for files and folders (OCI layouts are
// folders), several at once, in front of other apps; none if cancelled.
func (a *App) PickFiles(prompt string) ([]string, error) {
	var paths []string
	err := a.onMain(func() {
		if !a.app.IsNil() {
			a.app.ActivateIgnoringOtherApps(true) // an accessory app's panel would open behind the front app
		}
		panel := appkit.OpenPanel_OpenPanel()
		panel.SetCanChooseFiles(true)
		panel.SetCanChooseDirectories(true)
		panel.SetAllowsMultipleSelection(true)
		panel.SetMessage(prompt)
		panel.SetPrompt(pickButton)
		if panel.RunModal() != appkit.ModalResponseOK {
			return
		}
		for _, u := range panel.URLs() {
			if p := u.Path(); p != "" {
				paths = append(paths, p)
			}
		}
	})
	return paths, err
}

// smAppService is SMAppService's +mainAppService, or a nil object when
// ServiceManagement lacks it (before macOS 13). See objcnames.go.
func smAppService() (cls objc.Class, svc objc.Object) {
	cls = objc.GetClass("SMAppService")
	if cls.Ptr() == nil {
		return cls, objc.Object{}
	}
	return cls, objc.Call[objc.Object](cls, objc.Sel("mainAppService"))
}

// LoginItem reports whether Berth.app starts at login (SMAppService);
// Unavailable when this process is not Berth.app's main executable.
func (a *App) LoginItem() viewmodel.LoginStatus {
	if !a.inApp() {
		return viewmodel.LoginUnavailable
	}
	st := viewmodel.LoginUnavailable
	if p := inPool(func() {
		if _, svc := smAppService(); !svc.IsNil() {
			st = loginStatus(objc.Call[int](svc, objc.Sel("status")))
		}
	}); p != nil {
		slog.Error("menubar: login item status", "panic", p)
		return viewmodel.LoginUnavailable
	}
	return st
}

// SetLoginItem registers or unregisters Berth.app as a login item. If
// macOS wants the user's approval, it opens System Settings → Login Items.
func (a *App) SetLoginItem(on bool) error {
	if !a.inApp() {
		return errLoginUnavailable
	}
	var err error
	if p := inPool(func() {
		cls, svc := smAppService()
		if svc.IsNil() {
			err = errLoginUnavailable
			return
		}
		var nsErr foundation.Error
		var ok bool
		if on {
			ok = objc.Call[bool](svc, objc.Sel("registerAndReturnError:"), unsafe.Pointer(&nsErr))
		} else {
			ok = objc.Call[bool](svc, objc.Sel("unregisterAndReturnError:"), unsafe.Pointer(&nsErr))
		}
		if !ok {
			msg := "failed"
			if !nsErr.IsNil() {
				msg = nsErr.LocalizedDescription()
			}
			verb := map[bool]string{true: "turn on", false: "turn off"}[on]
			err = fmt.Errorf("%s start at login: %s", verb, msg)
		}
		if on && loginStatus(objc.Call[int](svc, objc.Sel("status"))) == viewmodel.LoginRequiresApproval {
			objc.Call[objc.Void](cls, objc.Sel("openSystemSettingsLoginItems"))
		}
	}); p != nil {
		slog.Error("menubar: set the login item", "panic", p)
		return errors.New("start at login: internal error")
	}
	return err
}
