package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
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
	req, err := c.newRequest(ctx, http.MethodGet, "/v1/events", q, nil)
	if err != nil {
		return err
	}
	resp, err := c.send(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 4<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue // blank separators and ": comments"
		}
		var e api.Event
		if err := json.Unmarshal([]byte(data), &e); err != nil {
			return fmt.Errorf("decode event: %w", err)
		}
		if !fn(e) {
			return nil
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("event stream ended: the daemon went away: %w", api.ErrUnavailable)
}
