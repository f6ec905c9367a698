package api

import (
	"io/fs"
	"time"
)

// PathStat describes one path in a container, as docker's container path
// stat does (the same JSON field names): berth cp stats both ends before
// it copies.
type PathStat struct {
	Name string `json:"name"` // the last element of the path asked for
	Size int64  `json:"size"`
	// Mode is Go's fs.FileMode bits, as docker sends them.
	Mode  fs.FileMode `json:"mode"`
	Mtime time.Time   `json:"mtime"`
	// LinkTarget is, for a symbolic link, the absolute path in the
	// container it resolves to (links followed inside the container).
	LinkTarget string `json:"linkTarget"`
}

// PathStatHeader is the response header of HEAD and GET
// /v1/containers/{id}/archive: the PathStat as base64-encoded JSON, under
// the name docker uses.
const PathStatHeader = "X-Docker-Container-Path-Stat"

// CopyToOptions are the options of an extraction into a container.
type CopyToOptions struct {
	// NoOverwriteDirNonDir refuses to replace a directory with a
	// non-directory and the reverse (docker's noOverwriteDirNonDir; the
	// CLI always sets it).
	NoOverwriteDirNonDir bool
}

// ErrorHeader carries, base64-encoded, the RemoteError of a failed reply
// that has no body (HEAD).
const ErrorHeader = "X-Berth-Error"
