package capabilities

import (
	"context"
	"runtime"

	"github.com/berthvm/berth/core/api"
)

// Probe gathers the host's capabilities. It never fails: what it cannot
// read is left empty and listed in Problems, so `system info` still shows
// the rest.
func Probe(ctx context.Context) api.Capabilities {
	c := probe(ctx)
	c.OS = runtime.GOOS
	c.Arch = runtime.GOARCH
	if c.CPUs == 0 {
		c.CPUs = runtime.NumCPU()
	}
	return c
}

// DefaultResources are what a container gets when the user names none:
// up to 2 CPUs and 1 GiB, less on a small host. A VM's memory is only
// committed as the guest touches it, so 1 GiB costs far less than that idle.
func DefaultResources(c api.Capabilities) api.Defaults {
	d := api.Defaults{CPUs: 2, MemoryMiB: 1024}
	if c.CPUs > 0 && c.CPUs < d.CPUs {
		d.CPUs = c.CPUs
	}
	if c.MemoryMiB > 0 && c.MemoryMiB/4 < d.MemoryMiB {
		d.MemoryMiB = max(256, c.MemoryMiB/4)
	}
	return d
}
