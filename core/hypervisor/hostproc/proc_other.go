//go:build !linux && !darwin

package hostproc

import (
	"fmt"

	"github.com/berthvm/berth/core/api"
)

// StartTime is not known on this OS.
func StartTime(pid int) (uint64, error) {
	return 0, fmt.Errorf("process start times: %w", api.ErrUnsupported)
}
