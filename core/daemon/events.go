package daemon

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/berthvm/berth/core/api"
)

// eventFilter builds a filter from docker-style query values:
// type=container, action=die (or event=die), id=…, name=…, with several
// values of one key ORed and different keys ANDed.
func eventFilter(q map[string][]string) (func(api.Event) bool, error) {
	allowed := map[string]bool{"type": true, "action": true, "event": true, "id": true, "name": true,
		"container": true, "image": true}
	for k := range q {
		if !allowed[k] {
			return nil, fmt.Errorf("unknown event filter %q (use type, event, container or image): %w", k, api.ErrInvalidArgument)
		}
	}
	if len(q) == 0 {
		return nil, nil
	}
	anyOf := func(vals []string, got ...string) bool {
		for _, v := range vals {
			for _, g := range got {
				if g != "" && (v == g || (len(v) >= 4 && strings.HasPrefix(g, v))) {
					return true
				}
			}
		}
		return false
	}
	return func(e api.Event) bool {
		for k, vals := range q {
			var ok bool
			switch k {
			case "type":
				ok = anyOf(vals, e.Type)
			case "action", "event":
				ok = anyOf(vals, e.Action)
			case "id", "name":
				ok = anyOf(vals, e.ID, e.Name)
			case "container":
				ok = e.Type == api.EventContainer && anyOf(vals, e.ID, e.Name)
			case "image":
				ok = (e.Type == api.EventImage && anyOf(vals, e.ID, e.Name)) || anyOf(vals, e.Attributes["image"])
			}
			if !ok {
				return false
			}
		}
		return true
	}, nil
}

// events streams the bus as server-sent events until the client leaves.
// Query: since (RFC 3339) replays remembered events; filter keys as in
// eventFilter.
func (d *Daemon) events(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var since time.Time
	if s := q.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			d.writeError(w, r, fmt.Errorf("since %q is not an RFC 3339 time: %w", s, api.ErrInvalidArgument))
			return
		}
		since = t
	}
	q.Del("since")
	filter, err := eventFilter(q)
	if err != nil {
		d.writeError(w, r, err)
		return
	}
	flusher, _ := w.(http.Flusher)
	ch := d.bus.Subscribe(r.Context(), since, filter)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	// A comment line at once tells the client the stream is open.
	fmt.Fprint(w, ": berth events\n\n")
	if flusher != nil {
		flusher.Flush()
	}
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				return
			}
			raw, _ := json.Marshal(e)
			if _, err := fmt.Fprintf(w, "data: %s\n\n", raw); err != nil {
				return
			}
		case <-keepalive.C:
			if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil {
				return
			}
		case <-r.Context().Done():
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
}
