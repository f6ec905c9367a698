//go:build !linux

package hostproc

import (
	"fmt"

	"github.com/berthvm/berth/core/api"
)

// Holding is only known where /proc lists processes' arguments and files.
func Holding(dir string) ([]Holder, error) {
	return nil, fmt.Errorf("find the processes working in %s: %w", dir, api.ErrUnsupported)
}
