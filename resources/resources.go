// Package resources holds files the berth binary ships inside itself: the
// demo image built by packaging/demoimage at `make build`. The image files
// are build outputs (gitignored); a berth built without them says so.
// Signing files (entitlements) live beside this package, not in it.
package resources

import (
	"embed"
	"fmt"
	"io/fs"

	"github.com/berthvm/berth/core/api"
)

// DemoImageRef is the name the demo image is tagged with.
const DemoImageRef = "berth/demo:latest"

//go:embed demo
var demo embed.FS

// DemoImage returns the embedded demo image for a GOARCH as a
// docker-save tarball.
func DemoImage(arch string) ([]byte, error) {
	b, err := fs.ReadFile(demo, "demo/demo-"+arch+".tar")
	if err != nil {
		return nil, fmt.Errorf("this berth was built without the %s demo image; build it with make build: %w",
			arch, api.ErrNotFound)
	}
	return b, nil
}
