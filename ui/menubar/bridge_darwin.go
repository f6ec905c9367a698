package menubar

// The cgo side of bridge_darwin.m: its C functions, and the //export
// callbacks it makes into Go. Every callback recovers: a Go panic that
// unwinds into an Objective-C frame kills the app. A message that the
// SDK's headers do not declare for its receiver's class fails the build
// (-Werror=objc-method-access) instead of raising at run time.

/*
#cgo CFLAGS: -Werror=objc-method-access
#cgo LDFLAGS: -framework Foundation -framework AppKit -framework UserNotifications -framework ServiceManagement
#include <stdlib.h>

int berthIsMainThread(void);
char *berthMenuTrackingName(int began);
void *berthDropTarget(void);
void berthNotifySetUp(void);
void berthNotifyPost(const char *ident, const char *title, const char *body, int sound);
*/
import "C"

import (
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"unsafe"
)

// running is the App whose Run is under way: the drop target's callback
// reaches it here.
var running atomic.Pointer[App]

func isMainThread() bool { return C.berthIsMainThread() != 0 }

// menuTrackingName is the notification NSMenu posts when its tracking
// begins (true) or ends.
func menuTrackingName(began bool) string {
	b := C.int(0)
	if began {
		b = 1
	}
	p := C.berthMenuTrackingName(b)
	defer C.free(unsafe.Pointer(p))
	return C.GoString(p)
}

func dropTarget() unsafe.Pointer { return C.berthDropTarget() }

func notifySetUp() { C.berthNotifySetUp() }

// notifyPost posts a notification through UserNotifications: only from
// Berth.app's main executable (inAppBundle).
func notifyPost(r noteRequest) {
	id, title, body := C.CString(r.ID), C.CString(r.Title), C.CString(r.Body)
	defer C.free(unsafe.Pointer(id))
	defer C.free(unsafe.Pointer(title))
	defer C.free(unsafe.Pointer(body))
	sound := C.int(0)
	if r.Sound {
		sound = 1
	}
	C.berthNotifyPost(id, title, body, sound)
}

// recovered logs a panic in a callback from Objective-C instead of letting
// it unwind through Objective-C frames. Use as defer recovered("what").
func recovered(what string) {
	if r := recover(); r != nil {
		slog.Error("menubar: panic in "+what, "panic", r, "stack", string(debug.Stack()))
	}
}

// goStringFree copies and frees a string that the Objective-C side
// allocated for Go.
func goStringFree(p *C.char) string {
	if p == nil {
		return ""
	}
	defer C.free(unsafe.Pointer(p))
	return C.GoString(p)
}

//export berthDropped
func berthDropped(buf *C.char, n C.int) {
	defer recovered("drop")
	a := running.Load()
	if a == nil || n <= 0 {
		return
	}
	if paths := splitPaths(C.GoBytes(unsafe.Pointer(buf), n)); len(paths) > 0 {
		a.model.Drop(paths)
	}
}

//export berthNotifyAuthorized
func berthNotifyAuthorized(granted C.int, errText *C.char) {
	defer recovered("notification authorization")
	msg := goStringFree(errText)
	switch {
	case msg != "":
		slog.Warn("menubar: notifications: authorization failed", "err", msg)
	case granted == 0:
		slog.Info("menubar: notifications are turned off for Berth (System Settings → Notifications)")
	}
}

//export berthNotifyFailed
func berthNotifyFailed(errText *C.char) {
	defer recovered("notification")
	slog.Warn("menubar: notification not shown", "err", goStringFree(errText))
}
