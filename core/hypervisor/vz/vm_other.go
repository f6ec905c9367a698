//go:build !darwin

package vz

import (
	"fmt"
	"runtime"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/hypervisor"
)

// probeHost knows only the architecture off macOS: with no framework
// limits, Validate refuses every VM, which is the truth.
func probeHost() Host { return Host{Arch: hypervisor.Arch(runtime.GOARCH)} }

func newPlatformVM(p Plan) (VM, error) {
	return nil, fmt.Errorf("the Virtualization framework (vz) exists on macOS only: %w", api.ErrUnsupported)
}
