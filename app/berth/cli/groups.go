package cli

import (
	"strings"

	"github.com/spf13/cobra"
)

// docker's muscle memory: the same commands under docker's names. Each
// name calls the one constructor of its command (a cobra command cannot
// have two parents, so each place gets its own instance of it).

// containerCommand is docker's `container` group: every container command
// under its docker name.
func (a *app) containerCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "container",
		Short: "Manage containers (docker's container commands; each also works at the top level)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.containerCommands()...)
	return cmd
}

// containerCommands are the container commands, for the top level and for
// the container group alike. `update` joins them from its own branch.
func (a *app) containerCommands() []*cobra.Command {
	return []*cobra.Command{
		a.lsCommand(),
		a.runCommand(),
		a.createCommand(),
		a.startCommand(),
		a.stopCommand(),
		a.restartCommand(),
		a.killCommand(),
		a.updateCommand(),
		a.rmCommand(),
		a.inspectCommand(),
		a.logsCommand(),
		a.execCommand(),
		a.cpCommand(),
		a.waitCommand(),
		a.pruneCommand(),
		a.statsCommand(),
		a.portCommand(),
		a.attachCommand(),
		a.renameCommand(),
		a.topCommand(),
		a.pauseCommand(),
		a.unpauseCommand(),
	}
}

// topLevelAliases are docker's top-level shortcuts of image and system
// commands: pull, push, images, rmi, tag, save, load, history, info.
func (a *app) topLevelAliases() []*cobra.Command {
	return []*cobra.Command{
		a.imagePullCommand(),
		a.imagePushCommand(),
		renamed(a.imageListCommand(), "images"),
		renamed(a.imageRemoveCommand(), "rmi"),
		a.imageTagCommand(),
		a.imageSaveCommand(),
		a.imageLoadCommand(),
		a.imageHistoryCommand(),
		a.systemInfoCommand(),
	}
}

// renamed gives a command another name (the first word of Use) and drops
// its aliases, which belong to its home group.
func renamed(cmd *cobra.Command, name string) *cobra.Command {
	_, rest, _ := strings.Cut(cmd.Use, " ")
	cmd.Use = strings.TrimSpace(name + " " + rest)
	cmd.Aliases = nil
	return cmd
}
