package cli

import (
	"context"
	"os"

	"github.com/berthvm/berth/core/api"
	"github.com/spf13/cobra"
)

func (a *app) execCommand() *cobra.Command {
	var interactive, tty, detach bool
	var env, envFiles []string
	var user, workdir string
	cmd := &cobra.Command{
		Use:   "exec [flags] CONTAINER COMMAND [ARG...]",
		Short: "Run a command in a running container",
		Args:  minArgs(2, "CONTAINER COMMAND [ARG...]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec := api.ExecSpec{Cmd: args[1:], User: user, WorkingDir: workdir, TTY: tty, Stdin: interactive, Detach: detach}
			vars, err := envFrom(envFiles, env, os.LookupEnv)
			if err != nil {
				return &usageError{err: err}
			}
			spec.Env = vars
			if tty {
				spec.Size = a.termSize() // the command starts with the user's terminal size
			}
			ctx := cmd.Context()
			c, err := a.connect(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			if detach {
				return startError(c.ExecDetached(ctx, args[0], spec))
			}
			stream, err := c.Exec(context.WithoutCancel(ctx), args[0], spec)
			if err != nil {
				return withCode(ExitUsage, err)
			}
			return a.relay(ctx, stream, interactive, tty, nil)
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&interactive, "interactive", "i", false, "feed stdin to the command")
	f.BoolVarP(&tty, "tty", "t", false, "give the command a terminal")
	f.BoolVarP(&detach, "detach", "d", false, "start the command and return")
	f.StringArrayVarP(&env, "env", "e", nil, "set an environment variable: KEY=VALUE, or KEY to pass yours")
	f.StringArrayVar(&envFiles, "env-file", nil, "read environment variables from a file")
	f.StringVarP(&user, "user", "u", "", "user: name, uid, name:group or uid:gid")
	f.StringVarP(&workdir, "workdir", "w", "", "working directory inside the container")
	return cmd
}
