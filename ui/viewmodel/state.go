package viewmodel

import (
	"time"

	"github.com/berthvm/berth/core/api"
)

// DaemonStatus is how the app sees the daemon.
type DaemonStatus string

const (
	DaemonRunning     DaemonStatus = "running"
	DaemonStarting    DaemonStatus = "starting"    // the app is starting it
	DaemonDown        DaemonStatus = "not running" // nothing answers on its socket
	DaemonUnreachable DaemonStatus = "unreachable" // something answers, not usefully
)

// State is everything the menu shows, as plain data. The presenter keeps it
// from the daemon's event stream; tests write it by hand.
type State struct {
	// Now is the time uptimes and "ago" are measured against.
	Now time.Time
	// OS is the GOOS the app runs on: it names the host section ("This Mac").
	OS string

	Daemon DaemonStatus
	// DaemonError says why the daemon is not running or unreachable.
	DaemonError string
	// Info is the daemon's system info (host, defaults, network, paths);
	// zero until it answered once.
	Info api.SystemInfo

	Containers []api.Container
	Images     []api.Image
	Networks   []api.Network
	// Stats are live figures by container id, fetched while the menu is
	// open.
	Stats map[string]api.ContainerStats
	// Asked are the containers the user asked to stop or kill (their end is
	// no news): set by stop and kill, cleared by start.
	Asked map[string]bool

	// Jobs are long actions under way, and recent failures.
	Jobs []Job

	Login LoginStatus
	// NotesOff are the notification kinds the user turned off.
	NotesOff map[NoteKind]bool
}

// Job is a long action the menu shows while it runs, and for a while after
// it failed.
type Job struct {
	ID    string // "import/app.tar", "start/<container id>"
	Title string // "Importing app.tar"
	// Progress is what is known of it ("45%", "3 of 7 layers").
	Progress string
	// Failed is the error, once it failed.
	Failed string
}

// Container returns the container with id.
func (s State) Container(id string) (api.Container, bool) {
	for _, c := range s.Containers {
		if c.ID == id {
			return c, true
		}
	}
	return api.Container{}, false
}
