package viewmodel

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/berthvm/berth/core/api"
)

// Decide returns the notes an event calls for. prev is the state before the
// event (what the user asked for, how the container was); next the state
// after it (the container's record as it ended, when it still exists). A
// stop or kill the user asked for, and a clean exit, are no news.
func Decide(prev, next State, ev api.Event) []Note {
	switch {
	case ev.Type == api.EventContainer && ev.Action == "die":
		return decideDie(prev, next, ev)
	case ev.Type == api.EventImage && (ev.Action == "load" || ev.Action == "pull"):
		verb := map[string]string{"load": "Imported", "pull": "Pulled"}[ev.Action]
		return []Note{{Kind: NoteImage, Key: "image/" + ev.Name, Title: verb + " " + ev.Name,
			Body: "The image is ready to run."}}
	}
	return nil
}

func decideDie(prev, next State, ev api.Event) []Note {
	if prev.Asked[ev.ID] {
		return nil
	}
	c, ok := next.Container(ev.ID)
	if !ok {
		c, _ = prev.Container(ev.ID) // removed (--rm): what it was
	}
	name := ev.Name
	if name == "" {
		name = c.Name
	}
	code, err := strconv.Atoi(ev.Attributes["exitCode"])
	if err != nil {
		code = c.ExitCode
	}
	cause := ev.Attributes["error"]
	if cause == "" {
		cause = c.Error
	}
	key := "container/" + ev.ID
	if oom := oomLine(c.ConsoleTail); oom != "" {
		return []Note{{Kind: NoteCrash, Key: key, Failed: true, Title: name + " ran out of memory",
			Body: oom + "\nGive it more with --memory, or use less."}}
	}
	if c.State == api.StateDead || (cause != "" && code == 255) {
		body := cause
		if last := lastLine(c.ConsoleTail); last != "" {
			body += "\nConsole: " + last
		}
		return []Note{{Kind: NoteCrash, Key: key, Failed: true, Title: name + " died", Body: body}}
	}
	if code == 0 {
		return nil
	}
	body := "berth logs " + name + " shows what it printed."
	if c.Image != "" {
		body = c.Image + ": " + body
	}
	return []Note{{Kind: NoteExit, Key: key, Failed: true, Title: fmt.Sprintf("%s exited with code %d", name, code), Body: body}}
}

// oomLine is the kernel's out-of-memory line in a console tail, if any.
func oomLine(console string) string {
	for _, l := range strings.Split(console, "\n") {
		if strings.Contains(l, "Out of memory: Killed process") {
			if _, rest, ok := strings.Cut(l, "] "); ok {
				return strings.TrimSpace(rest)
			}
			return strings.TrimSpace(l)
		}
	}
	return ""
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// Notifier turns the notes as they come into the notes to post: a burst
// (notes less than Window apart) of three or more of a kind becomes one
// note, and at most Limit notes go out a minute; what is held back is
// counted into the next one. It is plain state with the time passed in.
type Notifier struct {
	// Window groups notes into a burst; default one second.
	Window time.Duration
	// Limit is how many notes may go out a minute; default 6.
	Limit int

	pending  []Note
	last     time.Time // of the latest Add
	posted   []time.Time
	withheld int
}

func (n *Notifier) window() time.Duration {
	if n.Window <= 0 {
		return time.Second
	}
	return n.Window
}

// Add queues a note.
func (n *Notifier) Add(note Note, now time.Time) {
	n.pending = append(n.pending, note)
	n.last = now
}

// Next is when Due should be called again; zero when nothing waits.
func (n *Notifier) Next() time.Time {
	if len(n.pending) == 0 {
		return time.Time{}
	}
	return n.last.Add(n.window())
}

// Due returns the notes to post now: none while a burst may still grow.
func (n *Notifier) Due(now time.Time) []Note {
	if len(n.pending) == 0 || now.Sub(n.last) < n.window() {
		return nil
	}
	notes := coalesce(n.pending)
	n.pending = nil
	limit := n.Limit
	if limit <= 0 {
		limit = 6
	}
	recent := n.posted[:0]
	for _, t := range n.posted {
		if now.Sub(t) < time.Minute {
			recent = append(recent, t)
		}
	}
	n.posted = recent
	var out []Note
	for _, note := range notes {
		if len(n.posted) >= limit {
			n.withheld++
			continue
		}
		if n.withheld > 0 {
			note.Body += fmt.Sprintf("\n(%d more %s held back)", n.withheld, plural(n.withheld, "notification", "notifications"))
			n.withheld = 0
		}
		n.posted = append(n.posted, now)
		out = append(out, note)
	}
	return out
}

// coalesce merges three or more notes of a kind into one.
func coalesce(notes []Note) []Note {
	byKind := map[NoteKind][]Note{}
	var kinds []NoteKind
	for _, n := range notes {
		if _, ok := byKind[n.Kind]; !ok {
			kinds = append(kinds, n.Kind)
		}
		byKind[n.Kind] = append(byKind[n.Kind], n)
	}
	var out []Note
	for _, k := range kinds {
		group := byKind[k]
		if len(group) < 3 {
			out = append(out, group...)
			continue
		}
		var titles []string
		failed := false
		for _, n := range group {
			titles = append(titles, n.Title)
			failed = failed || n.Failed
		}
		sort.Strings(titles)
		out = append(out, Note{Kind: k, Key: "burst/" + string(k), Failed: failed,
			Title: fmt.Sprintf(burstTitle[k], len(group)), Body: strings.Join(titles, "\n")})
	}
	return out
}

var burstTitle = map[NoteKind]string{
	NoteExit:   "%d containers exited with errors",
	NoteCrash:  "%d containers died",
	NoteImage:  "%d images are ready",
	NoteDaemon: "Berth: %d problems",
	NoteAction: "%d actions failed",
}
