//go:build !linux && !darwin

package vz

import (
	"fmt"

	"github.com/berthvm/berth/core/api"
)

func procStartTime(pid int) (uint64, error) {
	return 0, fmt.Errorf("process start times: %w", api.ErrUnsupported)
}
