//go:build linux

// Package traytest is test support for the Linux tray: a private message
// bus, a dbusmenu client that finds items by their titles and clicks them,
// and a notification server that records what it is sent. It is imported
// by tests only (ui/tray's, and the end-to-end tests of berth menubar).
package traytest

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/berthvm/berth/core/testenv"
)

// Bus runs a private message bus for one test and returns its
// address. Its configuration is a session bus's without service
// directories: nothing installed on this machine (a notification daemon, a
// tray host) can be activated into it, so every service on it is the
// test's.
func Bus(t testing.TB) string {
	t.Helper()
	daemon := testenv.Tool(t, "dbus-daemon", "dbus-daemon")
	dir, err := os.MkdirTemp("", "berth-bus-") // short: a socket path has ~100 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	conf := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(conf, []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=`+dir+`</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(daemon, "--config-file="+conf, "--print-address", "--nofork")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr testenv.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dbus-daemon: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case addr := <-line:
		if addr == "" {
			t.Fatalf("dbus-daemon printed no address: %s", stderr.String())
		}
		return addr
	case <-time.After(10 * time.Second):
		t.Fatalf("dbus-daemon printed no address in 10s: %s", stderr.String())
	}
	return ""
}

// Connect is another client of the bus at addr, closed at cleanup.
func Connect(t testing.TB, addr string) *dbus.Conn {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatalf("connect to the test bus: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// WaitOwner waits until name is owned on conn's bus (want) or not.
func WaitOwner(t testing.TB, conn *dbus.Conn, name string, want bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var has bool
		if err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has); err != nil {
			t.Fatal(err)
		}
		if has == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s owned: %v after 10s, want %v", name, has, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Item is a dbusmenu item as a client reads it.
type Item struct {
	ID       int32
	Props    map[string]dbus.Variant
	Children []Item
}

func (it Item) Label() string {
	s, _ := it.Props["label"].Value().(string)
	return strings.ReplaceAll(s, "__", "_")
}

// title is the label without its detail (after two spaces).
func (it Item) Title() string { t, _, _ := strings.Cut(it.Label(), "  "); return t }

func (it Item) Child(t testing.TB, title string) Item {
	t.Helper()
	for _, c := range it.Children {
		if c.Title() == title {
			return c
		}
	}
	t.Fatalf("no item %q under %q (id %d)", title, it.Label(), it.ID)
	return Item{}
}

func (it Item) Prop(name string) any {
	v, ok := it.Props[name]
	if !ok {
		return nil
	}
	return v.Value()
}

// parseItem reads one (ia{sv}av) as godbus decodes it.
func parseItem(t testing.TB, v any) Item {
	t.Helper()
	fields, ok := v.([]any)
	if !ok || len(fields) != 3 {
		t.Fatalf("layout item is %T %v, want (ia{sv}av)", v, v)
	}
	it := Item{ID: fields[0].(int32), Props: fields[1].(map[string]dbus.Variant)}
	for _, c := range fields[2].([]dbus.Variant) {
		it.Children = append(it.Children, parseItem(t, c.Value()))
	}
	return it
}

// MenuClient is a dbusmenu client, as a tray host is.
type MenuClient struct {
	t   testing.TB
	Obj dbus.BusObject
}

func NewMenuClient(t testing.TB, conn *dbus.Conn, dest string) *MenuClient {
	t.Helper()
	// Find the menu as a host does: from the status item's Menu property.
	v, err := conn.Object(dest, "/StatusNotifierItem").GetProperty("org.kde.StatusNotifierItem.Menu")
	if err != nil {
		t.Fatalf("the status item's Menu: %v", err)
	}
	path, ok := v.Value().(dbus.ObjectPath)
	if !ok || path != "/MenuBar" {
		t.Fatalf("the status item's Menu is %v, want /MenuBar", v)
	}
	return &MenuClient{t: t, Obj: conn.Object(dest, path)}
}

func (c *MenuClient) Layout(parent, depth int32, props ...string) (uint32, Item) {
	c.t.Helper()
	call := c.Obj.Call("com.canonical.dbusmenu.GetLayout", 0, parent, depth, append([]string{}, props...))
	if call.Err != nil {
		c.t.Fatalf("GetLayout(%d, %d, %v): %v", parent, depth, props, call.Err)
	}
	if len(call.Body) != 2 {
		c.t.Fatalf("GetLayout returned %d values", len(call.Body))
	}
	return call.Body[0].(uint32), parseItem(c.t, call.Body[1])
}

func (c *MenuClient) Root() Item {
	c.t.Helper()
	_, root := c.Layout(0, -1)
	return root
}

func (c *MenuClient) Event(id int32, eventID string) error {
	return c.Obj.Call("com.canonical.dbusmenu.Event", 0, id, eventID, dbus.MakeVariant(""), uint32(0)).Err
}

func (c *MenuClient) Click(it Item) {
	c.t.Helper()
	if err := c.Event(it.ID, "clicked"); err != nil {
		c.t.Fatalf("click %q (%d): %v", it.Label(), it.ID, err)
	}
}

// Notifications is a notification server (org.freedesktop.Notifications)
// that records what it is sent; Serve puts it on a bus.
type Notifications struct {
	mu    sync.Mutex
	next  uint32
	notes []Posted
}

// ServeNotifications runs a notification server on the bus at addr.
func ServeNotifications(t testing.TB, addr string) *Notifications {
	t.Helper()
	n := &Notifications{}
	conn := Connect(t, addr)
	if err := conn.Export(n, "/org/freedesktop/Notifications", "org.freedesktop.Notifications"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.RequestName("org.freedesktop.Notifications", dbus.NameFlagDoNotQueue); err != nil {
		t.Fatal(err)
	}
	return n
}

// Notes returns what has arrived so far.
func (f *Notifications) Notes() []Posted {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Posted(nil), f.notes...)
}

// Posted is one notification as it arrived.
type Posted struct {
	App      string
	Replaces uint32
	Icon     string
	Summary  string
	Body     string
	Hints    map[string]dbus.Variant
	Expire   int32
}

func (f *Notifications) GetCapabilities() ([]string, *dbus.Error) {
	return []string{"body", "body-markup"}, nil
}

func (f *Notifications) Notify(app string, replaces uint32, icon, summary, body string, actions []string,
	hints map[string]dbus.Variant, expire int32) (uint32, *dbus.Error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notes = append(f.notes, Posted{app, replaces, icon, summary, body, hints, expire})
	if replaces != 0 {
		return replaces, nil
	}
	f.next++
	return f.next, nil
}
