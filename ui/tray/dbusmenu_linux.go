package tray

import (
	"fmt"
	"slices"

	"github.com/godbus/dbus/v5"

	"github.com/berthvm/berth/ui/viewmodel"
)

// menuLayout is one item of GetLayout's answer, (ia{sv}av): id,
// properties, children (each a menuLayout in a variant).
type menuLayout struct {
	ID       int32
	Props    map[string]dbus.Variant
	Children []dbus.Variant
}

// itemProperties is one item of GetGroupProperties' answer, (ia{sv}).
type itemProperties struct {
	ID    int32
	Props map[string]dbus.Variant
}

// menuEvent is one event of EventGroup, (isvu).
type menuEvent struct {
	ID        int32
	EventID   string
	Data      dbus.Variant
	Timestamp uint32
}

// dbusmenu is com.canonical.dbusmenu on /MenuBar, served from the Tray's
// current layout.
type dbusmenu struct{ t *Tray }

// menuProps are com.canonical.dbusmenu's properties.
func (t *Tray) menuProps() map[string]dbus.Variant {
	return map[string]dbus.Variant{
		"Version":       dbus.MakeVariant(dbusmenuVersion),
		"TextDirection": dbus.MakeVariant("ltr"),
		"Status":        dbus.MakeVariant("normal"),
		"IconThemePath": dbus.MakeVariant([]string{}),
	}
}

func unknownItem(id int32) *dbus.Error {
	return dbus.NewError("org.freedesktop.DBus.Error.InvalidArgs", []any{fmt.Sprintf("no menu item with id %d", id)})
}

// filtered returns n's properties as variants, only those in names unless
// names is empty.
func filtered(n *node, names []string) map[string]dbus.Variant {
	out := make(map[string]dbus.Variant, len(n.props))
	for k, v := range n.props {
		if len(names) == 0 || slices.Contains(names, k) {
			out[k] = dbus.MakeVariant(v)
		}
	}
	return out
}

// toLayout renders n with depth levels of children (-1: all).
func toLayout(n *node, depth int32, names []string) menuLayout {
	l := menuLayout{ID: n.id, Props: filtered(n, names), Children: []dbus.Variant{}}
	if depth == 0 {
		return l
	}
	for _, c := range n.children {
		l.Children = append(l.Children, dbus.MakeVariant(toLayout(c, depth-1, names)))
	}
	return l
}

// GetLayout returns the item parentID with recursionDepth levels of
// children (-1: all, 0: none) and the properties named (none: all).
func (d *dbusmenu) GetLayout(parentID, recursionDepth int32, propertyNames []string) (uint32, menuLayout, *dbus.Error) {
	lay, rev := d.t.current()
	n, ok := lay.byID[parentID]
	if !ok {
		return 0, menuLayout{}, unknownItem(parentID)
	}
	if recursionDepth < -1 {
		recursionDepth = -1
	}
	return rev, toLayout(n, recursionDepth, propertyNames), nil
}

// GetGroupProperties returns the properties named (none: all) of the items
// ids (none: every item); unknown ids are left out.
func (d *dbusmenu) GetGroupProperties(ids []int32, propertyNames []string) ([]itemProperties, *dbus.Error) {
	lay, _ := d.t.current()
	if len(ids) == 0 {
		for id := range lay.byID {
			ids = append(ids, id)
		}
		slices.Sort(ids)
	}
	out := []itemProperties{}
	for _, id := range ids {
		if n, ok := lay.byID[id]; ok {
			out = append(out, itemProperties{ID: id, Props: filtered(n, propertyNames)})
		}
	}
	return out, nil
}

// GetProperty returns one property of one item.
func (d *dbusmenu) GetProperty(id int32, name string) (dbus.Variant, *dbus.Error) {
	lay, _ := d.t.current()
	n, ok := lay.byID[id]
	if !ok {
		return dbus.Variant{}, unknownItem(id)
	}
	v, ok := n.props[name]
	if !ok {
		return dbus.Variant{}, dbus.NewError("org.freedesktop.DBus.Error.InvalidArgs", []any{fmt.Sprintf("menu item %d has no property %q", id, name)})
	}
	return dbus.MakeVariant(v), nil
}

// Event handles what the user did to an item: "clicked" performs an
// enabled action or toggle (and does nothing on anything else), "opened"
// and "closed" on the root tell the Model the menu opened or closed.
// It returns once the Model has been told.
func (d *dbusmenu) Event(id int32, eventID string, data dbus.Variant, timestamp uint32) *dbus.Error {
	if !d.t.event(id, eventID) {
		return unknownItem(id)
	}
	return nil
}

// EventGroup is Event for several events; it returns the ids not found.
func (d *dbusmenu) EventGroup(events []menuEvent) ([]int32, *dbus.Error) {
	bad := []int32{}
	for _, e := range events {
		if !d.t.event(e.ID, e.EventID) {
			bad = append(bad, e.ID)
		}
	}
	if len(events) > 0 && len(bad) == len(events) {
		return bad, unknownItem(bad[0])
	}
	return bad, nil
}

// AboutToShow says the item's submenu is about to be shown: the root's
// means the menu opens. Our layout is always current, so no update is
// ever needed.
func (d *dbusmenu) AboutToShow(id int32) (bool, *dbus.Error) {
	if !d.t.event(id, "about-to-show") {
		return false, unknownItem(id)
	}
	return false, nil
}

// AboutToShowGroup is AboutToShow for several items.
func (d *dbusmenu) AboutToShowGroup(ids []int32) ([]int32, []int32, *dbus.Error) {
	bad := []int32{}
	for _, id := range ids {
		if !d.t.event(id, "about-to-show") {
			bad = append(bad, id)
		}
	}
	return []int32{}, bad, nil
}

// event relays one event on item id to Serve's goroutine; false if there
// is no such item.
func (t *Tray) event(id int32, eventID string) bool {
	lay, _ := t.current()
	n, ok := lay.byID[id]
	if !ok {
		return false
	}
	switch {
	case eventID == "clicked" && n.action != nil:
		t.send(evClick, *n.action)
	case id == 0 && (eventID == "opened" || eventID == "about-to-show"):
		t.send(evOpened, viewmodel.Action{})
	case id == 0 && eventID == "closed":
		t.send(evClosed, viewmodel.Action{})
	}
	return true
}
