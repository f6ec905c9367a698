package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/client"
	"github.com/berthvm/berth/core/units"
	"github.com/spf13/cobra"
)

// statsRow is one line of `berth stats`: two samples made into rates.
type statsRow struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	CPUPercent float64 `json:"cpuPercent"` // of one CPU, as docker: up to 100 × CPUs
	MemUsed    uint64  `json:"memoryUsed"`
	MemTotal   uint64  `json:"memoryTotal"`
	MemPercent float64 `json:"memoryPercent"`
	Processes  int     `json:"processes"`
	HostRSS    uint64  `json:"hostRSS"`
}

// statsFrom turns two samples of one container into a row.
func statsFrom(prev, cur api.ContainerStats) statsRow {
	r := statsRow{ID: cur.ID, Name: cur.Name, MemUsed: cur.MemoryUsed, MemTotal: cur.MemoryTotal,
		Processes: cur.Processes, HostRSS: cur.HostRSS}
	if dt := cur.Time.Sub(prev.Time); dt > 0 && cur.CPUNanos >= prev.CPUNanos {
		r.CPUPercent = float64(cur.CPUNanos-prev.CPUNanos) / float64(dt.Nanoseconds()) * 100
	}
	if cur.MemoryTotal > 0 {
		r.MemPercent = float64(cur.MemoryUsed) / float64(cur.MemoryTotal) * 100
	}
	return r
}

func (a *app) statsCommand() *cobra.Command {
	var noStream bool
	var format string
	cmd := &cobra.Command{
		Use:   "stats [flags] [CONTAINER...]",
		Short: "Show running containers' CPU and memory use, as their guests see it",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := a.connect(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			if len(args) == 0 {
				list, err := c.Containers(ctx, false)
				if err != nil {
					return err
				}
				for _, ctr := range list {
					args = append(args, ctr.ID)
				}
			}
			redraw := !noStream && isTerminal(a.streams.Out)
			prev, err := sampleAll(ctx, c, args)
			if err != nil {
				return err
			}
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(time.Second):
				}
				cur, err := sampleAll(ctx, c, args)
				if err != nil {
					return err
				}
				rows := make([]statsRow, 0, len(cur))
				for i := range cur {
					rows = append(rows, statsFrom(prev[i], cur[i]))
				}
				if redraw {
					// docker's way on a terminal: clear the screen and
					// draw the table again from the top-left corner.
					io.WriteString(a.streams.Out, "\x1b[2J\x1b[H")
				}
				if err := render(a.streams.Out, format, rows, func(w io.Writer) error { return printStats(w, rows) }); err != nil {
					return err
				}
				if noStream {
					return nil
				}
				prev = cur
			}
		},
	}
	cmd.Flags().BoolVar(&noStream, "no-stream", false, "print one sample and exit")
	cmd.Flags().StringVarP(&format, "format", "f", "", "output format: 'json' or a Go template")
	return cmd
}

func sampleAll(ctx context.Context, c *client.Client, refs []string) ([]api.ContainerStats, error) {
	out := make([]api.ContainerStats, 0, len(refs))
	for _, ref := range refs {
		st, err := c.ContainerStats(ctx, ref)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

func printStats(out io.Writer, rows []statsRow) error {
	w := tabwriter.NewWriter(out, 0, 0, 3, ' ', 0)
	fmt.Fprintln(w, "CONTAINER ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tPIDS\tHOST MEM")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s\t%.2f%%\t%s / %s\t%.2f%%\t%d\t%s\n", api.ShortID(r.ID), r.Name, r.CPUPercent,
			units.Size(int64(r.MemUsed)), units.Size(int64(r.MemTotal)), r.MemPercent, r.Processes, units.Size(int64(r.HostRSS)))
	}
	return w.Flush()
}
