package cli

import (
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"

	"github.com/berthvm/berth/core/client"
	"github.com/berthvm/berth/core/units"
	"github.com/spf13/cobra"

	"github.com/berthvm/berth/core/api"
)

// systemKernelCommand is berth system kernel: which guest kernel
// containers boot, and choosing another.
func (a *app) systemKernelCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "kernel",
		Short: "Show the guest kernel containers boot, or choose another",
		Long: "Show the guest kernel containers boot when they name none (berth run --kernel names one).\n" +
			"On macOS the default is a pinned Debian arm64 kernel, downloaded on the first container start.",
		Args: cobra.NoArgs,
		RunE: a.withDaemon(func(cmd *cobra.Command, _ []string, c *client.Client) error {
			info, err := c.Kernel(cmd.Context())
			if err != nil {
				return err
			}
			return render(a.streams.Out, format, info, func(w io.Writer) error { return printKernel(w, info) })
		}),
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "output format: 'json' or a Go template")
	cmd.AddCommand(a.systemKernelSetCommand(), a.systemKernelFetchCommand())
	return cmd
}

func (a *app) systemKernelSetCommand() *cobra.Command {
	var def bool
	cmd := &cobra.Command{
		Use:   "set PATH | --default",
		Short: "Boot every container without --kernel from the kernel image at PATH (--default: the built-in kernel)",
		Long: "Boot every container that names no kernel from the kernel image at PATH. The kernel must have\n" +
			"what the agent needs built in (virtio, vsock on macOS, ext4, overlayfs); on macOS it must be an\n" +
			"uncompressed arm64 Image. --default goes back to the built-in kernel.",
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case def && len(args) > 0:
				return &usageError{err: fmt.Errorf("give a kernel PATH or --default, not both")}
			case !def && len(args) != 1:
				return &usageError{err: fmt.Errorf("give the kernel image PATH, or --default for the built-in kernel")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			req := api.KernelSetRequest{Default: def}
			if !def {
				p, err := filepath.Abs(args[0])
				if err != nil {
					return err
				}
				req.Path = p
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			info, err := c.SetKernel(cmd.Context(), req)
			if err != nil {
				return err
			}
			return printKernel(a.streams.Out, info)
		},
	}
	cmd.Flags().BoolVar(&def, "default", false, "go back to the built-in kernel")
	return cmd
}

func (a *app) systemKernelFetchCommand() *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use:   "fetch",
		Short: "Download the built-in kernel now instead of on the first container start (macOS)",
		Args:  cobra.NoArgs,
		RunE: a.withDaemon(func(cmd *cobra.Command, _ []string, c *client.Client) error {
			b := a.bars(quiet)
			info, err := c.FetchKernel(cmd.Context(), b.update)
			b.finish()
			if err != nil {
				return err
			}
			return printKernel(a.streams.Out, info)
		}),
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress bars")
	return cmd
}

func printKernel(out io.Writer, k api.KernelInfo) error {
	w := tabwriter.NewWriter(out, 0, 0, 1, ' ', 0)
	source := map[string]string{
		api.KernelFromSetting: "set with berth system kernel set",
		api.KernelPinned:      "built-in (pinned)",
		api.KernelDebian:      "Debian's, from the kernel cache",
	}[k.Source]
	path := k.Path
	if path == "" {
		path = "not downloaded yet"
	}
	fmt.Fprintf(w, "Kernel:\t%s\n", path)
	fmt.Fprintf(w, " Source:\t%s\n", source)
	fmt.Fprintf(w, " Guest arch:\t%s\n", k.Arch)
	if k.Release != "" {
		fmt.Fprintf(w, " Release:\t%s (%s %s)\n", k.Release, k.Package, k.Version)
	}
	d := k.Default
	fmt.Fprintf(w, "Default:\t%s\n", d.Note)
	if d.Package != "" {
		fmt.Fprintf(w, " Package:\t%s %s\n", d.Package, d.Version)
	}
	if d.SHA256 != "" {
		fmt.Fprintf(w, " SHA-256:\t%s\n", d.SHA256)
	}
	switch {
	case d.Downloaded:
		fmt.Fprintf(w, " Cached:\t%s\n", d.Path)
	case d.Size > 0:
		fmt.Fprintf(w, " Cached:\tno (%s to download, with berth system kernel fetch or on the first container start)\n", units.Size(d.Size))
	default:
		fmt.Fprintf(w, " Cached:\tno\n")
	}
	if k.Problem != "" {
		fmt.Fprintf(w, "Problem:\t%s\n", k.Problem)
	}
	return w.Flush()
}
