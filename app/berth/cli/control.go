package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/client"
	"github.com/spf13/cobra"
)

func (a *app) restartCommand() *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:   "restart [flags] CONTAINER...",
		Short: "Restart containers: stop (signal, wait, kill) then start again",
		Args:  minArgs(1, "CONTAINER..."),
		RunE: func(cmd *cobra.Command, args []string) error {
			if timeout < 0 {
				return &usageError{err: fmt.Errorf("--time %d: must be 0 or more seconds", timeout)}
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			return eachContainer(args, a.streams, func(ref string) error {
				b := newBars(a.streams.Err)
				_, err := c.RestartContainer(cmd.Context(), ref, time.Duration(timeout)*time.Second, b.update)
				b.finish()
				return err
			})
		},
	}
	cmd.Flags().IntVarP(&timeout, "time", "t", 10, "seconds to wait for the process to stop before killing it")
	return cmd
}

func (a *app) attachCommand() *cobra.Command {
	var noStdin, sigProxy bool
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "attach [flags] CONTAINER",
		Short: "Attach to a running container's main process: its output, and its input if it was run with -i",
		Long: "Attach to a running container's main process: its output from now on, and its input if it was\n" +
			"run with -i (unless --no-stdin). The command ends with the process, with its exit status.\n" +
			"Ctrl-C stops the container's process (--sig-proxy); with --sig-proxy=false it detaches.\n" +
			"Ctrl-P Ctrl-Q (or --detach-keys) detaches, leaving it running.",
		Args: exactArgs(1, "CONTAINER"),
		RunE: a.withDaemon(func(cmd *cobra.Command, args []string, c *client.Client) error {
			ctx := cmd.Context()
			keys, err := ParseDetachKeys(detachKeys)
			if err != nil {
				return &usageError{err: err}
			}
			ctr, err := c.Container(ctx, args[0])
			if err != nil {
				return err
			}
			stdin := ctr.Spec.OpenStdin && !noStdin
			stream, err := c.AttachRunning(ctx, ctr.ID, stdin)
			if err != nil {
				return err
			}
			if sigProxy && !ctr.Spec.TTY {
				stop := a.proxySignals(ctx, c, ctr.ID)
				defer stop()
			}
			if !sigProxy {
				// An interrupt detaches: the container runs on.
				go func() {
					<-ctx.Done()
					stream.Close()
				}()
			}
			err = a.relayKeys(ctx, stream, stdin, ctr.Spec.TTY, keys, nil)
			if ctx.Err() != nil && !sigProxy {
				return nil
			}
			return err
		}),
	}
	cmd.Flags().BoolVar(&noStdin, "no-stdin", false, "do not attach stdin")
	cmd.Flags().BoolVar(&sigProxy, "sig-proxy", true, "send the signals the command receives (INT, TERM) to the process")
	detachKeysFlag(cmd, &detachKeys)
	return cmd
}

func (a *app) renameCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container (running or not); on its networks the new name answers at once",
		Args:  exactArgs(2, "CONTAINER NEW_NAME"),
		RunE: a.withDaemon(func(cmd *cobra.Command, args []string, c *client.Client) error {
			_, err := c.RenameContainer(cmd.Context(), args[0], args[1])
			return err
		}),
	}
}

func (a *app) pauseCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "pause CONTAINER...",
		Short: "Freeze every process of containers (their VMs keep running)",
		Long: "Freeze every process of containers: the guest agent uses the cgroup v2 freezer, as docker does\n" +
			"(or SIGSTOP where the guest kernel has no cgroups). The VM keeps its memory and keeps running.",
		Args: minArgs(1, "CONTAINER..."),
		RunE: a.withDaemon(func(cmd *cobra.Command, args []string, c *client.Client) error {
			return eachContainer(args, a.streams, func(ref string) error {
				_, err := c.PauseContainer(cmd.Context(), ref)
				return err
			})
		}),
	}
}

func (a *app) unpauseCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "unpause CONTAINER...",
		Short: "Thaw the processes of paused containers",
		Args:  minArgs(1, "CONTAINER..."),
		RunE: a.withDaemon(func(cmd *cobra.Command, args []string, c *client.Client) error {
			return eachContainer(args, a.streams, func(ref string) error {
				_, err := c.UnpauseContainer(cmd.Context(), ref)
				return err
			})
		}),
	}
}

func (a *app) topCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "top CONTAINER [ps OPTIONS]",
		Short: "Show the processes of a running container, as its guest sees them",
		Long: "Show the processes of a running container with ps -ef's columns (UID PID PPID C STIME TTY TIME CMD),\n" +
			"read by the guest agent from the VM's /proc. PIDs are the guest's. Unlike docker, other ps options\n" +
			"are not supported: no ps runs (the image need not have one); -ef, -e, -f and -A are accepted.",
		Args: minArgs(1, "CONTAINER [ps OPTIONS]"),
		RunE: a.withDaemon(func(cmd *cobra.Command, args []string, c *client.Client) error {
			for _, o := range args[1:] {
				if !api.PSOptionOK(o) {
					return &usageError{err: fmt.Errorf("ps option %q is not supported: berth top shows ps -ef's columns only", o)}
				}
			}
			top, err := c.ContainerTop(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printTop(a.streams.Out, top)
		}),
	}
	// ps options follow the container: they are not berth's flags.
	cmd.Flags().SetInterspersed(false)
	return cmd
}

// printTop writes ps -ef's table: UID PID PPID C STIME TTY TIME CMD.
func printTop(out io.Writer, top api.ContainerTop) error {
	w := tabwriter.NewWriter(out, 0, 0, 1, ' ', 0)
	fmt.Fprintln(w, strings.Join(api.PSTitles, "\t"))
	for _, row := range top.PSRows() {
		fmt.Fprintln(w, strings.Join(row, "\t"))
	}
	return w.Flush()
}

// allOrNamed checks a command's container arguments against --all: one or
// the other, not both.
func allOrNamed(all bool, args []string, verb string) error {
	if all == (len(args) > 0) {
		return &usageError{err: errors.New("name containers to " + verb + ", or use --all (not both)")}
	}
	return nil
}

// runningIDs lists the ids of the running containers (for --all).
func runningIDs(cmd *cobra.Command, c *client.Client) ([]string, error) {
	list, err := c.Containers(cmd.Context(), false)
	var ids []string
	for _, ctr := range list {
		if ctr.State == api.StateRunning || ctr.State == api.StatePaused {
			ids = append(ids, ctr.ID)
		}
	}
	return ids, err
}
