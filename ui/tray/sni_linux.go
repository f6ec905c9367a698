package tray

import (
	"strings"

	"github.com/godbus/dbus/v5"
)

// sniState is what the status item shows besides its menu.
type sniState struct {
	title string
	look  look
}

// pixmap is an icon as pixels, (iiay); we send none and name icons instead.
type pixmap struct {
	Width, Height int32
	ARGB          []byte
}

// toolTip is the status item's tooltip, (sa(iiay)ss).
type toolTip struct {
	IconName string
	Pixmaps  []pixmap
	Title    string
	Text     string
}

// itemProps are org.kde.StatusNotifierItem's properties now.
func (t *Tray) itemProps() map[string]dbus.Variant {
	t.mu.Lock()
	s := t.sni
	t.mu.Unlock()
	title := s.title
	if title == "" {
		title = t.appName
	}
	none := []pixmap{}
	return map[string]dbus.Variant{
		"Category":            dbus.MakeVariant("ApplicationStatus"),
		"Id":                  dbus.MakeVariant(strings.ToLower(strings.ReplaceAll(t.appName, " ", "-"))),
		"Title":               dbus.MakeVariant(title),
		"Status":              dbus.MakeVariant(s.look.Status),
		"WindowId":            dbus.MakeVariant(int32(0)),
		"IconThemePath":       dbus.MakeVariant(""),
		"IconName":            dbus.MakeVariant(s.look.IconName),
		"IconPixmap":          dbus.MakeVariant(none),
		"OverlayIconName":     dbus.MakeVariant(s.look.OverlayIconName),
		"OverlayIconPixmap":   dbus.MakeVariant(none),
		"AttentionIconName":   dbus.MakeVariant(s.look.AttentionIconName),
		"AttentionIconPixmap": dbus.MakeVariant(none),
		"AttentionMovieName":  dbus.MakeVariant(""),
		"ToolTip":             dbus.MakeVariant(toolTip{IconName: s.look.IconName, Pixmaps: none, Title: title}),
		"ItemIsMenu":          dbus.MakeVariant(true),
		"Menu":                dbus.MakeVariant(menuPath),
	}
}

// statusItem is org.kde.StatusNotifierItem's methods. ItemIsMenu is true,
// so hosts open the menu on any click and call none of these; the ones
// that call them anyway get nothing (there is no window to show).
type statusItem struct{}

func (statusItem) Activate(x, y int32) *dbus.Error               { return nil }
func (statusItem) SecondaryActivate(x, y int32) *dbus.Error      { return nil }
func (statusItem) ContextMenu(x, y int32) *dbus.Error            { return nil }
func (statusItem) Scroll(delta int32, orient string) *dbus.Error { return nil }
