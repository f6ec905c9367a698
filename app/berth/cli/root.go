package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/berthvm/berth/core/buildinfo"
	"github.com/berthvm/berth/core/client"
	"github.com/berthvm/berth/core/paths"
	"github.com/spf13/cobra"
)

// Streams are the process's standard streams (tests substitute buffers).
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// app holds what every command shares: streams, global flags, the client.
type app struct {
	streams Streams
	home    string // --home, else BERTH_HOME, else the platform default
	debug   bool
}

// Main runs the CLI and returns the process exit code.
func Main(ctx context.Context, args []string, s Streams) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := &app{streams: s}
	root := a.rootCommand()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	var re *runError
	if errors.As(err, &re) {
		err = re.err
	} else if err != nil {
		// Cobra refused the command line before any command ran.
		err = &usageError{err: err}
	}
	var ee *exitError
	if errors.As(err, &ee) && ee.err == nil {
		return ee.code // the container's own status: nothing to print
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(s.Err, "berth: %s\nSee '%s --help'.\n", userText(err), cmd.CommandPath())
	} else {
		fmt.Fprintf(s.Err, "Error: %s\n", userText(err))
	}
	return exitCodeOf(err)
}

// runError marks an error returned by a command's RunE, as opposed to one
// cobra raised while parsing the command line (a usage error).
type runError struct{ err error }

func (e *runError) Error() string { return e.err.Error() }

// markRunErrors wraps every command's RunE so Main can tell the two apart.
func markRunErrors(cmd *cobra.Command) {
	if run := cmd.RunE; run != nil {
		cmd.RunE = func(c *cobra.Command, args []string) error {
			if err := run(c, args); err != nil {
				return &runError{err: err}
			}
			return nil
		}
	}
	for _, sub := range cmd.Commands() {
		markRunErrors(sub)
	}
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "berth",
		Short: "Run Linux containers, each in its own lightweight VM",
		Long: "Berth runs Linux containers, each inside its own lightweight virtual machine:\n" +
			"Apple's Virtualization framework on macOS, QEMU (KVM or TCG) on Linux.",
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: true},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &usageError{err: fmt.Errorf("unknown command %q for \"berth\"", args[0])}
			}
			return cmd.Help()
		},
		Args: cobra.ArbitraryArgs,
	}
	root.SetIn(a.streams.In)
	root.SetOut(a.streams.Out)
	root.SetErr(a.streams.Err)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return &usageError{err: err} })
	pf := root.PersistentFlags()
	pf.StringVar(&a.home, "home", "", "data dir (default $"+paths.EnvHome+", else the platform's app data dir)")
	pf.BoolVarP(&a.debug, "debug", "D", false, "log debug details")

	root.AddCommand(
		a.versionCommand(),
		a.systemCommand(),
		a.eventsCommand(),
		a.containerCommand(),
		a.daemonCommand(),
		a.imageCommand(),
		a.networkCommand(),
		a.volumeCommand(),
		a.registryCommand(),
		a.menuCommand(),
		a.menubarCommand(),
	)
	root.AddCommand(a.containerCommands()...)
	root.AddCommand(a.topLevelAliases()...)
	// docker --version: one line, "Docker version X, build Y".
	v := buildinfo.Get()
	root.Version = v.Version
	root.SetVersionTemplate(versionLine(v) + "\n")
	root.Flags().BoolP("version", "v", false, "print the version and quit")
	markRunErrors(root)
	return root
}

// homeDir resolves the data dir from --home or the environment.
func (a *app) homeDir() (string, error) {
	if a.home != "" {
		return filepath.Abs(a.home)
	}
	return paths.Home()
}

// connect returns a client for a daemon that answers, starting one in the
// background when none does.
func (a *app) connect(ctx context.Context) (*client.Client, error) {
	home, err := a.homeDir()
	if err != nil {
		return nil, withCode(ExitUsage, err)
	}
	c, err := client.Ensure(ctx, home, client.StartOptions{Debug: a.debug, RestartIfGone: true})
	if err != nil {
		return nil, withCode(ExitUsage, err)
	}
	return c, nil
}

// withDaemon adapts a command body that needs the daemon: it connects,
// starting a daemon if none answers, and closes the client after. Commands
// that validate their flags first connect themselves, so that a usage
// error never starts a daemon.
func (a *app) withDaemon(run func(cmd *cobra.Command, args []string, c *client.Client) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, err := a.connect(cmd.Context())
		if err != nil {
			return err
		}
		defer c.Close()
		return run(cmd, args, c)
	}
}
