package cli

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/client"
	"github.com/berthvm/berth/core/units"
	"github.com/spf13/cobra"
)

func (a *app) systemDFCommand() *cobra.Command {
	var verbose bool
	var format string
	cmd := &cobra.Command{
		Use:   "df [flags]",
		Short: "Show the disk space images, containers and volumes use",
		Long: "Show the disk space images, containers and volumes use: blocks allocated on the host (a sparse\n" +
			"disk counts what it holds). Unlike docker, an image's size counts its layers whole, even those it\n" +
			"shares with another image; Berth has no build cache (its row is always empty).",
		Args: cobra.NoArgs,
		RunE: a.withDaemon(func(cmd *cobra.Command, _ []string, c *client.Client) error {
			du, err := c.DiskUsage(cmd.Context())
			if err != nil {
				return err
			}
			if format != "" {
				return render(a.streams.Out, format, du, nil)
			}
			if err := printDF(a.streams.Out, dfRows(du)); err != nil {
				return err
			}
			if verbose {
				return printDFVerbose(a.streams.Out, du)
			}
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "list each image, container and volume too")
	cmd.Flags().StringVar(&format, "format", "", "output format: 'json' or a Go template")
	return cmd
}

// dfRow is one line of docker's system df table.
type dfRow struct {
	Type          string
	Total, Active int
	Size, Reclaim int64
}

// dfRows counts as docker does: an image is active while a container (of
// any state) uses it, a container while it runs, a volume while a
// container mounts it; what is not active is reclaimable.
func dfRows(du api.DiskUsage) []dfRow {
	im := dfRow{Type: "Images", Total: len(du.Images)}
	for _, i := range du.Images {
		im.Size += i.Size
		if i.Containers > 0 {
			im.Active++
		} else {
			im.Reclaim += i.Size
		}
	}
	ct := dfRow{Type: "Containers", Total: len(du.Containers)}
	for _, c := range du.Containers {
		ct.Size += c.Size
		if c.State.Active() {
			ct.Active++
		} else {
			ct.Reclaim += c.Size
		}
	}
	vo := dfRow{Type: "Local Volumes", Total: len(du.Volumes)}
	for _, v := range du.Volumes {
		vo.Size += v.Size
		if v.Containers > 0 {
			vo.Active++
		} else {
			vo.Reclaim += v.Size
		}
	}
	return []dfRow{im, ct, vo, {Type: "Build Cache"}}
}

// reclaimable is docker's RECLAIMABLE cell: the size and its share.
func (r dfRow) reclaimable() string {
	s := units.Size(r.Reclaim)
	if r.Size > 0 {
		s += fmt.Sprintf(" (%d%%)", r.Reclaim*100/r.Size)
	}
	return s
}

func printDF(out io.Writer, rows []dfRow) error {
	w := tabwriter.NewWriter(out, 0, 0, 3, ' ', 0)
	fmt.Fprintln(w, "TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%s\n", r.Type, r.Total, r.Active, units.Size(r.Size), r.reclaimable())
	}
	return w.Flush()
}

// printDFVerbose lists the items behind the table, as docker's df -v.
func printDFVerbose(out io.Writer, du api.DiskUsage) error {
	w := tabwriter.NewWriter(out, 0, 0, 3, ' ', 0)
	fmt.Fprintln(w, "\nImages space usage:\n\nREPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tCONTAINERS")
	for _, im := range du.Images {
		name := ""
		if len(im.Names) > 0 {
			name = im.Names[0]
		}
		repo, tag := splitName(name)
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\n", repo, tag, shortID(im.ID), ago(im.Created), units.Size(im.Size), im.Containers)
	}
	fmt.Fprintln(w, "\nContainers space usage:\n\nCONTAINER ID\tIMAGE\tSIZE\tSTATUS\tNAMES")
	for _, c := range du.Containers {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", api.ShortID(c.ID), c.Image, units.Size(c.Size), c.State, c.Name)
	}
	fmt.Fprintln(w, "\nLocal Volumes space usage:\n\nVOLUME NAME\tLINKS\tSIZE")
	for _, v := range du.Volumes {
		fmt.Fprintf(w, "%s\t%d\t%s\n", v.Name, v.Containers, units.Size(v.Size))
	}
	fmt.Fprintf(w, "\nBuild cache usage: %s\n", units.Size(0))
	return w.Flush()
}

func (a *app) systemPruneCommand() *cobra.Command {
	var all, volumes, force bool
	cmd := &cobra.Command{
		Use:   "prune [flags]",
		Short: "Remove stopped containers, unused networks, dangling images (and with flags more)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !force {
				fmt.Fprint(a.streams.Out, pruneWarning(all, volumes)+" [y/N] ")
				line, _ := bufio.NewReader(a.streams.In).ReadString('\n')
				if ans := strings.ToLower(strings.TrimSpace(line)); ans != "y" && ans != "yes" {
					return nil
				}
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			return a.systemPrune(cmd, c, all, volumes)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "remove every unused image, not only dangling ones")
	f.BoolVar(&volumes, "volumes", false, "remove anonymous volumes no container uses")
	f.BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	return cmd
}

// pruneWarning is docker's list of what system prune removes.
func pruneWarning(all, volumes bool) string {
	lines := []string{"  - all stopped containers", "  - all networks not used by at least one container"}
	if volumes {
		lines = append(lines, "  - all anonymous volumes not used by at least one container")
	}
	if all {
		lines = append(lines, "  - all images without at least one container associated to them")
	} else {
		lines = append(lines, "  - all dangling images")
	}
	lines = append(lines, "  - unused build cache")
	return "WARNING! This will remove:\n" + strings.Join(lines, "\n") + "\n\nAre you sure you want to continue?"
}

// systemPrune prunes in docker's order and sums what it reclaimed: the
// sizes disk usage gave the containers and volumes it removed, and what
// the image prune reports.
func (a *app) systemPrune(cmd *cobra.Command, c *client.Client, all, volumes bool) error {
	ctx := cmd.Context()
	out := a.streams.Out
	before, err := c.DiskUsage(ctx)
	if err != nil {
		return err
	}
	var reclaimed int64
	ids, err := c.PruneContainers(ctx)
	if err != nil {
		return err
	}
	sizes := map[string]int64{}
	for _, ctr := range before.Containers {
		sizes[ctr.ID] = ctr.Size
	}
	printSection(out, "Deleted Containers:", ids)
	for _, id := range ids {
		reclaimed += sizes[id]
	}
	nets, err := c.PruneNetworks(ctx)
	if err != nil {
		return err
	}
	printSection(out, "Deleted Networks:", nets)
	if volumes {
		rep, err := c.PruneVolumes(ctx, false)
		if err != nil {
			return err
		}
		vsizes := map[string]int64{}
		for _, v := range before.Volumes {
			vsizes[v.Name] = v.Size
		}
		printSection(out, "Deleted Volumes:", rep.Removed)
		for _, v := range rep.Removed {
			reclaimed += vsizes[v]
		}
	}
	res, err := c.ImagePrune(ctx, all)
	if err != nil {
		return err
	}
	var deleted []string
	for _, d := range res.Deleted {
		deleted = append(deleted, "deleted: "+d)
	}
	printSection(out, "Deleted Images:", deleted)
	reclaimed += res.Reclaimed
	fmt.Fprintf(out, "Total reclaimed space: %s\n", units.Size(reclaimed))
	return nil
}

// printSection prints a titled list and a blank line, or nothing if empty.
func printSection(out io.Writer, title string, items []string) {
	if len(items) == 0 {
		return
	}
	fmt.Fprintln(out, title)
	for _, it := range items {
		fmt.Fprintln(out, it)
	}
	fmt.Fprintln(out)
}
