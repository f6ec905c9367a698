//go:build darwin

package capabilities

import (
	"runtime"

	"github.com/Code-Hex/vz/v3"
)

func vzNestedSupported() bool { return vz.IsNestedVirtualizationSupported() }

func runtimeArch() string { return runtime.GOARCH }
