package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/client"
	"github.com/spf13/cobra"
)

func (a *app) eventsCommand() *cobra.Command {
	var (
		since, format string
		filters       []string
	)
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Stream events from the daemon (containers, images, the daemon itself)",
		Example: "  berth events --filter type=container --filter event=die\n" +
			"  berth events --since 10m --format json",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := client.EventOptions{Filters: map[string][]string{}}
			if since != "" {
				t, err := parseSince(since, time.Now())
				if err != nil {
					return &usageError{err: err}
				}
				opts.Since = t
			}
			for _, f := range filters {
				k, v, ok := strings.Cut(f, "=")
				if !ok || k == "" || v == "" {
					return &usageError{err: fmt.Errorf("--filter %q: want KEY=VALUE, e.g. type=container", f)}
				}
				opts.Filters[k] = append(opts.Filters[k], v)
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			var werr error
			err = c.Events(cmd.Context(), opts, func(e api.Event) bool {
				werr = render(a.streams.Out, format, e, func(w io.Writer) error {
					_, err := fmt.Fprintln(w, eventLine(e))
					return err
				})
				return werr == nil
			})
			if werr != nil {
				return werr
			}
			return err
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "replay remembered events since a time (RFC 3339) or a duration ago (10m)")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, "KEY=VALUE: type, event, container, image (repeatable)")
	cmd.Flags().StringVarP(&format, "format", "f", "", "output format: 'json' or a Go template")
	return cmd
}

// parseSince reads "10m" (that long before now), an RFC 3339 time, or a
// date "2006-01-02".
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("--since %q: a duration must be positive", s)
		}
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--since %q: want a duration like 10m or a time like 2006-01-02T15:04:05Z", s)
}

// eventLine renders an event as docker does:
// TIME TYPE ACTION ID (key=value, …)
func eventLine(e api.Event) string {
	attrs := make([]string, 0, len(e.Attributes)+1)
	if e.Name != "" {
		attrs = append(attrs, "name="+e.Name)
	}
	keys := make([]string, 0, len(e.Attributes))
	for k := range e.Attributes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		attrs = append(attrs, k+"="+e.Attributes[k])
	}
	line := fmt.Sprintf("%s %s %s %s", e.Time.Local().Format(time.RFC3339Nano), e.Type, e.Action, e.ID)
	if len(attrs) > 0 {
		line += " (" + strings.Join(attrs, ", ") + ")"
	}
	return line
}
