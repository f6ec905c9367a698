package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/berthvm/berth/core/api"
)

// EventOptions select which events to stream.
type EventOptions struct {
	Since   time.Time           // replay remembered events from then (zero: only new ones)
	Filters map[string][]string // type, event, container, image (docker's --filter keys)
}

// Events streams the daemon's events to fn until ctx ends, fn returns
// false, or the daemon goes away (then it returns an ErrUnavailable error).
func (c *Client) Events(ctx context.Context, opts EventOptions, fn func(api.Event) bool) error {
	q := url.Values{}
	if !opts.Since.IsZero() {
		q.Set("since", opts.Since.UTC().Format(time.RFC3339Nano))
	}
	for k, vs := range opts.Filters {
		for _, v := range vs {
			q.Add(k, v)
		}
	}
	stopped := false
	err := c.eachLine(ctx, http.MethodGet, "/v1/events", q, nil, func(line []byte) error {
		data, ok := bytes.CutPrefix(line, []byte("data: "))
		if !ok {
			return nil // blank separators and ": comments"
		}
		var e api.Event
		if err := json.Unmarshal(data, &e); err != nil {
			return fmt.Errorf("decode event: %w", err)
		}
		if !fn(e) {
			stopped = true
			return errStopLines
		}
		return nil
	})
	switch {
	case stopped || ctx.Err() != nil:
		return nil
	case err != nil:
		return err
	}
	return fmt.Errorf("event stream ended: the daemon went away: %w", api.ErrUnavailable)
}
