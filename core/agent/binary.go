package agent

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/berthvm/berth/core/api"
)

// BinaryDirVar names a directory holding agent binaries; it wins over the
// directory of the running executable (tests, development builds).
const BinaryDirVar = "BERTH_AGENT_DIR"

// BinaryName is the file name of the agent built for a guest arch.
func BinaryName(arch string) string { return "berth-agent-linux-" + arch }

// BinaryPath finds the agent binary for arch: in $BERTH_AGENT_DIR, else
// next to the running executable (make build puts it beside berth), else
// in the app bundle's Contents/Resources (berth runs from
// Contents/Helpers, the menu-bar app from Contents/MacOS).
func BinaryPath(arch string) (string, error) {
	var dirs []string
	if d := os.Getenv(BinaryDirVar); d != "" {
		dirs = append(dirs, d)
	}
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		dirs = append(dirs, bundleDirs(filepath.Dir(exe))...)
	}
	for _, d := range dirs {
		p := filepath.Join(d, BinaryName(arch))
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("guest agent %s not found in %v: build it with make agent, or set %s: %w",
		BinaryName(arch), dirs, BinaryDirVar, api.ErrNotFound)
}

// bundleDirs lists where agents may be for an executable in dir: dir
// itself, and Berth.app's Contents/Resources when dir is inside a bundle.
func bundleDirs(dir string) []string {
	dirs := []string{dir}
	switch filepath.Base(dir) {
	case "Helpers", "MacOS":
		if filepath.Base(filepath.Dir(dir)) == "Contents" {
			dirs = append(dirs, filepath.Join(filepath.Dir(dir), "Resources"))
		}
	}
	return dirs
}
