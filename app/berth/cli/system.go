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
	"github.com/berthvm/berth/core/dockercontext"
	"github.com/spf13/cobra"
)

func (a *app) systemCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "system",
		Short: "Manage the Berth service and show host facts",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.systemInfoCommand(), a.systemStopCommand(), a.systemKernelCommand(), a.systemDFCommand(),
		a.systemPruneCommand(), a.systemDockerContextCommand())
	return cmd
}

func (a *app) systemInfoCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "info",
		Short: "Show host capabilities and daemon details",
		Args:  cobra.NoArgs,
		RunE: a.withDaemon(func(cmd *cobra.Command, _ []string, c *client.Client) error {
			info, err := c.SystemInfo(cmd.Context())
			if err != nil {
				return err
			}
			return render(a.streams.Out, format, info, func(w io.Writer) error { return printSystemInfo(w, info) })
		}),
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "output format: 'json' or a Go template")
	return cmd
}

func printSystemInfo(out io.Writer, info api.SystemInfo) error {
	w := tabwriter.NewWriter(out, 0, 0, 1, ' ', 0)
	h := info.Host
	d := info.Daemon
	fmt.Fprintf(w, "Daemon:\n")
	fmt.Fprintf(w, " Version:\t%s (API %d)\n", d.Version.Version, d.Version.APIVersion)
	fmt.Fprintf(w, " PID:\t%d\n", d.PID)
	fmt.Fprintf(w, " Started:\t%s (%s ago)\n", d.Started.Local().Format(time.RFC3339), time.Since(d.Started).Round(time.Second))
	fmt.Fprintf(w, " Data dir:\t%s\n", d.Home)
	fmt.Fprintf(w, " Socket:\t%s\n", d.Socket)
	fmt.Fprintf(w, " Data dir ID:\t%s\n", d.ID)
	fmt.Fprintf(w, " Schema version:\t%d\n", info.SchemaVersion)
	fmt.Fprintf(w, "Host:\n")
	if h.Unsupported != "" {
		fmt.Fprintf(w, " Error:\t%s\n", h.Unsupported)
	}
	osLine := strings.TrimSpace(h.OSName + " " + h.OSVersion)
	fmt.Fprintf(w, " OS:\t%s (%s/%s, kernel %s)\n", osLine, h.OS, h.Arch, h.Kernel)
	if h.BuildSDK != "" {
		fmt.Fprintf(w, " Built with:\tmacOS %s SDK\n", h.BuildSDK)
	}
	fmt.Fprintf(w, " CPU:\t%s, %d CPUs\n", h.CPUModel, h.CPUs)
	if h.AppleChip != "" {
		fmt.Fprintf(w, " Apple chip:\t%s\n", h.AppleChip)
	}
	fmt.Fprintf(w, " Memory:\t%s\n", humanMiB(h.MemoryMiB))
	if h.KVM != "" {
		fmt.Fprintf(w, " KVM:\t%s\n", h.KVM)
	}
	fmt.Fprintf(w, " Hypervisor:\t%s, accelerator %s (%s)\n", h.Hypervisor, h.Accelerator, h.AcceleratorReason)
	fmt.Fprintf(w, " Nested virtualization:\t%s\n", yesNo(h.NestedVirtualization, h.NestedVirtualizationReason))
	fmt.Fprintf(w, " Rosetta:\t%s\n", yesNo(h.Rosetta, h.RosettaReason))
	for _, p := range h.Problems {
		fmt.Fprintf(w, " Warning:\t%s\n", p)
	}
	fmt.Fprintf(w, "Container defaults:\n")
	fmt.Fprintf(w, " CPUs:\t%d\n", info.Defaults.CPUs)
	fmt.Fprintf(w, " Memory:\t%s\n", humanMiB(info.Defaults.MemoryMiB))
	if n := info.Network; n.Mode != "" {
		fmt.Fprintf(w, "Networks:\n")
		fmt.Fprintf(w, " Mode:\t%s (%s)\n", n.Mode, n.Engine)
		if n.Reason != "" {
			fmt.Fprintf(w, " Why:\t%s\n", n.Reason)
		}
	}
	if dk := info.DockerAPI; dk.Socket != "" {
		fmt.Fprintf(w, "Docker API:\n")
		fmt.Fprintf(w, " Socket:\t%s\n", dk.Socket)
		fmt.Fprintf(w, " Versions:\t%s to %s\n", dk.MinVersion, dk.MaxVersion)
		fmt.Fprintf(w, " Use it:\texport DOCKER_HOST=%s\n", dk.Host())
		fmt.Fprintf(w, " Or:\tberth system docker-context (then docker --context berth …)\n")
	}
	fmt.Fprintf(w, "Containers:\t%d (%d running)\n", info.Containers, info.Running)
	fmt.Fprintf(w, "Images:\t%d\n", info.Images)
	return w.Flush()
}

func (a *app) systemStopCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "stop",
		Short: "Stop the Berth daemon",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home, err := a.homeDir()
			if err != nil {
				return err
			}
			c := newClient(home)
			defer c.Close()
			if err := c.StopDaemon(cmd.Context()); err != nil {
				if isDown(err) {
					fmt.Fprintln(a.streams.Out, "berth daemon is not running")
					return nil
				}
				return err
			}
			fmt.Fprintln(a.streams.Out, "berth daemon stopped")
			return nil
		},
	}
}

func (a *app) systemDockerContextCommand() *cobra.Command {
	var name string
	var remove bool
	cmd := &cobra.Command{
		Use:   "docker-context",
		Short: "Create (or update) a docker context that points at Berth's docker.sock",
		Long: "Writes a context into the docker CLI's store ($DOCKER_CONFIG, else ~/.docker) whose endpoint is\n" +
			"this data dir's docker.sock, so that `docker --context berth …` or `docker context use berth`\n" +
			"reaches Berth. Running it again updates the endpoint; --rm removes the context.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := dockercontext.ValidateName(name); err != nil {
				return withCode(ExitUsage, err)
			}
			dir, err := dockercontext.ConfigDir()
			if err != nil {
				return err
			}
			if remove {
				existed, err := dockercontext.Remove(dir, name)
				if err != nil {
					return err
				}
				if existed {
					fmt.Fprintf(a.streams.Out, "docker context %q removed from %s\n", name, dir)
				} else {
					fmt.Fprintf(a.streams.Out, "no docker context %q in %s\n", name, dir)
				}
				return nil
			}
			// The daemon says where it serves docker.sock, and is then up
			// for the first docker command.
			return a.withDaemon(func(cmd *cobra.Command, _ []string, c *client.Client) error {
				info, err := c.SystemInfo(cmd.Context())
				if err != nil {
					return err
				}
				return writeDockerContext(a.streams.Out, dir, name, info.DockerAPI)
			})(cmd, nil)
		},
	}
	cmd.Flags().StringVar(&name, "name", "berth", "the docker context's name")
	cmd.Flags().BoolVar(&remove, "rm", false, "remove the docker context instead")
	return cmd
}

// writeDockerContext creates or updates the context and says which, and
// how to use and remove it.
func writeDockerContext(out io.Writer, dir, name string, dk api.DockerAPIInfo) error {
	if dk.Socket == "" {
		return fmt.Errorf("the daemon reports no docker.sock (an older berth daemon? run berth system stop): %w", api.ErrUnavailable)
	}
	old, readErr := dockercontext.Read(dir, name)
	if readErr != nil && !errors.Is(readErr, api.ErrNotFound) {
		return readErr
	}
	c := dockercontext.Context{Name: name, Description: "Berth: one VM per container", Host: dk.Host()}
	if err := dockercontext.Write(dir, c); err != nil {
		return err
	}
	switch {
	case readErr != nil:
		fmt.Fprintf(out, "docker context %q created: %s\n", name, c.Host)
	case old.Host != c.Host:
		fmt.Fprintf(out, "docker context %q updated: %s (was %s)\n", name, c.Host, old.Host)
	default:
		fmt.Fprintf(out, "docker context %q is up to date: %s\n", name, c.Host)
	}
	fmt.Fprintf(out, "Use it:    docker --context %s ps   (or: docker context use %s)\n", name, name)
	fmt.Fprintf(out, "Remove it: berth system docker-context --rm%s\n", nameFlag(name))
	return nil
}

func nameFlag(name string) string {
	if name == "berth" {
		return ""
	}
	return " --name " + name
}
