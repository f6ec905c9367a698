//go:build !linux && !darwin

package hostproc

import (
	"fmt"

	"github.com/berthvm/berth/core/api"
)

// readStartTime is not known on this OS.
func readStartTime(pid int) (uint64, bool, error) {
	return 0, false, fmt.Errorf("process start times: %w", api.ErrUnsupported)
}
