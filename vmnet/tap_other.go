//go:build !linux

package vmnet

import (
	"fmt"

	"github.com/berthvm/berth/core/api"
)

// OpenTap opens a Linux TAP device as a Port: Linux only. Here it fails
// with api.ErrUnsupported.
func OpenTap(name string) (Port, error) {
	return nil, fmt.Errorf("vmnet: TAP device %s: TAP devices are Linux's: %w", name, api.ErrUnsupported)
}
