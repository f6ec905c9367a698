package viewmodel

import (
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
)

// The decision table: which events are news, and what the note says.
func TestDecide(t *testing.T) {
	running := ctr("c1", "web", "nginx", api.StateRunning, time.Minute, 0, 0)
	exited := func(code int) api.Container {
		c := ctr("c1", "web", "nginx", api.StateExited, time.Minute, time.Second, code)
		return c
	}
	dead := ctr("c1", "web", "nginx", api.StateDead, time.Minute, time.Second, 255)
	dead.Error = "guest kernel panic"
	dead.ConsoleTail = "[  1.2] Kernel panic - not syncing: Attempted to kill init!\n[  1.3] Kernel Offset: disabled\n"
	oom := exited(137)
	oom.ConsoleTail = "[ 12.5] Out of memory: Killed process 812 (python3) total-vm:812000kB\n"
	die := func(code, cause string) api.Event {
		attrs := map[string]string{"exitCode": code}
		if cause != "" {
			attrs["error"] = cause
		}
		return api.Event{Type: api.EventContainer, Action: "die", ID: "c1", Name: "web", Attributes: attrs}
	}
	before := State{Containers: []api.Container{running}}
	asked := State{Containers: []api.Container{running}, Asked: map[string]bool{"c1": true}}
	after := func(c api.Container) State { return State{Containers: []api.Container{c}} }
	cases := []struct {
		name      string
		prev      State
		next      State
		ev        api.Event
		kind      NoteKind
		title     string
		bodyHas   string
		noteCount int
	}{
		{"exit 3", before, after(exited(3)), die("3", ""), NoteExit, "web exited with code 3", "berth logs web", 1},
		{"clean exit is no news", before, after(exited(0)), die("0", ""), "", "", "", 0},
		{"a user's stop is no news", asked, after(exited(137)), die("137", ""), "", "", "", 0},
		{"a crash, with the console's last line", before, after(dead), die("255", "guest kernel panic"), NoteCrash, "web died", "Console: [  1.3] Kernel Offset: disabled", 1},
		{"out of memory", before, after(oom), die("137", ""), NoteCrash, "web ran out of memory", "Killed process 812 (python3)", 1},
		{"removed with --rm: from the event", before, State{}, die("2", ""), NoteExit, "web exited with code 2", "nginx", 1},
		{"import done", State{}, State{}, api.Event{Type: api.EventImage, Action: "load", Name: "app:1"}, NoteImage, "Imported app:1", "ready", 1},
		{"pull done", State{}, State{}, api.Event{Type: api.EventImage, Action: "pull", Name: "alpine:3"}, NoteImage, "Pulled alpine:3", "ready", 1},
		{"start is no news", before, before, api.Event{Type: api.EventContainer, Action: "start", ID: "c1"}, "", "", "", 0},
		{"tag is no news", State{}, State{}, api.Event{Type: api.EventImage, Action: "tag", Name: "x"}, "", "", "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			notes := Decide(tc.prev, tc.next, tc.ev)
			if len(notes) != tc.noteCount {
				t.Fatalf("notes %+v, want %d", notes, tc.noteCount)
			}
			if tc.noteCount == 0 {
				return
			}
			n := notes[0]
			if n.Kind != tc.kind || n.Title != tc.title || !strings.Contains(n.Body, tc.bodyHas) {
				t.Fatalf("note %+v, want %s %q with %q", n, tc.kind, tc.title, tc.bodyHas)
			}
		})
	}
}

func TestNotifierCoalescesAndLimits(t *testing.T) {
	var n Notifier
	t0 := now
	// A burst of four exits, one import: one summary and the import.
	for i, name := range []string{"a", "b", "c", "d"} {
		n.Add(Note{Kind: NoteExit, Title: name + " exited with code 1", Failed: true}, t0.Add(time.Duration(i)*100*time.Millisecond))
	}
	n.Add(Note{Kind: NoteImage, Title: "Imported x"}, t0.Add(400*time.Millisecond))
	if got := n.Due(t0.Add(900 * time.Millisecond)); got != nil {
		t.Fatalf("posted %v while the burst may still grow", got)
	}
	if next := n.Next(); !next.Equal(t0.Add(1400 * time.Millisecond)) {
		t.Fatalf("Next = %v", next)
	}
	got := n.Due(t0.Add(1400 * time.Millisecond))
	if len(got) != 2 || got[0].Title != "4 containers exited with errors" || !got[0].Failed ||
		got[0].Body != "a exited with code 1\nb exited with code 1\nc exited with code 1\nd exited with code 1" || got[1].Title != "Imported x" {
		t.Fatalf("burst: %+v", got)
	}
	// The limit: 6 a minute, two used; eight more one by one, four go out.
	t1 := t0.Add(10 * time.Second)
	posted := 0
	for i := range 8 {
		at := t1.Add(time.Duration(i) * 2 * time.Second)
		n.Add(Note{Kind: NoteCrash, Title: "x died"}, at)
		posted += len(n.Due(at.Add(time.Second)))
	}
	if posted != 4 {
		t.Fatalf("%d posted within the minute, want 4", posted)
	}
	// A minute later the next note says how many were held back.
	late := t1.Add(2 * time.Minute)
	n.Add(Note{Kind: NoteDaemon, Title: "Berth stopped"}, late)
	got = n.Due(late.Add(time.Second))
	if len(got) != 1 || !strings.Contains(got[0].Body, "(4 more notifications held back)") {
		t.Fatalf("after the limit: %+v", got)
	}
}
