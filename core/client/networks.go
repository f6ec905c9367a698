package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/berthvm/berth/core/api"
)

// Networks lists every network.
func (c *Client) Networks(ctx context.Context) ([]api.Network, error) {
	var out []api.Network
	err := c.do(ctx, http.MethodGet, "/v1/networks", nil, nil, &out)
	return out, err
}

// Network inspects one network by name, id or id prefix.
func (c *Client) Network(ctx context.Context, ref string) (api.Network, error) {
	var out api.Network
	err := c.do(ctx, http.MethodGet, "/v1/networks/"+url.PathEscape(ref), nil, nil, &out)
	return out, err
}

// CreateNetwork makes a network; an empty subnet picks a free one.
func (c *Client) CreateNetwork(ctx context.Context, req api.NetworkCreateRequest) (api.Network, error) {
	var out api.Network
	err := c.do(ctx, http.MethodPost, "/v1/networks", nil, req, &out)
	return out, err
}

// RemoveNetwork removes a network no container uses.
func (c *Client) RemoveNetwork(ctx context.Context, ref string) error {
	return c.do(ctx, http.MethodDelete, "/v1/networks/"+url.PathEscape(ref), nil, nil, nil)
}

// PruneNetworks removes every network no container uses but the default
// one, and names them.
func (c *Client) PruneNetworks(ctx context.Context) ([]string, error) {
	var out api.NetworksPruned
	err := c.do(ctx, http.MethodPost, "/v1/networks/prune", nil, nil, &out)
	return out.Removed, err
}

// ConnectNetwork attaches a container to a network; Restart says the
// container runs and joins the network at its next start.
func (c *Client) ConnectNetwork(ctx context.Context, network, container string) (api.NetworkConnectResult, error) {
	var out api.NetworkConnectResult
	err := c.do(ctx, http.MethodPost, "/v1/networks/"+url.PathEscape(network)+"/connect", nil,
		api.NetworkConnectRequest{Container: container}, &out)
	return out, err
}

// DisconnectNetwork detaches a container from a network, with Restart as
// for ConnectNetwork.
func (c *Client) DisconnectNetwork(ctx context.Context, network, container string) (api.NetworkConnectResult, error) {
	var out api.NetworkConnectResult
	err := c.do(ctx, http.MethodPost, "/v1/networks/"+url.PathEscape(network)+"/disconnect", nil,
		api.NetworkConnectRequest{Container: container}, &out)
	return out, err
}
