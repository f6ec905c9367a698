package vmnet

import (
	"fmt"

	"github.com/berthvm/berth/core/api"
)

// ifNameMax is Linux's IFNAMSIZ less the NUL.
const ifNameMax = 15

// CheckTapName checks a TAP device's name as Linux checks a network
// interface's (dev_valid_name): 1 to 15 characters, neither "." nor
// "..", no '/', ':', space or control character. Portable, so that a plan
// naming one is checked on any host.
func CheckTapName(name string) error {
	bad := name == "" || len(name) > ifNameMax || name == "." || name == ".."
	for _, c := range name {
		if c == '/' || c == ':' || c <= ' ' || c == 0x7f {
			bad = true
		}
	}
	if bad {
		return fmt.Errorf("vmnet: %q is not a network interface name (1-%d characters, no '/', ':' or spaces): %w", name, ifNameMax, api.ErrInvalidArgument)
	}
	return nil
}
