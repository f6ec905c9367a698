package daemon

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/berthvm/berth/core/api"
)

// volumeRoutes registers the volume endpoints. {name} is a volume's exact
// name (volumes have no ids). Volumes need no VM backend: they are served
// where containers are not.
func (d *Daemon) volumeRoutes() {
	// Query: docker's filter keys as parameters (dangling, name, label,
	// driver), each repeatable.
	d.route("GET /v1/volumes", func(r *http.Request) (any, error) { return d.volumes.List(r.Context(), r.URL.Query()) })
	d.route("POST /v1/volumes", func(r *http.Request) (any, error) {
		var req api.VolumeCreateRequest
		if err := decodeBody(r, &req); err != nil {
			return nil, err
		}
		return d.volumes.Create(r.Context(), req)
	})
	d.route("POST /v1/volumes/prune", func(r *http.Request) (any, error) {
		all, err := boolQuery(r, "all")
		if err != nil {
			return nil, err
		}
		return d.volumes.Prune(r.Context(), all)
	})
	d.route("GET /v1/volumes/{name}", func(r *http.Request) (any, error) {
		return d.volumes.Inspect(r.Context(), r.PathValue("name"))
	})
	d.route("DELETE /v1/volumes/{name}", func(r *http.Request) (any, error) {
		force, err := boolQuery(r, "force")
		if err != nil {
			return nil, err
		}
		return nil, d.volumes.Remove(r.Context(), r.PathValue("name"), force)
	})
}

// boolQuery reads a flag parameter: absent is false; 1, true, 0, false
// and the other strconv.ParseBool forms are taken.
func boolQuery(r *http.Request, key string) (bool, error) {
	v := r.URL.Query().Get(key)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("query parameter %s=%q: want 1 or 0: %w", key, v, api.ErrInvalidArgument)
	}
	return b, nil
}
