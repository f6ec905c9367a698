package dockerapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/dockerapi/types"
	"github.com/berthvm/berth/core/units"
)

// containerSummary is one row of docker's GET /containers/json.
type containerSummary struct {
	ID         string `json:"Id"`
	Names      []string
	Image      string
	ImageID    string
	Command    string
	Created    int64
	Ports      []portSummary
	Labels     map[string]string
	State      string
	Status     string
	HostConfig struct{ NetworkMode string }
	Mounts     []types.MountPoint
}

type portSummary struct {
	IP          string `json:",omitempty"`
	PrivatePort int
	PublicPort  int `json:",omitempty"`
	Type        string
}

func (s *Server) containerList(r *http.Request) (any, error) {
	c, err := s.containers()
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	all := queryBool(q, "all")
	limit := 0
	if l := q.Get("limit"); l != "" {
		if limit, err = strconv.Atoi(l); err != nil {
			return nil, fmt.Errorf("limit %q: want a number: %w", l, api.ErrInvalidArgument)
		}
	}
	f, err := parseFilters(q.Get("filters"), "status", "name", "label", "id")
	if err != nil {
		return nil, err
	}
	// As docker: a status filter or a limit looks at every container.
	list, err := c.List(all || limit > 0 || len(f["status"]) > 0)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].Created.After(list[j].Created) })
	out := []containerSummary{}
	now := time.Now()
	for _, ct := range list {
		ok, err := f.match(ct)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		out = append(out, summary(ct, s.imageConfig(r, ct), now))
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return out, nil
}

// imageConfig is ct's image's detail, or the zero value if it is gone.
func (s *Server) imageConfig(r *http.Request, ct api.Container) api.ImageDetail {
	if s.cfg.Images == nil {
		return api.ImageDetail{}
	}
	d, err := s.cfg.Images.Inspect(r.Context(), ct.ImageID)
	if err != nil {
		return api.ImageDetail{}
	}
	return d
}

func summary(ct api.Container, img api.ImageDetail, now time.Time) containerSummary {
	j := types.Container(ct, img)
	cmd := strings.Join(append(append([]string{}, j.Config.Entrypoint...), j.Config.Cmd...), " ")
	out := containerSummary{
		ID: ct.ID, Names: []string{"/" + ct.Name}, Image: types.FamiliarName(ct.Image), ImageID: j.Image,
		Command: cmd, Created: ct.Created.Unix(), Ports: []portSummary{}, Labels: j.Config.Labels,
		State: j.State.Status, Status: statusText(ct, now), Mounts: j.Mounts,
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if out.Mounts == nil {
		out.Mounts = []types.MountPoint{}
	}
	out.HostConfig.NetworkMode = j.HostConfig.NetworkMode
	for _, p := range ct.Ports {
		out.Ports = append(out.Ports, portSummary{IP: p.HostIP, PrivatePort: p.ContainerPort, PublicPort: p.HostPort, Type: p.Proto})
	}
	return out
}

// statusText is docker ps's STATUS column.
func statusText(ct api.Container, now time.Time) string {
	switch ct.State {
	case api.StateRunning, api.StateStopping:
		return "Up " + units.Duration(now.Sub(ct.Started))
	case api.StatePaused:
		return "Up " + units.Duration(now.Sub(ct.Started)) + " (Paused)"
	case api.StateRestarting:
		return fmt.Sprintf("Restarting (%d) %s ago", ct.ExitCode, units.Duration(now.Sub(ct.Finished)))
	case api.StateExited:
		return fmt.Sprintf("Exited (%d) %s ago", ct.ExitCode, units.Duration(now.Sub(ct.Finished)))
	case api.StateDead:
		return "Dead"
	}
	return "Created"
}

// filters are docker's ?filters=: a field to the values any of which
// must match.
type filters map[string][]string

// parseFilters reads both of docker's encodings: {"status":{"running":true}}
// and the older {"status":["running"]}; keys outside allowed are refused.
func parseFilters(raw string, allowed ...string) (filters, error) {
	f := filters{}
	if raw == "" {
		return f, nil
	}
	var byMap map[string]map[string]bool
	if err := json.Unmarshal([]byte(raw), &byMap); err == nil {
		for k, vs := range byMap {
			for v, on := range vs {
				if on {
					f[k] = append(f[k], v)
				}
			}
		}
	} else if err := json.Unmarshal([]byte(raw), (*map[string][]string)(&f)); err != nil {
		return nil, fmt.Errorf("filters %q: %v: %w", raw, err, api.ErrInvalidArgument)
	}
	for k, vs := range f {
		if !slices.Contains(allowed, k) {
			return nil, api.Exactly(api.ErrInvalidArgument, "invalid filter '%s'", k)
		}
		sort.Strings(vs)
	}
	return f, nil
}

var dockerStatuses = map[string]bool{"created": true, "restarting": true, "running": true, "removing": true,
	"paused": true, "exited": true, "dead": true}

// match reports whether ct passes every field: each field needs one of
// its values to match (labels need all).
func (f filters) match(ct api.Container) (bool, error) {
	for k, vs := range f {
		ok := k == "label"
		for _, v := range vs {
			var m bool
			switch k {
			case "status":
				if !dockerStatuses[v] {
					return false, api.Exactly(api.ErrInvalidArgument, "invalid filter 'status=%s'", v)
				}
				m = types.DockerStatus(ct.State) == v
			case "id":
				m = strings.HasPrefix(ct.ID, v)
			case "name":
				// docker matches names as regular expressions, on "/name".
				re, err := regexp.Compile(v)
				if err != nil {
					return false, fmt.Errorf("name filter %q: %v: %w", v, err, api.ErrInvalidArgument)
				}
				m = re.MatchString("/" + ct.Name)
			case "label":
				key, val, hasVal := strings.Cut(v, "=")
				got, has := ct.Spec.Labels[key]
				if !has || (hasVal && got != val) {
					ok = false
				}
				continue
			}
			ok = ok || m
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

func (s *Server) containerCreate(r *http.Request) (any, error) {
	c, err := s.containers()
	if err != nil {
		return nil, err
	}
	var req CreateRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	spec, err := req.Spec(r.URL.Query().Get("name"))
	if err != nil {
		return nil, err
	}
	ct, err := c.Create(r.Context(), spec)
	if err != nil {
		return nil, err
	}
	return struct {
		ID       string `json:"Id"`
		Warnings []string
	}{ct.ID, []string{}}, nil
}

func (s *Server) containerInspect(r *http.Request) (any, error) {
	c, err := s.containers()
	if err != nil {
		return nil, err
	}
	ct, err := c.Inspect(r.PathValue("id"))
	if err != nil {
		return nil, noSuchContainer(r.PathValue("id"), err)
	}
	return types.Container(ct, s.imageConfig(r, ct)), nil
}

func (s *Server) containerStart(r *http.Request) (any, error) {
	c, ct, err := s.container(r)
	if err != nil {
		return nil, err
	}
	switch {
	case ct.State == api.StatePaused:
		return nil, api.Exactly(api.ErrConflict, "cannot start a paused container, try unpause instead")
	case ct.State.Active() || ct.State == api.StateRestarting:
		return notModified{}, nil
	}
	_, err = c.Start(r.Context(), ct.ID, nil)
	return nil, noSuchContainer(r.PathValue("id"), err)
}

func (s *Server) containerStop(r *http.Request) (any, error) {
	timeout, err := stopTimeout(r.URL.Query().Get("t"))
	if err != nil {
		return nil, err
	}
	c, ct, err := s.container(r)
	if err != nil {
		return nil, err
	}
	if !ct.State.Active() && ct.State != api.StateRestarting {
		return notModified{}, nil
	}
	_, err = c.Stop(r.Context(), ct.ID, timeout, r.URL.Query().Get("signal"))
	return nil, noSuchContainer(r.PathValue("id"), err)
}

func (s *Server) containerRestart(r *http.Request) (any, error) {
	c, err := s.containers()
	if err != nil {
		return nil, err
	}
	timeout, err := stopTimeout(r.URL.Query().Get("t"))
	if err != nil {
		return nil, err
	}
	_, err = c.Restart(r.Context(), r.PathValue("id"), timeout, nil)
	return nil, noSuchContainer(r.PathValue("id"), err)
}

func (s *Server) containerKill(r *http.Request) (any, error) {
	c, err := s.containers()
	if err != nil {
		return nil, err
	}
	return nil, noSuchContainer(r.PathValue("id"), c.Kill(r.Context(), r.PathValue("id"), r.URL.Query().Get("signal")))
}

func (s *Server) containerResize(r *http.Request) (any, error) {
	c, err := s.containers()
	if err != nil {
		return nil, err
	}
	size, err := resizeQuery(r)
	if err != nil || size == nil {
		return nil, err
	}
	return nil, noSuchContainer(r.PathValue("id"), c.Resize(r.Context(), r.PathValue("id"), size.Rows, size.Cols))
}

// resizeQuery reads a resize request's h and w; nil for a terminal not
// sized yet (0x0), which there is nothing to do about.
func resizeQuery(r *http.Request) (*api.TermSize, error) {
	q := r.URL.Query()
	rows, err1 := strconv.ParseUint(q.Get("h"), 10, 16)
	cols, err2 := strconv.ParseUint(q.Get("w"), 10, 16)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("resize %sx%s: want rows and columns: %w", q.Get("h"), q.Get("w"), api.ErrInvalidArgument)
	}
	if rows == 0 || cols == 0 {
		return nil, nil
	}
	return &api.TermSize{Rows: uint16(rows), Cols: uint16(cols)}, nil
}

func (s *Server) containerRemove(r *http.Request) (any, error) {
	c, err := s.containers()
	if err != nil {
		return nil, err
	}
	if queryBool(r.URL.Query(), "link") {
		return nil, fmt.Errorf("links are not supported by Berth: %w", api.ErrInvalidArgument)
	}
	opts := api.RemoveOptions{Force: queryBool(r.URL.Query(), "force"), Volumes: queryBool(r.URL.Query(), "v")}
	return nil, noSuchContainer(r.PathValue("id"), c.Remove(r.Context(), r.PathValue("id"), opts))
}

// noSuchContainer gives a not-found error docker's words, which scripts
// match on; other errors pass as they are.
func noSuchContainer(ref string, err error) error {
	if errors.Is(err, api.ErrNotFound) && !errors.Is(err, api.ErrCommandNotFound) {
		return api.Exactly(api.ErrNotFound, "No such container: %s", ref)
	}
	return err
}

// stopTimeout reads ?t=: whole seconds, -1 (wait forever) taken as a
// long time, 10 when absent.
func stopTimeout(t string) (time.Duration, error) {
	if t == "" {
		return 10 * time.Second, nil
	}
	n, err := strconv.Atoi(t)
	if err != nil || n < -1 {
		return 0, fmt.Errorf("stop timeout %q: want whole seconds: %w", t, api.ErrInvalidArgument)
	}
	if n == -1 {
		return 24 * time.Hour, nil
	}
	return time.Duration(n) * time.Second, nil
}

// queryBool is docker's reading of a boolean parameter: "", "0", "no",
// "false" and "none" are false, anything else true.
func queryBool(q url.Values, k string) bool {
	switch strings.ToLower(q.Get(k)) {
	case "", "0", "no", "false", "none":
		return false
	}
	return true
}

// decode reads a JSON body; unknown fields are ignored (docker's CLI
// sends many Berth has no use for).
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode request body: %v: %w", err, api.ErrInvalidArgument)
	}
	return nil
}
