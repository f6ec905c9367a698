//go:build darwin && amd64

package vz

import (
	"fmt"

	vzf "github.com/Code-Hex/vz/v3"

	"github.com/berthvm/berth/core/api"
)

// rosettaShare: Rosetta for Linux exists on Apple silicon only (the plan
// refuses it before this is reached).
func rosettaShare(tag string) (vzf.DirectorySharingDeviceConfiguration, error) {
	return nil, fmt.Errorf("rosetta needs Apple silicon: %w", api.ErrUnsupported)
}
