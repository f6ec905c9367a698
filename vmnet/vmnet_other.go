//go:build !darwin

package vmnet

import (
	"context"
	"fmt"

	"github.com/berthvm/berth/core/api"
)

// Start starts a vmnet interface: macOS only. Here it checks cfg as the
// Mac would, then fails with api.ErrUnsupported.
func Start(ctx context.Context, cfg Config) (*Interface, error) {
	if _, err := cfg.entries(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("vmnet: vmnet.framework exists only on macOS: %w", api.ErrUnsupported)
}
