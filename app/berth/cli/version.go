package cli

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/buildinfo"
	"github.com/berthvm/berth/core/client"
	"github.com/berthvm/berth/core/paths"
	"github.com/spf13/cobra"
)

// versionInfo is what `berth version --format json` prints.
type versionInfo struct {
	Client api.Version  `json:"client"`
	Server *api.Version `json:"server,omitempty"`
}

func (a *app) versionCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Show the client's and the running daemon's versions",
		Long:  "Show the client's version and, if a daemon is running, the daemon's. It never starts a daemon.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := versionInfo{Client: buildinfo.Get()}
			if home, err := a.homeDir(); err == nil {
				c := newClient(home)
				defer c.Close()
				if sv, err := c.Version(cmd.Context()); err == nil {
					v.Server = &sv
				}
			}
			return render(a.streams.Out, format, v, func(out io.Writer) error {
				w := tabwriter.NewWriter(out, 0, 0, 1, ' ', 0)
				printVersion(w, "Client", v.Client)
				if v.Server == nil {
					fmt.Fprintln(w, "Server: not running")
				} else {
					printVersion(w, "Server", *v.Server)
				}
				return w.Flush()
			})
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "output format: 'json' or a Go template")
	return cmd
}

func printVersion(w io.Writer, who string, v api.Version) {
	fmt.Fprintf(w, "%s:\n Version:\t%s\n API version:\t%d\n Go version:\t%s\n OS/Arch:\t%s/%s\n", who,
		v.Version, v.APIVersion, v.GoVersion, v.OS, v.Arch)
	if v.Commit != "" {
		fmt.Fprintf(w, " Commit:\t%s\n", v.Commit)
	}
}

// versionLine is `berth --version`: docker's "Docker version X, build Y".
func versionLine(v api.Version) string {
	build := v.Commit
	if len(build) > 7 {
		build = build[:7]
	}
	if build == "" {
		build = "unknown"
	}
	return fmt.Sprintf("Berth version %s, build %s", v.Version, build)
}

func newClient(home string) *client.Client { return client.New(paths.Socket(home)) }

func isDown(err error) bool { return client.IsDaemonDown(err) }
