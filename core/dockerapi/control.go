package dockerapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/dockerapi/types"
	"github.com/berthvm/berth/core/runtime"
)

// statsInterval is how often a stats stream samples, docker's period.
var statsInterval = time.Second

// containerStats answers docker's GET /containers/{id}/stats: with
// stream (the default) an object every statsInterval until the client
// leaves; without, one object whose precpu_stats come from a sample an
// interval earlier (so that docker stats --no-stream shows a CPU %);
// with one-shot, one object at once and no precpu_stats. A container
// that is not running gets docker's zeroed object.
func (s *Server) containerStats(w http.ResponseWriter, r *http.Request) {
	fail := func(err error) { writeError(w, r, s.log, err) }
	c, err := s.containers()
	if err != nil {
		fail(err)
		return
	}
	id := r.PathValue("id")
	ct, err := c.Inspect(id)
	if err != nil {
		fail(noSuchContainer(id, err))
		return
	}
	q := r.URL.Query()
	stream := q.Get("stream") == "" || queryBool(q, "stream")
	oneShot := queryBool(q, "one-shot")
	if stream && oneShot {
		fail(api.Exactly(api.ErrInvalidArgument, "cannot have stream=true and one-shot=true"))
		return
	}
	ctx := r.Context()
	if !stream {
		out, err := s.statsOnce(ctx, c, ct, oneShot)
		if err != nil {
			fail(noSuchContainer(id, err))
			return
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	var pre *api.ContainerStats
	for {
		if ct, err = c.Inspect(ct.ID); err != nil {
			return // removed: the stream ends, as docker's
		}
		cur, err := sample(ctx, c, ct)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Info("docker stats stream ended", "container", ct.Name, "err", err)
			}
			return
		}
		if err := enc.Encode(types.Stats(ct, cur, pre)); err != nil {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
		pre = cur
		select {
		case <-ctx.Done():
			return
		case <-time.After(statsInterval):
		}
	}
}

// statsOnce is the one object of a stats request without stream.
func (s *Server) statsOnce(ctx context.Context, c Containers, ct api.Container, oneShot bool) (types.StatsJSON, error) {
	if ct.State != api.StateRunning && ct.State != api.StatePaused {
		return types.Stats(ct, nil, nil), nil
	}
	cur, err := sample(ctx, c, ct)
	if err != nil || cur == nil || oneShot {
		return types.Stats(ct, cur, nil), err
	}
	select {
	case <-ctx.Done():
		return types.StatsJSON{}, ctx.Err()
	case <-time.After(statsInterval):
	}
	pre := cur
	if cur, err = sample(ctx, c, ct); err != nil || cur == nil {
		return types.Stats(ct, cur, nil), err
	}
	return types.Stats(ct, cur, pre), nil
}

// sample is ct's stats now, or nil if it is not running.
func sample(ctx context.Context, c Containers, ct api.Container) (*api.ContainerStats, error) {
	st, err := c.Stats(ctx, ct.ID)
	if errors.Is(err, api.ErrConflict) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &st, nil
}

// containerTop answers docker top with ps -ef's columns, read by the
// guest agent from the guest's /proc: no ps runs (the image need not
// have one), so ps_args can only ask for what that shows anyway.
func (s *Server) containerTop(r *http.Request) (any, error) {
	c, ct, err := s.container(r)
	if err != nil {
		return nil, err
	}
	for _, o := range strings.Fields(r.URL.Query().Get("ps_args")) {
		if !api.PSOptionOK(o) {
			return nil, fmt.Errorf("ps_args %q: Berth reads processes from the guest's /proc and shows ps -ef's columns only (docker top CONTAINER, or with -ef): %w",
				r.URL.Query().Get("ps_args"), api.ErrInvalidArgument)
		}
	}
	if err := notRunning(ct); err != nil {
		return nil, err
	}
	top, err := c.Top(r.Context(), ct.ID)
	if err != nil {
		return nil, err
	}
	return struct {
		Titles    []string
		Processes [][]string
	}{api.PSTitles, top.PSRows()}, nil
}

func (s *Server) containerPause(r *http.Request) (any, error) {
	c, ct, err := s.container(r)
	if err != nil {
		return nil, err
	}
	if err := notRunning(ct); err != nil {
		return nil, err
	}
	if ct.State == api.StatePaused {
		return nil, api.Exactly(api.ErrConflict, "Container %s is already paused", ct.ID)
	}
	_, err = c.Pause(r.Context(), ct.ID)
	return nil, err
}

func (s *Server) containerUnpause(r *http.Request) (any, error) {
	c, ct, err := s.container(r)
	if err != nil {
		return nil, err
	}
	if ct.State != api.StatePaused {
		return nil, api.Exactly(api.ErrConflict, "Container %s is not paused", ct.ID)
	}
	_, err = c.Unpause(r.Context(), ct.ID)
	return nil, err
}

// containerRename renames with docker's refusals, in docker's words.
func (s *Server) containerRename(r *http.Request) (any, error) {
	c, ct, err := s.container(r)
	if err != nil {
		return nil, err
	}
	name := strings.TrimPrefix(r.URL.Query().Get("name"), "/")
	switch {
	case name == "":
		return nil, api.Exactly(api.ErrInvalidArgument, "Neither old nor new names may be empty")
	case name == ct.Name:
		return nil, api.Exactly(api.ErrInvalidArgument, "Renaming a container with the same name as its current name")
	case runtime.CheckName(name) != nil:
		return nil, api.Exactly(api.ErrInvalidArgument, "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	_, err = c.Rename(r.Context(), ct.ID, name)
	if errors.Is(err, api.ErrAlreadyExists) {
		if owner, oerr := c.Inspect(name); oerr == nil {
			return nil, api.Exactly(api.ErrConflict,
				"Conflict. The container name %q is already in use by container %q. You have to remove (or rename) that container to be able to reuse that name.",
				"/"+name, owner.ID)
		}
	}
	return nil, err
}

// containerUpdate applies what docker update asks that Berth can: the
// restart policy, memory and CPUs. A running container's VM keeps its
// memory and CPUs until its next start, and the reply warns so.
func (s *Server) containerUpdate(r *http.Request) (any, error) {
	c, ct, err := s.container(r)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read request body: %v: %w", err, api.ErrInvalidArgument)
	}
	u, err := parseUpdate(body)
	if err != nil {
		return nil, err
	}
	if _, err := c.Update(ct.ID, u); err != nil {
		return nil, err
	}
	warnings := []string{}
	if (u.CPUs != nil || u.MemoryMiB != nil) && ct.State.Active() {
		warnings = append(warnings, "Berth gives a container's VM its memory and CPUs when it starts: the new ones apply from the next start")
	}
	return struct{ Warnings []string }{warnings}, nil
}

// parseUpdate reads docker's UpdateConfig. The docker CLI sends every
// resource field, zero when not asked for; a field Berth cannot apply is
// refused only when it asks for something.
func parseUpdate(body []byte) (api.ContainerUpdate, error) {
	var u api.ContainerUpdate
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return u, fmt.Errorf("decode request body: %v: %w", err, api.ErrInvalidArgument)
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var nanoCPUs, cpuCount int64
	for _, k := range keys {
		v := fields[k]
		var err error
		switch k {
		case "RestartPolicy":
			var p struct {
				Name              string
				MaximumRetryCount int
			}
			if err = json.Unmarshal(v, &p); err == nil && p.Name != "" {
				u.RestartPolicy = &api.RestartPolicy{Name: p.Name, MaximumRetryCount: p.MaximumRetryCount}
				if err := u.RestartPolicy.Validate(); err != nil {
					return u, err
				}
			}
		case "Memory":
			var n int64
			if err = json.Unmarshal(v, &n); err == nil && n != 0 {
				if n < 0 {
					return u, fmt.Errorf("memory %d: must be positive: %w", n, api.ErrInvalidArgument)
				}
				m := int(ceilDiv(n, mib))
				u.MemoryMiB = &m
			}
		case "NanoCpus":
			err = json.Unmarshal(v, &nanoCPUs)
		case "CpuCount":
			err = json.Unmarshal(v, &cpuCount)
		default:
			if !zeroJSON(v) {
				return u, fmt.Errorf("%s cannot be updated on a Berth container (a VM, not a cgroup): docker update can change its --restart, --memory and --cpus: %w",
					k, api.ErrInvalidArgument)
			}
		}
		if err != nil {
			return u, fmt.Errorf("%s: %v: %w", k, err, api.ErrInvalidArgument)
		}
	}
	switch {
	case nanoCPUs < 0 || cpuCount < 0:
		return u, fmt.Errorf("CPUs %d: must be positive: %w", max(nanoCPUs, cpuCount), api.ErrInvalidArgument)
	case nanoCPUs > 0 && cpuCount > 0:
		return u, fmt.Errorf("NanoCpus and CpuCount both ask for CPUs: give one: %w", api.ErrInvalidArgument)
	case nanoCPUs > 0:
		// A VM has whole vCPUs: 1.5 rounds up to 2, as on create.
		n := int(ceilDiv(nanoCPUs, 1e9))
		u.CPUs = &n
	case cpuCount > 0:
		n := int(cpuCount)
		u.CPUs = &n
	}
	return u, nil
}

// zeroJSON reports whether v is JSON's null, zero, "", false, [] or {}.
func zeroJSON(v json.RawMessage) bool {
	var x any
	if json.Unmarshal(v, &x) != nil {
		return false
	}
	switch x := x.(type) {
	case nil:
		return true
	case float64:
		return x == 0
	case string:
		return x == ""
	case bool:
		return !x
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// containerPrune removes the stopped containers docker's filters take:
// until (created before), label and label!.
func (s *Server) containerPrune(r *http.Request) (any, error) {
	c, err := s.containers()
	if err != nil {
		return nil, err
	}
	f, err := parseFilters(r.URL.Query().Get("filters"), "until", "label", "label!")
	if err != nil {
		return nil, err
	}
	match, err := pruneMatch(f, time.Now())
	if err != nil {
		return nil, err
	}
	removed, err := c.Prune(r.Context(), match)
	if err != nil {
		return nil, err
	}
	if removed == nil {
		removed = []string{}
	}
	// Berth does not measure what a removal frees (nor does volume prune).
	return struct {
		ContainersDeleted []string
		SpaceReclaimed    uint64
	}{removed, 0}, nil
}

// pruneMatch is docker's prune filter as a predicate: created before
// until, with every label, and without all of the label! ones.
func pruneMatch(f filters, now time.Time) (func(api.Container) bool, error) {
	var until time.Time
	for _, v := range f["until"] {
		t, err := parseTimestamp(v, now)
		if err != nil {
			return nil, err
		}
		if until.IsZero() || t.Before(until) {
			until = t
		}
	}
	return func(ct api.Container) bool {
		if !until.IsZero() && !ct.Created.Before(until) {
			return false
		}
		return labelsMatch(f, ct.Spec.Labels)
	}, nil
}

// container is the runtime and the container {id} names, or docker's
// not-found error.
func (s *Server) container(r *http.Request) (Containers, api.Container, error) {
	c, err := s.containers()
	if err != nil {
		return nil, api.Container{}, err
	}
	ct, err := c.Inspect(r.PathValue("id"))
	if err != nil {
		return nil, api.Container{}, noSuchContainer(r.PathValue("id"), err)
	}
	return c, ct, nil
}

// notRunning is docker's refusal of what needs a running (or paused)
// container.
func notRunning(ct api.Container) error {
	switch ct.State {
	case api.StateRunning, api.StatePaused, api.StateStopping:
		return nil
	case api.StateRestarting:
		return api.Exactly(api.ErrConflict, "Container %s is restarting, wait until the container is running", ct.ID)
	}
	return api.Exactly(api.ErrConflict, "Container %s is not running", ct.ID)
}
