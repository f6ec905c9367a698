package dockerapi

import (
	"context"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/berthvm/berth/core/api"
)

// Events is the daemon's event stream (*events.Bus implements it).
type Events interface {
	// Subscribe streams the events filter takes: the remembered ones at
	// or after since (zero: none), then live ones, until ctx ends.
	Subscribe(ctx context.Context, since time.Time, filter func(api.Event) bool) <-chan api.Event
}

// eventMessage is docker's event object.
type eventMessage struct {
	Type     string
	Action   string
	Actor    eventActor
	Scope    string `json:"scope"`
	Time     int64  `json:"time"`
	TimeNano int64  `json:"timeNano"`
}

type eventActor struct {
	ID         string
	Attributes map[string]string
}

// eventView is e in docker's shape: the object's name is an attribute,
// and a volume's id is its name.
func eventView(e api.Event) eventMessage {
	attrs := map[string]string{}
	maps.Copy(attrs, e.Attributes)
	if e.Name != "" {
		attrs["name"] = e.Name
	}
	id := e.ID
	if id == "" {
		id = e.Name
	}
	return eventMessage{Type: e.Type, Action: e.Action, Actor: eventActor{ID: id, Attributes: attrs},
		Scope: "local", Time: e.Time.Unix(), TimeNano: e.Time.UnixNano()}
}

// eventFilter is docker's events filters as a predicate: values of one
// key are alternatives, keys must all match.
func eventFilter(f filters) func(api.Event) bool {
	if len(f) == 0 {
		return nil
	}
	is := func(e api.Event, v string) bool {
		return v != "" && (v == e.Name || v == e.ID || (len(v) >= 4 && strings.HasPrefix(e.ID, v)))
	}
	return func(e api.Event) bool {
		for k, vs := range f {
			ok := false
			for _, v := range vs {
				switch k {
				case "type":
					ok = ok || e.Type == v
				case "event":
					ok = ok || e.Action == v
				case "scope":
					ok = ok || v == "local"
				case "container", "image", "network", "volume", "daemon":
					ok = ok || (e.Type == k && is(e, v)) || (k == "image" && e.Attributes["image"] == v)
				case "label":
					key, val, hasVal := strings.Cut(v, "=")
					got, has := e.Attributes[key]
					ok = ok || (has && (!hasVal || got == val))
				}
			}
			if !ok {
				return false
			}
		}
		return true
	}
}

// events streams docker's event objects, one JSON value each, from since
// (replayed from the daemon's memory) until the client leaves or until
// passes.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Events == nil {
		writeError(w, r, s.log, unsupported(r, ""))
		return
	}
	q := r.URL.Query()
	f, err := parseFilters(q.Get("filters"), "type", "event", "scope", "container", "image", "network", "volume", "daemon", "label")
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	var since, until time.Time
	for k, t := range map[string]*time.Time{"since": &since, "until": &until} {
		if v := q.Get(k); v != "" && v != "0" {
			if *t, err = unixTime(v); err != nil {
				writeError(w, r, s.log, err)
				return
			}
		}
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	if !until.IsZero() {
		// Ends a quiet stream at until; the events already remembered
		// are in the channel before it closes.
		stop := time.AfterFunc(time.Until(until), cancel)
		defer stop.Stop()
	}
	ch := s.cfg.Events.Subscribe(ctx, since, eventFilter(f))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	for e := range ch {
		if !until.IsZero() && e.Time.After(until) {
			continue
		}
		writeJSONBody(w, eventView(e))
		if flusher != nil {
			flusher.Flush()
		}
	}
}
