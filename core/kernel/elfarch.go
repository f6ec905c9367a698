package kernel

import (
	"bytes"
	"debug/elf"
	"fmt"

	"github.com/berthvm/berth/core/api"
)

// checkAgentArch refuses an agent built for another machine: the guest
// would panic with "No working init found", far from the cause.
func checkAgentArch(bin []byte, arch string) error {
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return fmt.Errorf("not a Linux executable: %v: %w", err, api.ErrInvalidArgument)
	}
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[arch]
	if want == 0 {
		return fmt.Errorf("unknown guest arch %q: %w", arch, api.ErrUnsupported)
	}
	if f.Machine != want {
		return fmt.Errorf("built for %v, the %s guest needs %v: %w", f.Machine, arch, want, api.ErrInvalidArgument)
	}
	return nil
}
