// Package buildinfo reports the version of this build. The Makefile sets
// Version and Commit with -ldflags -X; a plain `go build` falls back to
// what the Go toolchain recorded.
package buildinfo

import (
	"runtime"
	"runtime/debug"

	"github.com/berthvm/berth/core/api"
)

// Set at link time: -X github.com/berthvm/berth/core/buildinfo.Version=...
var (
	Version = ""
	Commit  = ""
)

// Get returns this build's version information.
func Get() api.Version {
	v := api.Version{Version: Version, Commit: Commit, GoVersion: runtime.Version(),
		OS: runtime.GOOS, Arch: runtime.GOARCH, APIVersion: api.APIVersion}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && v.Commit == "" {
				v.Commit = s.Value
			}
		}
	}
	if v.Version == "" {
		v.Version = "dev"
	}
	return v
}
