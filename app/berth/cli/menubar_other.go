//go:build !linux && !darwin

package cli

import (
	"context"
	"fmt"
	"runtime"

	"github.com/berthvm/berth/core/api"
)

func runMenuBar(context.Context, string) error {
	return fmt.Errorf("the menu bar runs on macOS and Linux, not %s: %w", runtime.GOOS, api.ErrUnsupported)
}
