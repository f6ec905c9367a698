package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/client"
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
		a.systemPruneCommand())
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
