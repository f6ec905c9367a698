package kernel

import (
	"errors"
	"testing"

	"github.com/berthvm/berth/core/testenv"
)

func cachedKernel(t *testing.T, arch string) Kernel {
	t.Helper()
	k, err := Locate(arch)
	if err != nil {
		testenv.Missing(t, err.Error())
	}
	return k
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
