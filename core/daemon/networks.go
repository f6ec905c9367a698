package daemon

import (
	"net/http"

	"github.com/berthvm/berth/core/api"
)

// networkRoutes registers the network endpoints. {id} is a network's
// name, id or unique id prefix.
func (d *Daemon) networkRoutes() {
	d.route("GET /v1/networks", func(r *http.Request) (any, error) { return d.networks.List(r.Context()) })
	d.route("POST /v1/networks", func(r *http.Request) (any, error) {
		var req api.NetworkCreateRequest
		if err := decodeBody(r, &req); err != nil {
			return nil, err
		}
		return d.networks.Create(r.Context(), req)
	})
	d.route("POST /v1/networks/prune", func(r *http.Request) (any, error) {
		removed, err := d.networks.Prune(r.Context())
		return api.NetworksPruned{Removed: append([]string{}, removed...)}, err
	})
	d.route("GET /v1/networks/{id}", func(r *http.Request) (any, error) { return d.networks.Inspect(r.Context(), r.PathValue("id")) })
	d.route("DELETE /v1/networks/{id}", func(r *http.Request) (any, error) {
		return nil, d.networks.Remove(r.Context(), r.PathValue("id"))
	})
	d.route("POST /v1/networks/{id}/connect", func(r *http.Request) (any, error) {
		var req api.NetworkConnectRequest
		if err := decodeBody(r, &req); err != nil {
			return nil, err
		}
		restart, err := d.networks.Connect(r.Context(), r.PathValue("id"), req.Container, req.Aliases)
		return api.NetworkConnectResult{Restart: restart}, err
	})
	d.route("POST /v1/networks/{id}/disconnect", func(r *http.Request) (any, error) {
		var req api.NetworkConnectRequest
		if err := decodeBody(r, &req); err != nil {
			return nil, err
		}
		restart, err := d.networks.Disconnect(r.Context(), r.PathValue("id"), req.Container)
		return api.NetworkConnectResult{Restart: restart}, err
	})
}
