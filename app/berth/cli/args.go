package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// exactArgs, minArgs and rangeArgs check positional arguments with a usage
// error that names what is expected.
func exactArgs(n int, what string) cobra.PositionalArgs { return rangeArgs(n, n, what) }

func minArgs(n int, what string) cobra.PositionalArgs { return rangeArgs(n, -1, what) }

func rangeArgs(lo, hi int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < lo || (hi >= 0 && len(args) > hi) {
			return &usageError{err: fmt.Errorf("%q expects %s, got %d argument(s)", cmd.CommandPath(), what, len(args))}
		}
		return nil
	}
}
