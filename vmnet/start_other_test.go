//go:build !darwin

package vmnet

import (
	"errors"
	"testing"

	"github.com/berthvm/berth/core/api"
)

func TestStartOffMac(t *testing.T) {
	if _, err := Start(t.Context(), Config{Mode: 7}); !errors.Is(err, api.ErrInvalidArgument) {
		t.Fatalf("Start with a bad config: %v", err)
	}
	if _, err := Start(t.Context(), Config{Mode: Shared}); !errors.Is(err, api.ErrUnsupported) {
		t.Fatalf("Start off a Mac: %v", err)
	}
}
