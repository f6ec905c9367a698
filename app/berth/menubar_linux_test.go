package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/testenv"
	"github.com/berthvm/berth/ui/tray/traytest"
)

// berth menubar on Linux, end to end: a private session bus, the real
// berth binary serving its tray on it, and this test as the tray host (a
// dbusmenu client) and as the notification server. Clicks stop and start a
// real VM; a container that fails and an import are notified; Quit leaves
// the daemon and its containers running. (On a Mac the same menu is
// rendered by AppKit, which no Linux test can drive: type-checked only.)
func TestMenuBarTray(t *testing.T) {
	home := vmHome(t)
	addr := traytest.Bus(t)
	notes := traytest.ServeNotifications(t, addr)
	mustRun(t, home, run("-d", "--name", "web", "berth/demo", "sleep", "600")...)

	// An image archive to import, and a file picker that picks it.
	dir := t.TempDir()
	archive := filepath.Join(dir, "app.tar")
	mustRun(t, home, "image", "tag", "berth/demo", "app:e2e")
	mustRun(t, home, "image", "save", "-o", archive, "app:e2e")
	mustRun(t, home, "image", "rm", "app:e2e")
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	if err := os.WriteFile(filepath.Join(bin, "zenity"), []byte("#!/bin/sh\necho "+archive+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(berthBin, "menubar")
	cmd.Env = append(os.Environ(), "BERTH_HOME="+home, "DBUS_SESSION_BUS_ADDRESS="+addr,
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	var out testenv.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	})

	conn := traytest.Connect(t, addr)
	name := fmt.Sprintf("org.kde.StatusNotifierItem-%d-1", cmd.Process.Pid)
	traytest.WaitOwner(t, conn, name, true)
	menu := traytest.NewMenuClient(t, conn, name)

	// find waits for the item at path (titles from the top) to be there
	// and, with enabled, clickable.
	find := func(path ...string) traytest.Item {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			it, ok := lookup(menu.Root(), path)
			if ok && it.Prop("enabled") == true {
				return it
			}
			if time.Now().After(deadline) {
				t.Fatalf("no enabled %q in the tray's menu; berth menubar said:\n%s", path, out.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitState := func(ref string, want api.ContainerState) {
		t.Helper()
		waitFor(t, func() bool { return inspect(t, home, ref).State == want })
	}

	menu.Click(find("web", "Stop"))
	waitState("web", api.StateExited)
	menu.Click(find("web", "Start"))
	waitState("web", api.StateRunning)

	// A container that fails is news; one the user stopped was not.
	berth(t, home, run("--name", "job", "berth/demo", "sh", "-c", "exit 3")...)
	waitNote(t, notes, "job exited with code 3")

	// Import Image… asks for files (here a picker that picks the archive)
	// and imports them; the result is notified.
	menu.Click(find("Import Image…"))
	// (The archive's image is berth/demo's under another name: the note
	// names it by its first name.)
	waitNote(t, notes, "Imported ")
	if !strings.Contains(mustRun(t, home, "image", "ls"), "app") {
		t.Fatal("the import did not reach the image store")
	}
	for _, n := range notes.Notes() {
		if strings.HasPrefix(n.Summary, "web ") {
			t.Errorf("a stop from the menu was notified: %+v", n)
		}
	}

	// Quit: the app ends, the daemon and the container run on.
	menu.Click(find("Quit Berth"))
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("berth menubar exited with %v:\n%s", waitErr, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("berth menubar did not quit")
	}
	traytest.WaitOwner(t, conn, name, false)
	if c := inspect(t, home, "web"); c.State != api.StateRunning {
		t.Fatalf("quitting the menu bar stopped web: %s", c.State)
	}
}

// lookup finds the item at path by titles.
func lookup(root traytest.Item, path []string) (traytest.Item, bool) {
	it := root
	for _, title := range path {
		found := false
		for _, c := range it.Children {
			if c.Title() == title {
				it, found = c, true
				break
			}
		}
		if !found {
			return traytest.Item{}, false
		}
	}
	return it, true
}

// waitNote waits for a notification whose summary is title, or begins
// with it when title ends in a space.
func waitNote(t *testing.T, n *traytest.Notifications, title string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var got bytes.Buffer
		for _, p := range n.Notes() {
			if p.Summary == title || strings.HasSuffix(title, " ") && strings.HasPrefix(p.Summary, title) {
				return
			}
			fmt.Fprintf(&got, "  %q: %q\n", p.Summary, p.Body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no notification %q; arrived:\n%s", title, got.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
