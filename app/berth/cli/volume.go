package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/client"
	"github.com/berthvm/berth/core/units"
	"github.com/berthvm/berth/core/volume"
	"github.com/spf13/cobra"
)

func (a *app) volumeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "volume",
		Short: "Manage volumes: create, list, inspect, remove, prune",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.volumeCreateCommand(), a.volumeListCommand(), a.volumeInspectCommand(),
		a.volumeRemoveCommand(), a.volumePruneCommand())
	return cmd
}

func (a *app) volumeCreateCommand() *cobra.Command {
	var (
		driver       string
		opts, labels []string
	)
	cmd := &cobra.Command{
		Use:   "create [flags] [VOLUME]",
		Short: "Create a volume",
		Long: "Create a volume: a disk that containers mount and that outlives them. Without a name, it gets a\n" +
			"random one. Its one option is size (default " + units.MemorySize(volume.DefaultSize) + "): the disk is sparse, so it takes only\n" +
			"what is written to it. Creating a volume that exists returns it as it is.",
		Example: "  berth volume create data\n  berth volume create -o size=10g --label env=prod db",
		Args:    rangeArgs(0, 1, "[VOLUME]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if driver != "local" {
				return &usageError{err: fmt.Errorf("volume driver %q is not available: Berth's volumes use the local driver", driver)}
			}
			var req api.VolumeCreateRequest
			if len(args) == 1 {
				req.Name = args[0]
			}
			var err error
			if req.Labels, err = parseLabels(labels); err != nil {
				return &usageError{err: err}
			}
			if req.Options, err = parseOpts(opts); err != nil {
				return &usageError{err: err}
			}
			return a.withDaemon(func(cmd *cobra.Command, _ []string, c *client.Client) error {
				v, err := c.CreateVolume(cmd.Context(), req)
				if err != nil {
					return err
				}
				fmt.Fprintln(a.streams.Out, v.Name)
				return nil
			})(cmd, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&driver, "driver", "d", "local", "Specify volume driver name")
	f.StringArrayVarP(&opts, "opt", "o", nil, "Set driver specific options: size=SIZE (e.g. size=10g)")
	f.StringArrayVarP(&labels, "label", "l", nil, "Set metadata for a volume: KEY=VALUE")
	return cmd
}

// parseOpts reads -o KEY=VALUE options.
func parseOpts(vals []string) (map[string]string, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(vals))
	for _, kv := range vals {
		k, v, ok := strings.Cut(kv, "=")
		if k == "" || !ok {
			return nil, fmt.Errorf("-o %q: want KEY=VALUE, e.g. size=10g", kv)
		}
		out[k] = v
	}
	return out, nil
}

// parseFilters reads --filter KEY=VALUE flags, docker's way.
func parseFilters(vals []string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, kv := range vals {
		k, v, ok := strings.Cut(kv, "=")
		if k == "" || !ok {
			return nil, fmt.Errorf("--filter %q: want KEY=VALUE, e.g. dangling=true", kv)
		}
		out[k] = append(out[k], v)
	}
	return out, nil
}

func (a *app) volumeListCommand() *cobra.Command {
	var (
		format  string
		quiet   bool
		filters []string
	)
	cmd := &cobra.Command{
		Use:     "ls [flags]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Example: "  berth volume ls\n  berth volume ls --filter dangling=true\n  berth volume ls -f label=env=prod -q",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			q, err := parseFilters(filters)
			if err != nil {
				return &usageError{err: err}
			}
			return a.withDaemon(func(cmd *cobra.Command, _ []string, c *client.Client) error {
				list, err := c.Volumes(cmd.Context(), q)
				if err != nil {
					return err
				}
				if quiet {
					for _, v := range list {
						fmt.Fprintln(a.streams.Out, v.Name)
					}
					return nil
				}
				if format != "" && format != "json" {
					for _, v := range list {
						if err := render(a.streams.Out, format, v, nil); err != nil {
							return err
						}
					}
					return nil
				}
				return render(a.streams.Out, format, list, func(w io.Writer) error { return printVolumes(w, list) })
			})(cmd, args)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&filters, "filter", "f", nil, "Provide filter values: dangling=true|false, name=NAME, label=KEY[=VALUE], driver=local")
	f.StringVar(&format, "format", "", "Format output: 'json' or a Go template applied to each volume")
	f.BoolVarP(&quiet, "quiet", "q", false, "Only display volume names")
	return cmd
}

// printVolumes is docker's `volume ls` table.
func printVolumes(out io.Writer, list []api.Volume) error {
	w := tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)
	fmt.Fprintln(w, "DRIVER\tVOLUME NAME")
	for _, v := range list {
		fmt.Fprintf(w, "%s\t%s\n", v.Driver, v.Name)
	}
	return w.Flush()
}

func (a *app) volumeInspectCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [flags] VOLUME [VOLUME...]",
		Short: "Display detailed information on one or more volumes",
		Args:  minArgs(1, "VOLUME [VOLUME...]"),
		RunE: a.withDaemon(func(cmd *cobra.Command, args []string, c *client.Client) error {
			all := []api.Volume{}
			var errs []string
			for _, name := range args {
				v, err := c.Volume(cmd.Context(), name)
				if err != nil {
					errs = append(errs, err.Error())
					continue
				}
				all = append(all, v)
			}
			// As docker: the volumes found, then the names that were not.
			if format == "" || format == "json" {
				if err := render(a.streams.Out, "json", all, nil); err != nil {
					return err
				}
			} else {
				for _, v := range all {
					if err := render(a.streams.Out, format, v, nil); err != nil {
						return err
					}
				}
			}
			if len(errs) > 0 {
				return fmt.Errorf("%s", strings.Join(errs, "\n"))
			}
			return nil
		}),
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output: 'json' (default) or a Go template, e.g. {{.Mountpoint}}")
	return cmd
}

func (a *app) volumeRemoveCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm [flags] VOLUME [VOLUME...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more volumes",
		Long:    "Remove one or more volumes. You cannot remove a volume that is in use by a container.",
		Example: "  berth volume rm data\n  berth volume rm -f cache logs",
		Args:    minArgs(1, "VOLUME [VOLUME...]"),
		RunE: a.withDaemon(func(cmd *cobra.Command, args []string, c *client.Client) error {
			var errs []string
			for _, name := range args {
				if err := c.RemoveVolume(cmd.Context(), name, force); err != nil {
					errs = append(errs, err.Error())
					continue
				}
				fmt.Fprintln(a.streams.Out, name)
			}
			if len(errs) > 0 {
				return fmt.Errorf("%s", strings.Join(errs, "\n"))
			}
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of one or more volumes (a missing volume is no error; one in use is still refused)")
	return cmd
}

func (a *app) volumePruneCommand() *cobra.Command {
	var all, force bool
	cmd := &cobra.Command{
		Use:   "prune [flags]",
		Short: "Remove unused local volumes",
		Long: "Remove the anonymous volumes no container uses (those made for a container: an image's VOLUME,\n" +
			"or -v with only a container path). With --all, every volume no container uses, named ones too.",
		Args: cobra.NoArgs,
		RunE: a.withDaemon(func(cmd *cobra.Command, _ []string, c *client.Client) error {
			if !force && isTerminal(a.streams.In) {
				warning := "WARNING! This will remove anonymous local volumes not used by at least one container."
				if all {
					warning = "WARNING! This will remove all local volumes not used by at least one container."
				}
				if !a.confirm(warning) {
					return nil
				}
			}
			report, err := c.PruneVolumes(cmd.Context(), all)
			if err != nil {
				return err
			}
			if len(report.Removed) > 0 {
				fmt.Fprintln(a.streams.Out, "Deleted Volumes:")
				for _, name := range report.Removed {
					fmt.Fprintln(a.streams.Out, name)
				}
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "Remove all unused volumes, not just anonymous ones")
	f.BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	return cmd
}
