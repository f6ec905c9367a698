package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/client"
	"github.com/berthvm/berth/core/units"
	"github.com/spf13/cobra"
)

func (a *app) imageHistoryCommand() *cobra.Command {
	var noTrunc, quiet bool
	var format string
	cmd := &cobra.Command{
		Use:   "history [flags] IMAGE",
		Short: "Show how an image was built, from its config's history",
		Long: "Show how an image was built, newest step first, from its config's history.\n" +
			"Unlike docker, SIZE is the layer's compressed size in the store: a pulled image does not record\n" +
			"the uncompressed one.",
		Args: exactArgs(1, "IMAGE"),
		RunE: a.withDaemon(func(cmd *cobra.Command, args []string, c *client.Client) error {
			im, err := c.ImageInspect(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			hist, err := c.ImageHistory(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if hist == nil {
				hist = []api.ImageHistoryEntry{}
			}
			if quiet {
				fmt.Fprintln(a.streams.Out, historyID(im.ID, 0, noTrunc))
				return nil
			}
			return render(a.streams.Out, format, hist, func(w io.Writer) error {
				return printHistory(w, im.ID, hist, noTrunc, time.Now())
			})
		}),
	}
	f := cmd.Flags()
	f.BoolVar(&noTrunc, "no-trunc", false, "do not shorten the output")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only the image ID")
	f.StringVarP(&format, "format", "f", "", "output format: 'json' or a Go template")
	return cmd
}

// historyID is the IMAGE column: the image's id on its newest step, and
// docker's "<missing>" for the steps below it (which have no image of
// their own once pulled).
func historyID(id string, step int, noTrunc bool) string {
	if step > 0 {
		return "<missing>"
	}
	if noTrunc {
		return id
	}
	return shortID(id)
}

// printHistory writes docker's IMAGE CREATED CREATED BY SIZE COMMENT table.
func printHistory(out io.Writer, id string, hist []api.ImageHistoryEntry, noTrunc bool, now time.Time) error {
	w := tabwriter.NewWriter(out, 0, 0, 3, ' ', 0)
	fmt.Fprintln(w, "IMAGE\tCREATED\tCREATED BY\tSIZE\tCOMMENT")
	for i, h := range hist {
		created := "N/A"
		if !h.Created.IsZero() {
			created = units.Duration(now.Sub(h.Created)) + " ago"
		}
		by := strings.Join(strings.Fields(h.CreatedBy), " ")
		if !noTrunc {
			by = truncate(by, 45)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", historyID(id, i, noTrunc), created, by, units.Size(h.Size), h.Comment)
	}
	return w.Flush()
}

// truncate shortens s to n characters, ending in "…" as docker does.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
