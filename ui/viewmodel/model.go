package viewmodel

// Model is what a renderer shows and whom it tells what the user did: the
// presenter (ui/presenter) in the app, a fixed menu in a renderer's tests.
// Renderers call it from their UI thread; no method blocks.
type Model interface {
	// Menu is the menu to show now.
	Menu() Menu
	// Updates receives a value (never blocking the sender) whenever Menu
	// changed; a renderer then asks for Menu again.
	Updates() <-chan struct{}
	// Perform carries out a click. It returns at once: long work runs off
	// the caller's thread and shows its progress in the menu.
	Perform(a Action)
	// Drop imports files dropped on the status item.
	Drop(paths []string)
	// Opened says the menu opened (true) or closed: live figures
	// (statistics) are fetched only while it is open.
	Opened(open bool)
}

// NoteKind groups notifications; each kind can be turned off.
type NoteKind string

const (
	// NoteExit: a container exited with a non-zero code.
	NoteExit NoteKind = "exit"
	// NoteCrash: a container died (its VM crashed or was lost).
	NoteCrash NoteKind = "crash"
	// NoteImage: an image import or pull finished or failed.
	NoteImage NoteKind = "image"
	// NoteDaemon: the daemon was lost, or came back.
	NoteDaemon NoteKind = "daemon"
	// NoteAction: something the user asked for from the menu failed.
	NoteAction NoteKind = "action"
)

// NoteKinds are every kind, in the order the settings list them.
var NoteKinds = []NoteKind{NoteExit, NoteCrash, NoteImage, NoteDaemon, NoteAction}

// Note is one desktop notification.
type Note struct {
	Kind NoteKind
	// Key identifies what it is about ("container/<id>"): a newer note
	// with the same key replaces the older one where the platform can.
	Key   string
	Title string
	Body  string
	// Failed marks bad news (an error icon or sound where there is one).
	Failed bool
}

// LoginStatus is whether the app starts at login.
type LoginStatus string

const (
	LoginOff              LoginStatus = "off"
	LoginOn               LoginStatus = "on"
	LoginRequiresApproval LoginStatus = "requires-approval" // macOS: the user must allow it in System Settings
	LoginUnavailable      LoginStatus = "unavailable"       // not from here (an unbundled binary, no autostart folder)
)

// Effects are what the presenter asks of the platform: everything outside
// the daemon that a click or an event leads to. Each renderer implements
// it (AppKit, the DBus tray); tests record the calls.
type Effects interface {
	// Notify posts a desktop notification.
	Notify(n Note)
	// OpenTerminal runs argv in a new terminal window titled title.
	OpenTerminal(title string, argv []string) error
	// CopyText puts s on the clipboard.
	CopyText(s string) error
	// OpenPath shows a file or folder in the platform's file browser or
	// viewer.
	OpenPath(path string) error
	// PickFiles asks the user for files to import; none if cancelled.
	PickFiles(prompt string) ([]string, error)
	// LoginItem reports whether the app starts at login; SetLoginItem
	// changes it.
	LoginItem() LoginStatus
	SetLoginItem(on bool) error
	// Quit ends the app (not the daemon).
	Quit()
}
