package api

// Progress reports one step of a long operation: a pull, an import, a disk
// build, a kernel download, a boot. Producers call a ProgressFunc; the
// daemon streams the values to the client (NDJSON), where the CLI draws bars
// and the menu-bar app shows status.
type Progress struct {
	// ID names what progresses: a layer digest, "rootfs", "kernel".
	ID string `json:"id,omitempty"`
	// Action is the verb: "download", "verify", "extract", "build", "boot".
	Action string `json:"action"`
	// Current and Total count bytes (or units); Total 0 means unknown.
	Current int64 `json:"current,omitempty"`
	Total   int64 `json:"total,omitempty"`
	// Done marks the last report for this ID and Action.
	Done bool `json:"done,omitempty"`
	// Message is a short human text ("already exists", "retrying in 2s").
	Message string `json:"message,omitempty"`
}

// ProgressFunc receives progress reports. It must be cheap and must not
// block; it may be called from several goroutines at once.
type ProgressFunc func(Progress)

// Report calls f if it is set, so producers can take a nil ProgressFunc.
func (f ProgressFunc) Report(p Progress) {
	if f != nil {
		f(p)
	}
}
