package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/berthvm/berth/core/api"
)

// Volumes lists the volumes that match filters (docker's keys: dangling,
// name, label, driver; nil: all), by name.
func (c *Client) Volumes(ctx context.Context, filters map[string][]string) ([]api.Volume, error) {
	var out []api.Volume
	err := c.do(ctx, http.MethodGet, "/v1/volumes", url.Values(filters), nil, &out)
	return out, err
}

// Volume inspects one volume by name.
func (c *Client) Volume(ctx context.Context, name string) (api.Volume, error) {
	var out api.Volume
	err := c.do(ctx, http.MethodGet, "/v1/volumes/"+url.PathEscape(name), nil, nil, &out)
	return out, err
}

// CreateVolume makes a volume, or returns the one of that name.
func (c *Client) CreateVolume(ctx context.Context, req api.VolumeCreateRequest) (api.Volume, error) {
	var out api.Volume
	err := c.do(ctx, http.MethodPost, "/v1/volumes", nil, req, &out)
	return out, err
}

// RemoveVolume removes a volume no container uses; force makes a missing
// volume no error (a volume in use is never removed).
func (c *Client) RemoveVolume(ctx context.Context, name string, force bool) error {
	return c.do(ctx, http.MethodDelete, "/v1/volumes/"+url.PathEscape(name), flag("force", force), nil, nil)
}

// PruneVolumes removes the anonymous volumes no container uses, or with
// all every unused volume, and names them.
func (c *Client) PruneVolumes(ctx context.Context, all bool) (api.VolumePruneReport, error) {
	var out api.VolumePruneReport
	err := c.do(ctx, http.MethodPost, "/v1/volumes/prune", flag("all", all), nil, &out)
	return out, err
}

// flag is a query of one set flag ("key=1"), or none.
func flag(key string, on bool) url.Values {
	if !on {
		return nil
	}
	return url.Values{key: {"1"}}
}
