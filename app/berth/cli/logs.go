package cli

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/client"
	"github.com/spf13/cobra"
)

func (a *app) logsCommand() *cobra.Command {
	var follow, timestamps bool
	var tail, since string
	cmd := &cobra.Command{
		Use:   "logs [flags] CONTAINER",
		Short: "Show a container's output (stdout and stderr, as stored)",
		Args:  exactArgs(1, "CONTAINER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := client.LogOptions{Follow: follow, Tail: -1}
			if tail != "all" {
				n, err := strconv.Atoi(tail)
				if err != nil || n < 0 {
					return &usageError{err: fmt.Errorf("--tail %q: want a number of lines or all", tail)}
				}
				opts.Tail = n
			}
			if since != "" {
				t, err := parseSince(since, time.Now())
				if err != nil {
					return &usageError{err: err}
				}
				opts.Since = t
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			return c.Logs(cmd.Context(), args[0], opts, func(e api.LogEntry) error {
				w := a.streams.Out
				if e.Stream == "stderr" {
					w = a.streams.Err
				}
				if timestamps {
					fmt.Fprint(w, e.Time.Format(time.RFC3339Nano)+" ")
				}
				_, err := io.WriteString(w, e.Log)
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new output until the container stops")
	cmd.Flags().StringVarP(&tail, "tail", "n", "all", "show only the last N lines")
	cmd.Flags().BoolVarP(&timestamps, "timestamps", "t", false, "prefix each line with its time")
	cmd.Flags().StringVar(&since, "since", "", "show lines since a time (RFC 3339) or a duration ago (10m)")
	return cmd
}
