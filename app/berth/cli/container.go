package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/client"
	"github.com/berthvm/berth/core/units"
	"github.com/spf13/cobra"
)

func (a *app) startCommand() *cobra.Command {
	var attach, interactive bool
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "start [flags] CONTAINER...",
		Short: "Start stopped containers (boot their VMs)",
		Args:  minArgs(1, "CONTAINER..."),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := a.connect(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			if attach || interactive {
				if len(args) != 1 {
					return &usageError{err: errors.New("-a and -i take exactly one container")}
				}
				keys, err := ParseDetachKeys(detachKeys)
				if err != nil {
					return &usageError{err: err}
				}
				ctr, err := c.Container(ctx, args[0])
				if err != nil {
					return err
				}
				return a.attachSession(ctx, c, ctr, session{stdin: interactive && ctr.Spec.OpenStdin, tty: ctr.Spec.TTY,
					start: true, detachKeys: keys})
			}
			return eachContainer(args, a.streams, func(ref string) error {
				_, err := a.startWithProgress(ctx, c, ref)
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&attach, "attach", "a", false, "attach to the container's output and exit with its status")
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "attach stdin too")
	detachKeysFlag(cmd, &detachKeys)
	return cmd
}

// eachContainer runs fn for each reference, printing the reference on
// success and the error otherwise, as docker does for multi-container
// commands; it fails if any failed.
func eachContainer(refs []string, s Streams, fn func(ref string) error) error {
	if len(refs) == 1 {
		if err := fn(refs[0]); err != nil {
			return err
		}
		fmt.Fprintln(s.Out, refs[0])
		return nil
	}
	failed := 0
	for _, ref := range refs {
		if err := fn(ref); err != nil {
			fmt.Fprintf(s.Err, "Error: %s\n", userText(err))
			failed++
			continue
		}
		fmt.Fprintln(s.Out, ref)
	}
	if failed > 0 {
		return &exitError{code: ExitError}
	}
	return nil
}

func (a *app) stopCommand() *cobra.Command {
	var timeout int
	var signal string
	var all bool
	cmd := &cobra.Command{
		Use:   "stop [flags] CONTAINER...",
		Short: "Stop running containers: signal, wait, then kill",
		RunE: func(cmd *cobra.Command, args []string) error {
			if timeout < 0 {
				return &usageError{err: fmt.Errorf("--time %d: must be 0 or more seconds", timeout)}
			}
			return a.eachRunning(cmd, all, args, "stop", func(c *client.Client, ref string) error {
				_, err := c.StopContainer(cmd.Context(), ref, time.Duration(timeout)*time.Second, signal)
				return err
			})
		},
	}
	cmd.Flags().IntVarP(&timeout, "time", "t", 10, "seconds to wait before killing the process")
	cmd.Flags().StringVarP(&signal, "signal", "s", "", "signal to send first (default: the image's stop signal, else TERM)")
	cmd.Flags().BoolVar(&all, "all", false, "stop every running container (a Berth extension)")
	return cmd
}

func (a *app) killCommand() *cobra.Command {
	var signal string
	var all bool
	cmd := &cobra.Command{
		Use:   "kill [flags] CONTAINER...",
		Short: "Send a signal to containers' main processes",
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.eachRunning(cmd, all, args, "kill", func(c *client.Client, ref string) error {
				return c.KillContainer(cmd.Context(), ref, signal)
			})
		},
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "KILL", "signal to send")
	cmd.Flags().BoolVar(&all, "all", false, "signal every running container (a Berth extension)")
	return cmd
}

func (a *app) rmCommand() *cobra.Command {
	var force, all, volumes bool
	cmd := &cobra.Command{
		Use:     "rm [flags] CONTAINER...",
		Aliases: []string{"remove"},
		Short:   "Remove containers and their disks",
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return &usageError{err: errors.New("name containers to remove, or use --all (not both)")}
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			if all {
				list, err := c.Containers(cmd.Context(), true)
				if err != nil {
					return err
				}
				for _, ctr := range list {
					if force || !ctr.State.Active() {
						args = append(args, ctr.ID)
					}
				}
				if len(args) == 0 {
					return nil
				}
			}
			return eachContainer(args, a.streams, func(ref string) error {
				return c.RemoveContainer(cmd.Context(), ref, api.RemoveOptions{Force: force, Volumes: volumes})
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "kill running containers first")
	cmd.Flags().BoolVarP(&volumes, "volumes", "v", false, "remove the anonymous volumes associated with the containers")
	cmd.Flags().BoolVar(&all, "all", false, "remove every stopped container (every container with -f; a Berth extension)")
	return cmd
}

func (a *app) waitCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER...",
		Short: "Wait until containers stop, then print their exit codes",
		Args:  minArgs(1, "CONTAINER..."),
		RunE: a.withDaemon(func(cmd *cobra.Command, args []string, c *client.Client) error {
			for _, ref := range args {
				ctr, err := c.WaitContainer(cmd.Context(), ref)
				if err != nil {
					return err
				}
				fmt.Fprintln(a.streams.Out, ctr.ExitCode)
			}
			return nil
		}),
	}
}

func (a *app) pruneCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "prune",
		Short: "Remove every stopped container",
		Args:  cobra.NoArgs,
		RunE: a.withDaemon(func(cmd *cobra.Command, _ []string, c *client.Client) error {
			ids, err := c.PruneContainers(cmd.Context())
			for _, id := range ids {
				fmt.Fprintln(a.streams.Out, id)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(a.streams.Out, "Removed %d containers\n", len(ids))
			return nil
		}),
	}
}

func (a *app) lsCommand() *cobra.Command {
	var all, quiet, noTrunc, latest, size bool
	var last int
	var format string
	var filters []string
	cmd := &cobra.Command{
		Use:     "ls [flags]",
		Aliases: []string{"ps", "list"},
		Short:   "List containers",
		Example: "  berth ps -a --filter status=exited --filter label=tier\n  berth ps --format 'table {{.Names}}\\t{{.Status}}'\n  berth ps --format json",
		Args:    cobra.NoArgs,
		RunE: a.withDaemon(func(cmd *cobra.Command, _ []string, c *client.Client) error {
			f, err := parseKnownFilters(filters, psFilterKeys...)
			if err != nil {
				return err
			}
			if latest && last < 0 {
				last = 1
			}
			if quiet {
				format = "{{.ID}}"
			}
			def := psDefaultTable
			if size {
				def += "\t{{.Size}}"
			}
			lf, err := parseListFormat(format, def)
			if err != nil {
				return err
			}
			list, err := c.Containers(cmd.Context(), true)
			if err != nil {
				return err
			}
			kept, err := selectContainers(list, f, all, last)
			if err != nil {
				return err
			}
			rows := make([]listRow, 0, len(kept))
			images := map[string]api.ImageDetail{}
			now := time.Now()
			for _, ctr := range kept {
				r := containerRow{c: ctr, now: now, loc: time.Local, trunc: !noTrunc}
				if !quiet {
					im, ok := images[ctr.ImageID]
					if !ok {
						// A removed image leaves the command to the container's own flags.
						im, _ = c.ImageInspect(cmd.Context(), ctr.ImageID)
						images[ctr.ImageID] = im
					}
					r.img = im.Config
					if size {
						r.sized, r.sizeRW, r.sizeImage = true, writableSize(ctr), im.Size
					}
				}
				rows = append(rows, r)
			}
			return lf.write(a.streams.Out, containerRow{header: true}, rows)
		}),
	}
	fl := cmd.Flags()
	fl.BoolVarP(&all, "all", "a", false, "Show all containers (default shows just running)")
	fl.BoolVarP(&quiet, "quiet", "q", false, "Only display container IDs")
	fl.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	fl.IntVarP(&last, "last", "n", -1, "Show n last created containers (includes all states)")
	fl.BoolVarP(&latest, "latest", "l", false, "Show the latest created container (includes all states)")
	fl.BoolVarP(&size, "size", "s", false, "Display total file sizes")
	fl.StringArrayVarP(&filters, "filter", "f", nil, "Filter output based on conditions provided (id, name, label, status, ancestor, before, since, exited, network, volume, publish, expose)")
	fl.StringVar(&format, "format", "", "Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template")
	return cmd
}

// status renders a container's state as docker's STATUS column does.
func status(c api.Container, now time.Time) string {
	switch c.State {
	case api.StateRunning:
		return "Up " + units.Duration(now.Sub(c.Started))
	case api.StatePaused:
		return "Up " + units.Duration(now.Sub(c.Started)) + " (Paused)"
	case api.StateStarting:
		return "Starting"
	case api.StateStopping:
		return "Stopping"
	case api.StateExited:
		return fmt.Sprintf("Exited (%d) %s ago", c.ExitCode, units.Duration(now.Sub(c.Finished)))
	case api.StateDead:
		return "Dead"
	case api.StateRestarting:
		return fmt.Sprintf("Restarting (%d) %s ago", c.ExitCode, units.Duration(now.Sub(c.Finished)))
	}
	return "Created"
}

func (a *app) inspectCommand() *cobra.Command {
	var format, kind string
	cmd := &cobra.Command{
		Use:     "inspect [flags] CONTAINER|IMAGE...",
		Short:   "Show details of containers or images, in docker's JSON shape",
		Example: "  berth inspect -f '{{.State.Status}} {{.NetworkSettings.IPAddress}}' web\n  berth inspect --type image -f '{{json .Config}}' alpine",
		Args:    minArgs(1, "CONTAINER|IMAGE..."),
		RunE: a.withDaemon(func(cmd *cobra.Command, args []string, c *client.Client) error {
			if kind != "" && kind != "container" && kind != "image" {
				return &usageError{err: fmt.Errorf("%q is not a valid value for --type", kind)}
			}
			return a.printInspect(args, format, func(ref string) (any, error) {
				if kind == "" {
					return inspectOne(cmd.Context(), c, ref)
				}
				return inspectTyped(cmd.Context(), c, ref, kind)
			})
		}),
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template: 'json', or a Go template")
	cmd.Flags().StringVar(&kind, "type", "", "Only inspect objects of the given type: container or image")
	return cmd
}

// inspectOne finds a container, else an image, by reference: docker's
// inspect object for it.
func inspectOne(ctx context.Context, c *client.Client, ref string) (any, error) {
	return inspectTyped(ctx, c, ref, "")
}

// eachRunning runs fn on each container args names or, with --all, on
// every running one (verb names the command in a usage error).
func (a *app) eachRunning(cmd *cobra.Command, all bool, args []string, verb string, fn func(c *client.Client, ref string) error) error {
	if err := allOrNamed(all, args, verb); err != nil {
		return err
	}
	c, err := a.connect(cmd.Context())
	if err != nil {
		return err
	}
	defer c.Close()
	if all {
		if args, err = runningIDs(cmd, c); err != nil || len(args) == 0 {
			return err
		}
	}
	return eachContainer(args, a.streams, func(ref string) error { return fn(c, ref) })
}
