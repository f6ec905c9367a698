package volume

import (
	"fmt"
	"regexp"

	"github.com/berthvm/berth/core/api"
)

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// CheckName checks a volume's name against docker's rule for local
// volumes.
func CheckName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%q includes invalid characters for a volume name, only %q are allowed: %w",
			name, "[a-zA-Z0-9][a-zA-Z0-9_.-]", api.ErrInvalidArgument)
	}
	return nil
}
